//! `ssad augment` subcommands.

use clap::Subcommand;

/// `ssad augment` subcommands.
#[derive(Subcommand, Debug)]
pub enum AugmentCommand {}

/// Runs one `ssad augment` subcommand.
pub fn run(cmd: AugmentCommand) -> anyhow::Result<()> {
    match cmd {}
}
