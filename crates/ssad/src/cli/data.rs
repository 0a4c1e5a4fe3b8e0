//! `ssad data` subcommands.

use clap::Subcommand;

/// `ssad data` subcommands.
#[derive(Subcommand, Debug)]
pub enum DataCommand {}

/// Runs one `ssad data` subcommand.
pub fn run(cmd: DataCommand) -> anyhow::Result<()> {
    match cmd {}
}
