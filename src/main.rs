use clap::Parser;
use tessera::cli::{Cli, execute};
use tessera::config::{Config, LogFormat};
use tracing_subscriber::EnvFilter;

// Request handlers allocate and the writer thread frees (audit entries, batches): glibc's
// allocator serialises such cross-thread frees on an arena lock, mimalloc does not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(&cli.overrides()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("tessera: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    init_logging(config.log_format);
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    match execute(cli, config) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tessera: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Without `TESSERA_LOG`: tessera's own lines from info up, the migration runner's only
/// when something is wrong (its per-migration lines show with `TESSERA_LOG=debug`).
const DEFAULT_FILTER: &str = "info,refinery_core=warn,refinery=warn";

fn init_logging(format: LogFormat) {
    use std::io::IsTerminal;
    let filter = EnvFilter::try_from_env("TESSERA_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}
