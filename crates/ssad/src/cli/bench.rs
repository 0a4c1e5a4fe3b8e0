//! `ssad bench` subcommands: speed benchmarks that print a table and write JSON.

use clap::Subcommand;

/// `ssad bench` subcommands.
#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Images per second of each augmentation on a batch of 1024 32x32 images.
    Augment(super::augment::BenchArgs),
    /// Images per second of a ConvAE training step and of scoring.
    Train(super::train::BenchArgs),
}

/// Runs one `ssad bench` subcommand.
pub fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Augment(a) => super::augment::bench(a),
        BenchCommand::Train(a) => super::train::bench(a),
    }
}
