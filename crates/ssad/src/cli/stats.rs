//! `ssad stats` subcommands.

use clap::Subcommand;

/// `ssad stats` subcommands.
#[derive(Subcommand, Debug)]
pub enum StatsCommand {}

/// Runs one `ssad stats` subcommand.
pub fn run(cmd: StatsCommand) -> anyhow::Result<()> {
    match cmd {}
}
