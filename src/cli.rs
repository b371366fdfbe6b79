//! The command line: `init`, `serve`, `token create`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{Config, Overrides};
use crate::setup;

#[derive(Debug, Parser)]
#[command(
    name = "tessera",
    version,
    about = "Self-hosted integration hub for multi-tenant platforms"
)]
pub struct Cli {
    /// Data directory (default: the platform's data dir; env TESSERA_DATA_DIR).
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the data dir, database, master key and the first platform token.
    Init,
    /// Run the server (initialises the data dir first if needed).
    Serve {
        /// Address to listen on (default 127.0.0.1:7700).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Start with every outside effect held (job workers, outbound deliveries, token
        /// refreshes, emails) until `tessera resume` or POST /api/v1/platform/resume.
        #[arg(long)]
        paused: bool,
    },
    /// Hold every outside effect of the server on this data dir (it notices within a
    /// second): job workers, outbound deliveries, token refreshes, emails.
    Pause {
        /// Why, for whoever looks at the pause later.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Release what `pause` (or `serve --paused`) holds.
    Resume,
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Benchmarks (throw-away server in a temp dir; loopback only).
    Bench {
        #[command(subcommand)]
        command: crate::bench::BenchCommand,
    },
    /// Add a master key version and re-wrap every data key under it (safe while serving;
    /// run it again to finish an interrupted rotation).
    RotateKey {
        /// Pause between rows in milliseconds, to go easy on a busy server.
        #[arg(long, default_value_t = 0)]
        throttle_ms: u64,
        /// Only add the new version to the key file (or print the new
        /// TESSERA_MASTER_KEY); copy it to every node, then run rotate-key again to re-wrap.
        #[arg(long)]
        stage: bool,
    },
    /// Master key versions.
    Keys {
        #[command(subcommand)]
        command: crate::ops::cli::KeysCommand,
    },
    /// Write a consistent copy of the database to FILE (safe while serving).
    Backup {
        /// Where to write the copy; must not exist.
        file: PathBuf,
    },
    /// Copy everything in this data dir's SQLite database into an empty PostgreSQL
    /// database (sealed values as they are; stop the server first).
    MigrateStore {
        /// The target, `postgres://user@host:port/database` (env TESSERA_DATABASE_URL).
        #[arg(long, env = "TESSERA_DATABASE_URL")]
        to: String,
        /// A file holding the database password, instead of one in the URL (env
        /// TESSERA_DATABASE_PASSWORD_FILE).
        #[arg(long, env = "TESSERA_DATABASE_PASSWORD_FILE")]
        password_file: Option<PathBuf>,
    },
    /// Run an offline demo: a demo tenant and a built-in sandbox provider under /sandbox
    /// (data in <data dir>/demo).
    Demo {
        /// Address to listen on (default 127.0.0.1:7700).
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Manage people who sign in to the admin UI.
    User {
        #[command(subcommand)]
        command: crate::users::cli::UserCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it once.
    Create(TokenCreate),
}

#[derive(Debug, Args)]
pub struct TokenCreate {
    /// A platform (operator) token; tenant tokens are created through the API.
    #[arg(long)]
    pub platform: bool,
    #[arg(long)]
    pub name: String,
}

impl Cli {
    pub fn overrides(&self) -> Overrides {
        let listen = match &self.command {
            Command::Serve { listen, .. } => *listen,
            _ => None,
        };
        Overrides {
            data_dir: self.data_dir.clone(),
            listen,
        }
    }
}

/// Runs a parsed command. Returns the process exit code.
pub fn execute(cli: Cli, config: Config) -> anyhow::Result<()> {
    match cli.command {
        Command::Init => {
            let report = setup::initialise(&config)?;
            println!(
                "{}",
                serde_json::json!({
                    "admin_token": report.admin_token.expose(),
                    "data_dir": report.data_dir.display().to_string(),
                })
            );
            Ok(())
        }
        Command::Serve { paused, .. } => {
            let mut config = config;
            config.paused |= paused;
            serve(config)
        }
        Command::Pause { reason } => set_paused(&config, true, reason.as_deref()),
        Command::Resume => set_paused(&config, false, None),
        Command::Token {
            command: TokenCommand::Create(args),
        } => {
            if !args.platform {
                anyhow::bail!("only platform tokens are created here (--platform); create tenant tokens with the API");
            }
            let name = args.name.trim();
            if name.is_empty() {
                anyhow::bail!("--name must not be empty");
            }
            let (store, _vault) = setup::open(&config)?;
            let token = setup::create_platform_token(&store, name)?;
            println!("{}", token.expose());
            Ok(())
        }
        Command::Bench { command } => crate::bench::execute(command),
        Command::RotateKey { throttle_ms, stage } => {
            crate::ops::cli::rotate_key(&config, std::time::Duration::from_millis(throttle_ms), stage)
        }
        Command::Keys {
            command: crate::ops::cli::KeysCommand::Status,
        } => crate::ops::cli::keys_status(&config),
        Command::Backup { file } => crate::ops::cli::backup(&config, &file),
        Command::MigrateStore { to, password_file } => {
            crate::ops::cli::migrate_store(&config, to, password_file.as_deref())
        }
        Command::Demo { listen } => crate::demo::cli::run(config, listen),
        Command::User { command } => crate::users::cli::execute(command, &config),
    }
}

fn serve(config: Config) -> anyhow::Result<()> {
    if !setup::is_initialised(&config)? {
        match setup::initialise(&config) {
            Ok(report) => eprintln!(
                "tessera: initialised {}\ntessera: first platform admin token (shown once, keep it safe):\n{}",
                report.data_dir.display(),
                report.admin_token.expose()
            ),
            // Another node sharing the database initialised it first.
            Err(setup::SetupError::AlreadyInitialised(_)) if config.database_url.is_some() => {}
            Err(e) => return Err(e.into()),
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let mut config = config;
        // The port is bound (not yet listened on) first, so that `--listen 127.0.0.1:0`
        // has its real port in the config; the data dir and the master key are checked
        // before anything listens: a start that is going to fail never listens (or says
        // it does).
        let socket = if config.listen.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        #[cfg(unix)]
        socket.set_reuseaddr(true)?;
        socket.bind(config.listen)?;
        config.listen = socket.local_addr()?;
        let (listen, public_url) = (config.listen, config.public_url());
        let opened = crate::app::Opened::open(config, crate::time::Clock::system()).await?;
        let listener = socket.listen(1024)?;
        eprintln!("tessera: listening on http://{listen} (public URL {public_url})");
        opened.serve(listener, shutdown_signal()).await
    })
}

/// `tessera pause` / `tessera resume`: the stored state a running server watches.
fn set_paused(config: &Config, paused: bool, reason: Option<&str>) -> anyhow::Result<()> {
    let (store, _vault) = setup::open(config)?;
    let now = crate::time::format_rfc3339(crate::time::now());
    let state = store.write(|tx| {
        let state = crate::pause::write_state(tx, paused, "cli", reason, &now)?;
        let action = if paused { "platform.paused" } else { "platform.resumed" };
        let entry = crate::audit::AuditEntry::new(None, "cli", action, None, &Default::default())
            .with_detail(serde_json::json!({"reason": reason}));
        crate::audit::record(tx, &entry)?;
        Ok::<_, crate::store::StoreError>(state)
    })?;
    println!("{}", serde_json::to_string(&state)?);
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
