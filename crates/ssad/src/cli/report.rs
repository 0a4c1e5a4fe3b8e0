//! `ssad report`: the study's static report page with figures and tables.

use super::data::DataDirArg;
use clap::Args;
use ssad::report::{self, ReportOptions};
use std::path::PathBuf;

/// Arguments of `ssad report`.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Study folder (made by `ssad study run`).
    pub dir: PathBuf,
    /// Report folder: index.html, figures/ (PNG + SVG), tables/ (CSV) [default: DIR/report].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Task of the figures made from saved models, as DATASET:CLASS [default: the study's
    /// first dataset and normal class].
    #[arg(long)]
    pub task: Option<String>,
    /// Seed of that task [default: the study's first].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Anomalies of those figures: controlled (the study's generators) or wild (other
    /// classes) [default: controlled when the study has it].
    #[arg(long)]
    pub testbed: Option<ssad::testbed::TestbedName>,
    /// DAE to show next to the vanilla AE (repeatable) [default: the augmentations that match
    /// the controlled generators, else the best one].
    #[arg(long)]
    pub dae: Vec<String>,
    /// Images per group in the error histograms.
    #[arg(long, default_value_t = 600)]
    pub hist_images: usize,
    /// Points per group in the t-SNE maps.
    #[arg(long, default_value_t = 250)]
    pub tsne_points: usize,
    #[command(flatten)]
    pub engine: super::args::EngineArgs,
    /// No notes on stderr (the written page is still printed).
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub data: DataDirArg,
}

/// Runs `ssad report`.
pub fn run(a: ReportArgs) -> anyhow::Result<()> {
    a.engine.apply();
    let mut opts = ReportOptions::new(a.data.resolve());
    opts.device = a.engine.device;
    opts.task = a.task.as_deref().map(report::parse_task).transpose()?;
    opts.seed = a.seed;
    opts.testbed = a.testbed;
    opts.dae = a.dae;
    opts.settings.hist_per_group = a.hist_images.max(1);
    opts.settings.tsne_per_group = a.tsne_points.max(2);
    let out = a.out.unwrap_or_else(|| a.dir.join("report"));
    ssad::study::store::check_output_path(&out)?;
    let started = std::time::Instant::now();
    let o = report::build_report(&a.dir, &out, &opts, &super::FACTORY)?;
    for n in o.notes.iter().filter(|_| !a.quiet) {
        eprintln!("note: {n}");
    }
    println!(
        "wrote {} ({} figures, {} tables) in {:.1} s",
        o.index.display(),
        o.figures.len(),
        o.tables.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
