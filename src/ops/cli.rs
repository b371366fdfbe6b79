//! The operator commands' command-line side: output and the progress bar.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use clap::Subcommand;

use crate::config::Config;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Show master key versions, how many data keys each wraps, and what is retired.
    Status,
}

/// Draws `done/total` on stderr: a bar on a terminal, one line per step otherwise.
fn progress_printer() -> impl FnMut(usize, usize) {
    let terminal = std::io::stderr().is_terminal();
    move |done, total| {
        let mut err = std::io::stderr().lock();
        if terminal {
            let width = 30;
            let filled = (done * width).checked_div(total).unwrap_or(width);
            let _ = write!(
                err,
                "\rre-wrapping data keys [{}{}] {done}/{total}",
                "#".repeat(filled),
                " ".repeat(width - filled)
            );
            if done == total {
                let _ = writeln!(err);
            }
        } else {
            let _ = writeln!(err, "rotate-key: {done}/{total} data keys re-wrapped");
        }
    }
}

pub fn rotate_key(config: &Config, throttle: Duration, stage: bool) -> anyhow::Result<()> {
    let report = if stage {
        let report = crate::ops::keys::stage(config)?;
        if matches!(report.new_key, crate::ops::keys::NewKey::Waiting) {
            eprintln!(
                "tessera: key version {} is already staged (or a rotation was interrupted): nothing added; \
                 run `tessera rotate-key` to re-wrap under it.",
                report.active_version
            );
        } else {
            eprintln!(
                "tessera: key version {} is staged, nothing is wrapped under it yet. Give every node the new \
                 key file (or TESSERA_MASTER_KEY value), then run `tessera rotate-key` to re-wrap.",
                report.active_version
            );
        }
        report
    } else {
        let mut print = progress_printer();
        crate::ops::keys::rotate(config, |done, total| {
            print(done, total);
            if !throttle.is_zero() {
                std::thread::sleep(throttle);
            }
        })?
    };
    if let Some(value) = &report.environment_value {
        eprintln!(
            "tessera: the master key comes from TESSERA_MASTER_KEY. Set it to the value below before the next \
             start (it keeps the older versions until they are retired), then store it where you keep secrets:"
        );
        println!("TESSERA_MASTER_KEY={}", value.expose());
    }
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

pub fn keys_status(config: &Config) -> anyhow::Result<()> {
    let status = crate::ops::keys::status(config)?;
    println!("{}", serde_json::to_string_pretty(&status)?);
    Ok(())
}

pub fn backup(config: &Config, file: &Path) -> anyhow::Result<()> {
    if config.database_url.is_some() {
        anyhow::bail!(
            "this deployment keeps its data in PostgreSQL: back it up with PostgreSQL's tools \
             (`pg_dump --format=custom`, or base backups with WAL archiving); the dump holds sealed \
             values only, so keep the master key file (all versions) with it and apart from it"
        );
    }
    let report = crate::ops::backup::backup(&config.database_path(), file)?;
    // The backup is good either way; only the operator's "last backup" would be stale.
    if let Err(e) = crate::ops::backup::record(&config.database_path(), &report) {
        eprintln!("tessera: warning: {e}");
    }
    println!("{}", serde_json::to_string(&report)?);
    eprintln!(
        "tessera: backup written. It holds sealed secrets: restore it together with the master key \
         file (all versions), and keep the two apart."
    );
    Ok(())
}

pub fn migrate_store(config: &Config, to: String, password_file: Option<&Path>) -> anyhow::Result<()> {
    let password = match password_file {
        Some(file) => Some(crate::store::postgres::read_password_file(file)?),
        None => None,
    };
    let target = crate::store::postgres::PgSettings {
        url: to,
        password,
        pool_size: 2,
        ca_file: config.database_ca_file.clone(),
    };
    let report = crate::ops::migrate_store::migrate_store(&config.database_path(), &target)?;
    eprintln!(
        "tessera: copied {} rows into {}; point every node at it with TESSERA_DATABASE_URL and the same master key",
        report.rows, report.target
    );
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}
