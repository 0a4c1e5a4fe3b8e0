//! Subcommand definitions and dispatch; each subcommand lives in its own file and only turns
//! flags into the library's options, calls the library and prints.

use clap::{Parser, Subcommand};

/// The detector engine of the binary: every detector is built and opened through it.
pub const FACTORY: ssad_torch::TorchFactory = ssad_torch::TorchFactory;

pub mod args;
pub mod augment;
pub mod bench;
pub mod data;
pub mod detect;
pub mod report;
pub mod select;
pub mod stats;
pub mod study;
pub mod train;
pub mod tune;

/// ssad: which augmentation should a self-supervised anomaly detector use, and does it help?
#[derive(Parser, Debug)]
#[command(name = "ssad", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// List, download, verify and look at datasets.
    #[command(subcommand)]
    Data(data::DataCommand),
    /// Look at augmentations (catalogue, preview grid) and write augmented images (.npy).
    #[command(subcommand)]
    Augment(augment::AugmentCommand),
    /// Metrics and paired statistics on CSV files, printed as JSON.
    #[command(subcommand)]
    Stats(stats::StatsCommand),
    /// Train one detector on one normal class.
    Train(train::TrainArgs),
    /// Score a dataset (or a folder of images) with a trained detector.
    Score(train::ScoreArgs),
    /// Run, resume, inspect and summarise a study (the grid of the paper and its variants).
    #[command(subcommand)]
    Study(study::StudyCommand),
    /// Benchmarks that print a table and write JSON.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Choose the augmentation without labelled anomalies (DSV-ssad; the published DSV and
    /// baselines beside it), on one task or a whole study.
    Select(select::SelectArgs),
    /// Train a detector on a folder of normal images (optionally calibrating a threshold).
    Fit(detect::FitArgs),
    /// Score images with a trained detector; write reconstructions and error maps as PNG.
    Detect(detect::DetectArgs),
    /// Write the study's report: index.html with figures (PNG + SVG) and tables (CSV).
    Report(report::ReportArgs),
    /// Train one self-tuned detector: its augmentation's parameters are tuned during the
    /// training, without labels (ST-SSAD).
    Tune(tune::TuneArgs),
}

/// Runs one parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Data(c) => data::run(c),
        Command::Augment(c) => augment::run(c),
        Command::Stats(c) => stats::run(c),
        Command::Train(a) => train::train(a),
        Command::Score(a) => train::score(a),
        Command::Study(c) => study::run(c),
        Command::Bench(c) => bench::run(c),
        Command::Report(a) => report::run(a),
        Command::Select(a) => select::run(a),
        Command::Fit(a) => detect::fit(a),
        Command::Detect(a) => detect::detect(a),
        Command::Tune(a) => tune::run(a),
    }
}
