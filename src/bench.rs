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
}

pub fn execute(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Token(command) => crate::oauth::bench::execute(command),
        BenchCommand::Ingest(crate::inbound::bench::BenchCommand::Ingest(args)) => crate::inbound::bench::run(&args),
        BenchCommand::Deliveries(command) => crate::outbound::bench::execute(command),
    }
}
