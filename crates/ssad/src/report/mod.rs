//! `ssad report`: turns a study folder into a static page (`index.html`) with PNG and SVG
//! figures and CSV tables (METHOD.md section 6), so a person learns the study's answer
//! without reading logs.
//!
//! Figures: forest plots of relative AUC per augmentation (one per controlled generator and
//! one for in-the-wild anomalies), parameter sweeps, and, from the saved models of one task,
//! reconstructions, reconstruction-error histograms and t-SNE maps of embeddings. Tables: mean
//! AUC per dataset x augmentation, relative-AUC statistics and run timings. All statistics
//! come from [`crate::study::summarize`].
//!
//! Here: [`build_report`], its options and outcome, the context the sections read (`Ctx`)
//! and the page they add to (`Page`). Sections: `sections/`, one file each; figure kinds:
//! [`figures`]; tables: [`table`]; the only module that loads models: [`models`].

pub mod choose;
pub mod figures;
pub mod html;
pub mod models;
mod sections;
pub mod table;
pub mod tsne;

use crate::study::summary::StudySummary;
use crate::study::{result_rows, summarize, NormalClass, RunRecord, StudyConfig, StudyDir};
use crate::testbed::TestbedName;
use anyhow::Context;
use html::{figure, Section};
use ssad_core::data::DatasetName;
use std::path::{Path, PathBuf};
use table::Table;

pub use choose::{choose_task, default_daes, parse_task, TaskChoice};
pub use models::TaskSettings;
pub use sections::sweeps::{sweep_families, SweepFamily};

/// Options of [`build_report`].
#[derive(Clone, Debug)]
pub struct ReportOptions {
    /// Where the datasets live (figures 3-5 rebuild the task's test images).
    pub data_dir: PathBuf,
    /// Task of figures 3-5 (default: the study's first dataset and normal class).
    pub task: Option<(DatasetName, NormalClass)>,
    /// Seed of that task (default: the study's first).
    pub seed: Option<u64>,
    /// `controlled` or `wild` (default: controlled when the study has it).
    pub testbed: Option<TestbedName>,
    /// DAEs to show next to the vanilla AE (default: the augmentations that match the
    /// controlled generators, else the best one).
    pub dae: Vec<String>,
    /// Sample sizes of figures 3-5.
    pub settings: TaskSettings,
    /// Device the saved models run on for figures 3-5.
    pub device: ssad_core::Device,
}

impl ReportOptions {
    /// Defaults with datasets in `data_dir`.
    pub fn new(data_dir: PathBuf) -> Self {
        Self {
            data_dir,
            task: None,
            seed: None,
            testbed: None,
            dae: Vec::new(),
            settings: TaskSettings::default(),
            device: ssad_core::Device::Cpu,
        }
    }
}

/// Kinds of figures in the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FigureKind {
    /// Forest plot of relative AUC.
    Forest,
    /// Parameter sweep.
    Sweep,
    /// Reconstruction grid.
    Reconstruction,
    /// Reconstruction-error histograms.
    Histogram,
    /// t-SNE maps.
    Tsne,
    /// Label-free selection: selected vs oracle AUC per task.
    Selection,
    /// Self-tuned augmentations: parameter trajectories and validation loss.
    Tuning,
}

/// One figure written by the report.
#[derive(Clone, Debug, PartialEq)]
pub struct FigureInfo {
    /// Kind.
    pub kind: FigureKind,
    /// File stem and HTML anchor.
    pub id: String,
    /// PNG, relative to the report folder.
    pub png: String,
    /// SVG, relative to the report folder.
    pub svg: Option<String>,
}

/// What [`build_report`] wrote.
#[derive(Clone, Debug)]
pub struct ReportOutcome {
    /// The page.
    pub index: PathBuf,
    /// Figures, in page order.
    pub figures: Vec<FigureInfo>,
    /// CSV files of the tables.
    pub tables: Vec<PathBuf>,
    /// Things the page says are missing, and why.
    pub notes: Vec<String>,
}

/// Builds the report of the study in `study_root` into `out` (created if missing).
/// The figures of one task (reconstructions, histograms, t-SNE) load the study's saved
/// models through `factory`.
pub fn build_report(
    study_root: &Path,
    out: &Path,
    opts: &ReportOptions,
    factory: &dyn ssad_core::DetectorFactory,
) -> anyhow::Result<ReportOutcome> {
    let study = StudyDir::open(study_root)?;
    let cfg = study.config()?;
    let status = crate::study::status(&study)?;
    let set = study.record_set()?;
    let n_all = set.current.len() + set.left_out.len();
    let records: Vec<RunRecord> = set.current;
    anyhow::ensure!(
        !records.is_empty(),
        "{} has no finished runs of its current config yet: run `ssad study run` first",
        study_root.display()
    );
    let rows = result_rows(&cfg, &records);
    let summary = summarize(&rows)?;
    let fig_dir = out.join("figures");
    let tab_dir = out.join("tables");
    for d in [&fig_dir, &tab_dir] {
        std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
    }
    let expanded = cfg.expanded_augs()?;
    let families = sweep_families(&cfg)?;
    let (sweep_members, main_augs) = sections::sweeps::members_and_main(&cfg, &expanded, &families);
    let slices = sections::slices(&cfg, &rows);
    let datasets_text = Vec::from_iter(cfg.datasets.iter().map(|d| d.to_string())).join(", ");

    let c = Ctx {
        study_root,
        opts,
        factory,
        study,
        cfg,
        status,
        n_all,
        records,
        rows,
        summary,
        fig_dir,
        tab_dir,
        expanded,
        families,
        sweep_members,
        main_augs,
        slices,
        datasets_text,
    };
    let mut page = Page {
        out: out.to_path_buf(),
        ..Page::default()
    };
    sections::answer::section_answer(&c, &mut page)?;
    sections::forest::section_forest(&c, &mut page)?;
    sections::sweeps::section_sweeps(&c, &mut page)?;
    sections::model_figures::section_model_figures(&c, &mut page)?;
    sections::pixels::section_pixels(&c, &mut page)?;
    sections::selection::section_selection(&c, &mut page)?;
    sections::tuning::section_tuning(&c, &mut page)?;
    sections::tables::section_tables(&c, &mut page)?;

    let index = html::write_page(
        out,
        study_root,
        &c.cfg.name,
        c.records.len(),
        &page.sections,
    )?;
    Ok(ReportOutcome {
        index,
        figures: page.figs,
        tables: page.tables,
        notes: page.notes,
    })
}

/// Everything the report's sections read: the study, its record set and summary, and the
/// figure and table folders.
struct Ctx<'a> {
    study_root: &'a Path,
    opts: &'a ReportOptions,
    factory: &'a dyn ssad_core::DetectorFactory,
    study: StudyDir,
    cfg: StudyConfig,
    status: crate::study::StudyStatus,
    n_all: usize,
    records: Vec<RunRecord>,
    rows: Vec<crate::study::ResultRow>,
    summary: StudySummary,
    fig_dir: PathBuf,
    tab_dir: PathBuf,
    expanded: Vec<String>,
    families: Vec<SweepFamily>,
    sweep_members: Vec<String>,
    main_augs: Vec<String>,
    slices: Vec<(String, String)>,
    datasets_text: String,
}

/// The page being built: its sections, its figures numbered in page order, the CSV tables
/// listed in the outcome, and the notes on what is missing.
#[derive(Default)]
struct Page {
    out: PathBuf,
    figs: Vec<FigureInfo>,
    tables: Vec<PathBuf>,
    notes: Vec<String>,
    sections: Vec<Section>,
}

impl Page {
    /// `p` relative to the report folder, with `/` separators (for links).
    fn rel(&self, p: &Path) -> String {
        p.strip_prefix(&self.out)
            .unwrap_or(p)
            .to_string_lossy()
            .replace('\\', "/")
    }

    /// Adds a rendered figure to `body`, numbered after the page's earlier figures.
    fn add_figure(
        &mut self,
        kind: FigureKind,
        id: &str,
        r: crate::figure::RenderedFigure,
        alt: &str,
        caption: &str,
        body: &mut String,
    ) {
        let png = self.rel(&r.png);
        let svg = r.svg.as_deref().map(|p| self.rel(p));
        let number = self.figs.len() + 1;
        body.push_str(&figure(number, id, &png, svg.as_deref(), alt, caption));
        self.figs.push(FigureInfo {
            kind,
            id: id.to_string(),
            png,
            svg,
        });
    }

    /// Writes `t` as `dir/<id>.csv`, adds it to `body` as HTML linking to the CSV, and lists
    /// the CSV in the outcome.
    fn add_table(&mut self, t: &Table, dir: &Path, body: &mut String) -> anyhow::Result<()> {
        let p = t.write_csv(dir)?;
        body.push_str(&t.to_html(&self.rel(&p)));
        self.tables.push(p);
        Ok(())
    }
}
