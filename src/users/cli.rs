//! `tessera user create --email E --password-stdin [--platform-admin | --tenant T]`.

use std::io::Read;

use clap::{Args, Subcommand};
use zeroize::Zeroizing;

use super::{NewUser, Role, create_user, delete_user, set_password};
use crate::config::Config;
use crate::setup;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user who can sign in to the admin UI (password read from stdin).
    Create(UserCreate),
    /// Set a new password (read from stdin) and end the user's sessions.
    SetPassword(UserPassword),
    /// Delete a user and end their sessions.
    Delete(UserDelete),
}

#[derive(Debug, Args)]
pub struct UserPassword {
    #[arg(long)]
    pub email: String,
    /// Read the new password from standard input (first line).
    #[arg(long, required = true)]
    pub password_stdin: bool,
}

#[derive(Debug, Args)]
pub struct UserDelete {
    #[arg(long)]
    pub email: String,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("role").required(true).args(["platform_admin", "tenant"]))]
pub struct UserCreate {
    #[arg(long)]
    pub email: String,
    /// Read the password from standard input (first line), so it stays out of shell history.
    #[arg(long, required = true)]
    pub password_stdin: bool,
    /// The operator: every tenant, platform settings.
    #[arg(long)]
    pub platform_admin: bool,
    /// Administrator of one tenant (its id or slug).
    #[arg(long, value_name = "TENANT")]
    pub tenant: Option<String>,
}

fn read_password() -> anyhow::Result<Zeroizing<String>> {
    let mut input = Zeroizing::new(String::new());
    std::io::stdin().read_to_string(&mut input)?;
    let password = Zeroizing::new(input.lines().next().unwrap_or("").to_owned());
    if password.is_empty() {
        anyhow::bail!("no password on stdin: pipe it in, e.g. `printf '%s\\n' \"$PASS\" | tessera user ...`");
    }
    Ok(password)
}

pub fn execute(command: UserCommand, config: &Config) -> anyhow::Result<()> {
    let args = match command {
        UserCommand::Create(args) => args,
        UserCommand::SetPassword(args) => {
            let password = read_password()?;
            let (store, _vault) = setup::open(config)?;
            let ended = store.write(|tx| set_password(tx, &args.email, &password))?;
            eprintln!("tessera: password changed; {ended} session(s) ended");
            return Ok(());
        }
        UserCommand::Delete(args) => {
            let (store, _vault) = setup::open(config)?;
            store.write(|tx| delete_user(tx, &args.email))?;
            eprintln!("tessera: user deleted; their sessions are ended");
            return Ok(());
        }
    };
    let password = read_password()?;
    let (store, _vault) = setup::open(config)?;
    let user = store.write(|tx| {
        create_user(
            tx,
            &NewUser {
                email: &args.email,
                password: &password,
                tenant: if args.platform_admin {
                    None
                } else {
                    args.tenant.as_deref()
                },
            },
        )
    })?;
    println!(
        "{}",
        serde_json::json!({
            "id": user.id,
            "email": user.email,
            "role": user.role,
            "tenant_id": user.tenant_id,
        })
    );
    if user.role == Role::PlatformAdmin {
        eprintln!(
            "tessera: {} can now sign in at {} as platform admin",
            user.email,
            config.public_url()
        );
    } else {
        eprintln!("tessera: {} can now sign in at {}", user.email, config.public_url());
    }
    Ok(())
}
