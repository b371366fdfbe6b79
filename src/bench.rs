//! `tessera bench ...`: the load generators of each area under one command. Each runs a
//! throw-away server in a temp dir and measures against a baseline in the same run.

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    #[command(flatten)]
    Token(crate::oauth::bench::BenchCommand),
    #[command(flatten)]
    Ingest(crate::inbound::bench::BenchCommand),
    #[command(flatten)]
    Deliveries(crate::outbound::bench::BenchCommand),
    /// The bare axum server `bench ingest` compares `/healthz` with (it starts it).
    #[command(hide = true)]
    Bare {
        #[arg(long)]
        listen: std::net::SocketAddr,
    },
}

pub fn execute(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Token(command) => crate::oauth::bench::execute(command),
        BenchCommand::Ingest(crate::inbound::bench::BenchCommand::Ingest(args)) => crate::inbound::bench::run(&args),
        BenchCommand::Deliveries(command) => crate::outbound::bench::execute(command),
        BenchCommand::Bare { listen } => serve_bare(listen),
    }
}

/// `tessera bench bare`: axum with nothing around the route, answering `GET /healthz`
/// with tessera's handler on the same kind of runtime as `tessera serve` — the request
/// path's ceiling on this machine.
fn serve_bare(listen: std::net::SocketAddr) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        eprintln!("bare server listening on http://{}", listener.local_addr()?);
        let app = axum::Router::new().route("/healthz", axum::routing::get(crate::health::healthz));
        axum::serve(listener, app).await?;
        anyhow::Ok(())
    })
}
