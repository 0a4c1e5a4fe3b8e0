//! `ssad bench` subcommands: speed benchmarks that print a table and write JSON.

use clap::Subcommand;

/// `ssad bench` subcommands.
#[derive(Subcommand, Debug)]
pub enum BenchCommand {}

/// Runs one `ssad bench` subcommand.
pub fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {}
}
