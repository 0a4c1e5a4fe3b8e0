//! `ssad report`: turns a study folder into a static page (`index.html`) with PNG and SVG
//! figures and CSV tables (METHOD.md section 6), so a person learns the study's answer
//! without reading logs.
//!
//! Figures: forest plots of relative AUC per augmentation (one per controlled generator and
//! one for in-the-wild anomalies), parameter sweeps, and, from the saved models of one task,
//! reconstructions, reconstruction-error histograms and t-SNE maps of embeddings. Tables: mean
//! AUC per dataset x augmentation, relative-AUC statistics and run timings. All statistics
//! come from [`crate::study::summarize`].

pub mod figures;
pub mod html;
pub mod tables;
pub mod task;
pub mod tsne;

use crate::study::summary::{RelativeTable, StudySummary, PIXEL_SLICE};
use crate::study::{
    expand_sweep, result_rows, summarize, NormalClass, RunRecord, StudyConfig, StudyDir,
};
use crate::testbed::{TestbedKind, TestbedName};
use anyhow::Context;
use figures::{ForestPlot, ForestRow, SweepPlot, SweepPoint, SweepSeries};
use html::{figure, missing, para, Section};
use ssad_core::data::DatasetName;
use ssad_stats::relative::Verdict;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tables::{escape, slice_title, Cell, NumFmt, Table};
pub use task::{TaskChoice, TaskSettings};

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

/// A parameter sweep of the study (`cutout(area=0.1..0.9 step 0.1)`).
#[derive(Clone, Debug, PartialEq)]
pub struct SweepFamily {
    /// The spec as written in the study.
    pub spec: String,
    /// The swept parameter, e.g. `cutout area`.
    pub param: String,
    /// (parameter value, canonical spec) of each member, in order.
    pub members: Vec<(f64, String)>,
}

/// The sweeps among the study's augmentations.
pub fn sweep_families(cfg: &StudyConfig) -> anyhow::Result<Vec<SweepFamily>> {
    let mut out = Vec::new();
    for spec in &cfg.augs {
        let Some(dots) = spec.find("..") else {
            continue;
        };
        let eq = spec[..dots]
            .rfind('=')
            .with_context(|| format!("sweep '{spec}': expected name(param=A..B step S)"))?;
        let name_start = spec[..eq]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map(|i| i + 1)
            .unwrap_or(0);
        let aug_name = spec[..name_start]
            .trim_end_matches('(')
            .rsplit(['+', '('])
            .next()
            .unwrap_or("")
            .trim();
        let param = format!("{aug_name} {}", &spec[name_start..eq])
            .trim()
            .to_string();
        let mut members = Vec::new();
        for s in expand_sweep(spec)? {
            let tail = &s[eq + 1..];
            let end = tail.find([')', ',']).unwrap_or(tail.len());
            let value: f64 = tail[..end]
                .trim()
                .parse()
                .with_context(|| format!("sweep member '{s}'"))?;
            members.push((
                value,
                ssad_augment::parse(&s)
                    .with_context(|| format!("sweep member '{s}'"))?
                    .to_string(),
            ));
        }
        out.push(SweepFamily {
            spec: spec.clone(),
            param,
            members,
        });
    }
    Ok(out)
}

/// Parses `--task dataset:class` (e.g. `mnist:3`, `mvtec:bottle`, `mvtec:/data/parts:0`):
/// the class is a number or a class / category name (a category is kept by name; a number
/// picks the category at that place of the folder's listing now).
pub fn parse_task(s: &str) -> anyhow::Result<(DatasetName, NormalClass)> {
    let (d, c) = s
        .rsplit_once(':')
        .with_context(|| format!("--task '{s}': expected DATASET:CLASS, e.g. mnist:0"))?;
    let dataset: DatasetName = d.parse().with_context(|| format!("--task '{s}'"))?;
    let class = NormalClass::parse(&dataset, c).with_context(|| format!("--task '{s}'"))?;
    Ok((dataset, class))
}

/// The pooled relative table of a slice: `all` datasets, or the only dataset.
fn pooled<'a>(s: &'a StudySummary, testbed: &str, anomaly: &str) -> Option<&'a RelativeTable> {
    let of_slice: Vec<&RelativeTable> = s
        .relative
        .iter()
        .filter(|t| t.testbed == testbed && t.anomaly == anomaly)
        .collect();
    of_slice
        .iter()
        .find(|t| t.dataset == "all")
        .copied()
        .or(if of_slice.len() == 1 {
            Some(of_slice[0])
        } else {
            None
        })
}

fn category_of(aug: &str) -> String {
    ssad_augment::parse(aug)
        .map(|s| s.category().to_string())
        .unwrap_or_else(|_| "custom".into())
}

/// Resolves the task of figures 3-5 against the study.
pub fn choose_task(cfg: &StudyConfig, opts: &ReportOptions) -> anyhow::Result<TaskChoice> {
    let (dataset, normal) = match &opts.task {
        Some(t) => t.clone(),
        None => (
            cfg.datasets[0].clone(),
            cfg.normal_classes_of(&cfg.datasets[0])?[0].clone(),
        ),
    };
    anyhow::ensure!(
        cfg.datasets.contains(&dataset),
        "--task: the study has no dataset {dataset} (it has {})",
        cfg.datasets
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let classes = cfg.normal_classes_of(&dataset)?;
    anyhow::ensure!(
        classes.contains(&normal),
        "--task: the study has no normal class {normal} of {dataset} (it has {})",
        classes
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let seed = opts.seed.unwrap_or(cfg.seeds[0]);
    anyhow::ensure!(
        cfg.seeds.contains(&seed),
        "--seed: the study has no seed {seed} (it has {:?})",
        cfg.seeds
    );
    let controlled = TestbedKind::Controlled {
        gens: cfg.gens.clone(),
    };
    let testbed = match opts.testbed {
        Some(TestbedName::Controlled) => controlled,
        Some(TestbedName::Wild) => TestbedKind::InTheWild,
        None if cfg.testbeds.contains(&TestbedName::Controlled) && !cfg.gens.is_empty() => {
            controlled
        }
        None => TestbedKind::InTheWild,
    };
    Ok(TaskChoice {
        dataset,
        normal,
        seed,
        testbed,
    })
}

/// Default DAEs of figures 3 and 5: on the controlled testbed, the trained augmentations
/// that are also generators (aligned: `cutout` for cutout anomalies), at most three; otherwise
/// the augmentation with the best pooled pseudo-median on the task's testbed.
pub fn default_daes(
    cfg: &StudyConfig,
    summary: &StudySummary,
    testbed: &TestbedKind,
    trained: &[String],
) -> Vec<String> {
    if let TestbedKind::Controlled { gens } = testbed {
        let aligned: Vec<String> = gens
            .iter()
            .filter_map(|g| ssad_augment::parse(g).ok().map(|s| s.to_string()))
            .filter(|g| g != "none" && trained.contains(g))
            .take(3)
            .collect();
        if !aligned.is_empty() {
            return aligned;
        }
    }
    let slice = match testbed {
        TestbedKind::Controlled { .. } => cfg.gens.first().map(|g| ("controlled", g.as_str())),
        TestbedKind::InTheWild => Some(("wild", "semantic")),
    };
    let best = slice
        .and_then(|(t, a)| pooled(summary, t, a))
        .and_then(|t| {
            t.rows
                .iter()
                .filter(|r| trained.contains(&r.aug))
                .max_by(|a, b| a.pseudo_median.total_cmp(&b.pseudo_median))
                .map(|r| r.aug.clone())
        });
    best.or_else(|| trained.iter().find(|a| *a != "none").cloned())
        .into_iter()
        .collect()
}

/// One-line answer of a slice: which augmentations help, hurt, and the best estimate.
/// True when every augmentation's AUC equals vanilla's on every task of `t` (e.g. invert
/// anomalies on MNIST, where every detector scores AUC 1.0): nothing to compare or plot.
fn all_tie(t: &RelativeTable) -> bool {
    !t.rows.is_empty() && t.rows.iter().all(|r| r.n > 0 && r.n_zeros == r.n)
}

/// The sentence that replaces a table or figure of `t` when [`all_tie`].
fn tie_sentence(t: &RelativeTable) -> String {
    let n = t.rows.iter().map(|r| r.n).max().unwrap_or(0);
    format!(
        "<strong>{}</strong> ({n} paired tasks): every augmentation ties with vanilla on every task \
         (all relative AUCs are 0), so this testbed cannot tell them apart",
        escape(&slice_title(&t.testbed, &t.anomaly))
    )
}

fn answer_line(t: &RelativeTable, sweep_members: &[String]) -> String {
    if all_tie(t) {
        return tie_sentence(t);
    }
    let n = t.rows.iter().map(|r| r.n).max().unwrap_or(0);
    // Sweep points are drawn in the sweep figure, not in the forest plot this line sits
    // above: they are marked so, so every augmentation named here is in a figure.
    let fmt = |r: &ssad_stats::relative::RelativeAucSummary| {
        format!(
            "<code>{}</code> ({:+.3}, {}{})",
            escape(&r.aug),
            r.pseudo_median,
            figures::format_p(r.p_value),
            if sweep_members.contains(&r.aug) {
                "; a sweep point, in the sweep figure"
            } else {
                ""
            }
        )
    };
    let mut s = format!(
        "<strong>{}</strong> ({n} paired tasks): ",
        escape(&slice_title(&t.testbed, &t.anomaly))
    );
    // The exact one-sided signed-rank test cannot go below 0.5^n (nor above 1 - 0.5^n).
    let min_p = 0.5f64.powi(n as i32);
    if min_p >= 0.05 {
        s.push_str(&format!(
            "<em>too few tasks for a significant test (with {n} tasks the smallest possible one-sided p is 0.5<sup>{n}</sup> = {min_p:.3}); read the estimates as descriptive</em>"
        ));
    } else {
        let helps: Vec<String> = t
            .rows
            .iter()
            .filter(|r| r.verdict == Verdict::Helps)
            .map(fmt)
            .collect();
        let hurts: Vec<String> = t
            .rows
            .iter()
            .filter(|r| r.verdict == Verdict::Hurts)
            .map(fmt)
            .collect();
        s.push_str(&if helps.is_empty() {
            "no augmentation is significantly better than vanilla".to_string()
        } else {
            format!("better than vanilla (p &lt; 0.05): {}", helps.join(", "))
        });
        s.push_str("; ");
        s.push_str(&if hurts.is_empty() {
            "none is significantly worse".to_string()
        } else {
            format!("worse than vanilla (p &gt; 0.95): {}", hurts.join(", "))
        });
    }
    let main: Vec<_> = t
        .rows
        .iter()
        .filter(|r| !sweep_members.contains(&r.aug))
        .collect();
    let best = main
        .iter()
        .max_by(|a, b| a.pseudo_median.total_cmp(&b.pseudo_median));
    let worst = main
        .iter()
        .min_by(|a, b| a.pseudo_median.total_cmp(&b.pseudo_median));
    if let Some(b) = best {
        s.push_str(&format!("; largest estimate: {}", fmt(b)));
    }
    if let Some(w) =
        worst.filter(|w| main.len() > 1 && w.aug != best.map(|b| b.aug.as_str()).unwrap_or(""))
    {
        s.push_str(&format!("; smallest: {}", fmt(w)));
    }
    s.push('.');
    s
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
    let sweep_members: Vec<String> = families
        .iter()
        .flat_map(|f| f.members.iter().map(|m| m.1.clone()))
        .collect();
    let main_augs: Vec<String> = expanded
        .iter()
        .filter(|a| !sweep_members.contains(a) || cfg.augs.contains(a))
        .cloned()
        .collect();
    let mut slices: Vec<(String, String)> = Vec::new();
    if cfg.testbeds.contains(&TestbedName::Controlled) {
        slices.extend(
            cfg.gens
                .iter()
                .map(|g| ("controlled".to_string(), g.clone())),
        );
    }
    if cfg.testbeds.contains(&TestbedName::Wild) {
        slices.push(("wild".into(), "semantic".into()));
        // MVTec-style data with masks: the same pairs scored per pixel.
        if rows.iter().any(|r| r.pixel_auroc.is_some()) {
            slices.push(("wild".into(), PIXEL_SLICE.into()));
        }
    }
    let datasets_text = cfg
        .datasets
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(", ");

    let c = Ctx {
        study_root,
        out,
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
        figs: Vec::new(),
        notes: Vec::new(),
        sections: Vec::new(),
    };
    section_answer(&c, &mut page)?;
    section_forest(&c, &mut page)?;
    section_sweeps(&c, &mut page)?;
    section_model_figures(&c, &mut page)?;
    section_pixels(&c, &mut page)?;
    let selection_csv = section_selection(&c, &mut page)?;
    section_tables(&c, page, selection_csv)
}

/// Everything the report's sections read: the study, its record set and summary, and the
/// figure and table folders.
struct Ctx<'a> {
    study_root: &'a Path,
    out: &'a Path,
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

/// The page being built: its sections, and its figures numbered in page order.
struct Page {
    out: PathBuf,
    figs: Vec<FigureInfo>,
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
}

/// A small table of the answer: per testbed and anomaly kind (datasets pooled), the
/// augmentation with the largest and the smallest relative-AUC estimate, with p-values.
fn winner_table(
    slices: &[(String, String)],
    summary: &StudySummary,
    sweep_members: &[String],
) -> String {
    let cell = |r: &ssad_stats::relative::RelativeAucSummary| {
        format!(
            "<code>{}</code> {:+.3} (p {}, {})",
            escape(&r.aug),
            r.pseudo_median,
            figures::format_p(r.p_value),
            r.verdict
        )
    };
    let mut rows = String::new();
    let rest = ("wild".to_string(), "rest".to_string());
    let all = slices.iter().chain(std::iter::once(&rest));
    for (t, a) in all {
        let Some(table) = pooled(summary, t, a) else {
            continue;
        };
        let main: Vec<_> = table
            .rows
            .iter()
            .filter(|r| !sweep_members.contains(&r.aug))
            .collect();
        let (Some(best), Some(worst)) = (
            main.iter()
                .max_by(|x, y| x.pseudo_median.total_cmp(&y.pseudo_median)),
            main.iter()
                .min_by(|x, y| x.pseudo_median.total_cmp(&y.pseudo_median)),
        ) else {
            continue;
        };
        let (b, w) = if all_tie(table) {
            ("all tie".to_string(), "all tie".to_string())
        } else {
            (cell(best), cell(worst))
        };
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{b}</td><td>{w}</td></tr>",
            escape(&slice_title(t, a)),
            main.iter().map(|r| r.n).max().unwrap_or(0)
        ));
    }
    if rows.is_empty() {
        return String::new();
    }
    format!(
        "<table class=\"winners\"><thead><tr><th>testbed, anomalies</th><th>paired tasks</th>\
         <th>best augmentation</th><th>worst augmentation</th></tr></thead><tbody>{rows}\
         </tbody></table>\n"
    )
}

/// The opening section: one line per testbed (which augmentations help or hurt) and the study's facts.
fn section_answer(c: &Ctx<'_>, page: &mut Page) -> anyhow::Result<()> {
    let Ctx {
        cfg,
        status,
        n_all,
        records,
        summary,
        expanded,
        sweep_members,
        slices,
        datasets_text,
        ..
    } = c;
    // The answer, first.
    let mut answer = String::from("<div class=\"answer\"><ul>");
    for (t, a) in slices
        .iter()
        .chain(std::iter::once(&("wild".to_string(), "rest".to_string())))
    {
        if let Some(table) = pooled(summary, t, a) {
            answer.push_str(&format!("<li>{}</li>", answer_line(table, sweep_members)));
        }
    }
    answer.push_str("</ul></div>\n");
    answer.push_str(&winner_table(slices, summary, sweep_members));
    answer.push_str(&para(&format!(
        "Relative AUC = AUC of the detector trained with an augmentation minus the AUC of the vanilla autoencoder (no augmentation) on the same task; \
         tasks are paired over datasets ({datasets_text}), normal classes and seeds (and anomaly classes in the wild). \
         Statistics: one-sided Wilcoxon signed-rank test (H1: the augmentation beats vanilla) and the Hodges-Lehmann pseudo-median with its 95% confidence interval."
    )));
    let mut facts = String::from("<dl class=\"facts\">");
    let fact = |k: &str, v: String| format!("<dt>{}</dt><dd>{}</dd>", escape(k), escape(&v));
    facts.push_str(&fact("datasets", datasets_text.clone()));
    let classes: Vec<String> = cfg
        .datasets
        .iter()
        .map(|d| {
            let picked: Vec<String> = cfg
                .normal_classes_of(d)
                .unwrap_or_default()
                .iter()
                .map(|c| c.name_in(d))
                .collect();
            format!("{d}: {}", picked.join(", "))
        })
        .collect();
    facts.push_str(&fact("normal classes", classes.join("; ")));
    if let Some(size) = cfg.size {
        facts.push_str(&fact("image size", format!("{size}x{size}")));
    }
    facts.push_str(&fact(
        "augmentations",
        format!("{} ({})", expanded.len(), expanded.join(", ")),
    ));
    facts.push_str(&fact(
        "testbeds",
        format!(
            "{} (controlled generators: {})",
            cfg.testbeds
                .iter()
                .map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            cfg.gens.join(", ")
        ),
    ));
    facts.push_str(&fact("seeds", format!("{:?}", cfg.seeds)));
    facts.push_str(&fact(
        "model",
        format!(
            "{:?} F={} H={}",
            cfg.model.kind, cfg.model.width, cfg.model.embedding
        ),
    ));
    facts.push_str(&fact(
        "training",
        format!(
            "{} epochs, batch {}, lr {}, weight decay {}, {} precision, {} training images per class",
            cfg.train.epochs,
            cfg.train.batch_size,
            cfg.train.lr,
            cfg.train.weight_decay,
            cfg.train.precision,
            cfg.train_limit
                .map(|l| format!("at most {l}"))
                .unwrap_or_else(|| "all".into())
        ),
    ));
    facts.push_str(&fact(
        "runs",
        format!(
            "{} of {} done; {} pending, {} failed, {} stale (older config, left out of this report); {} records in the folder",
            records.len(),
            status.total,
            status.pending.len(),
            status.failed.len(),
            status.stale.len(),
            n_all
        ),
    ));
    facts.push_str("</dl>");
    answer.push_str(&facts);
    if !status.pending.is_empty() || !status.failed.is_empty() {
        let n = format!("This report covers {} of the study's {} runs; the rest are pending or failed (`ssad study status`).", records.len(), status.total);
        answer.push_str(&missing(&n));
        page.notes.push(n);
    }
    page.sections.push(Section {
        id: "answer".into(),
        title: "The answer".into(),
        body: answer,
    });
    Ok(())
}

/// `Err(e)` when `e` is a figure or table that could not be *written* (a full disk, a
/// read-only folder: the report fails naming the file), else `Ok(e)`: a figure that does not
/// apply or cannot be drawn from the study, reported as a note.
fn unless_write_failure(e: anyhow::Error) -> anyhow::Result<anyhow::Error> {
    match ssad_core::fsio::write_failure(e.chain()) {
        Some(w) => {
            let path = w.path.clone();
            Err(e.context(format!("the report could not write {}", path.display())))
        }
        None => Ok(e),
    }
}

/// Section 1: a forest plot of relative AUC per augmentation for each testbed and anomaly kind.
fn section_forest(c: &Ctx<'_>, page: &mut Page) -> anyhow::Result<()> {
    let Ctx {
        summary,
        fig_dir,
        main_augs,
        slices,
        datasets_text,
        ..
    } = c;
    // 1. Forest plots.
    let mut body = para(
        "Each row is one augmentation used to train the denoising autoencoder. Point: pseudo-median of its relative AUC over the paired tasks; bar: 95% confidence interval; \
         right of the vertical line at 0 means better than no augmentation. Colour and marker: the augmentation's category. The one-sided p-value is printed beside each row.",
    );
    for (t, a) in slices.iter() {
        let Some(table) = pooled(summary, t, a) else {
            let n = format!(
                "No relative-AUC statistics for the {} (no paired runs yet).",
                slice_title(t, a)
            );
            body.push_str(&missing(&n));
            page.notes.push(n);
            continue;
        };
        if all_tie(table) {
            body.push_str(&format!("<p class=\"note\">{}.</p>\n", tie_sentence(table)));
            continue;
        }
        let metric = if a == PIXEL_SLICE {
            "Relative pixel AUROC"
        } else {
            "Relative AUC"
        };
        let mut plot = ForestPlot {
            title: format!("{metric} — {}", slice_title(t, a)),
            subtitle: format!(
                "{}; n = {} paired tasks; point: Hodges-Lehmann pseudo-median, bar: 95% CI",
                if table.dataset == "all" {
                    format!("datasets pooled: {datasets_text}")
                } else {
                    format!("dataset: {}", table.dataset)
                },
                table.rows.iter().map(|r| r.n).max().unwrap_or(0)
            ),
            rows: table
                .rows
                .iter()
                .filter(|r| main_augs.contains(&r.aug))
                .map(|r| ForestRow {
                    aug: r.aug.clone(),
                    category: category_of(&r.aug),
                    estimate: r.pseudo_median,
                    ci: r.conf_int,
                    p_value: r.p_value,
                    n: r.n,
                })
                .collect(),
        };
        plot.sort();
        let id = tables::slug(&["forest", t, a]);
        let r = crate::figure::render(&plot, fig_dir, &id)?;
        let paper = if t == "controlled" {
            "paper Fig. 1"
        } else {
            "paper Fig. 4"
        };
        page.add_figure(
            FigureKind::Forest,
            &id,
            r,
            &plot.title,
            &format!("{} ({paper}).", plot.title),
            &mut body,
        );
    }
    page.sections.push(Section {
        id: "forest".into(),
        title: "Relative AUC per augmentation".into(),
        body,
    });
    Ok(())
}

/// Section 4b (MVTec-style data with masks): pixel AUROC and AUPRO per augmentation, overall
/// and per defect type, and example rows (input, reconstruction, error map, mask) per defect.
fn section_pixels(c: &Ctx<'_>, page: &mut Page) -> anyhow::Result<()> {
    let with_pixels: Vec<&RunRecord> = c
        .records
        .iter()
        .filter(|r| r.results.iter().any(|t| t.pixel.is_some()))
        .collect();
    if with_pixels.is_empty() {
        return Ok(());
    }
    let mut body = para(
        "Where the test images have ground-truth masks, each run's per-pixel squared reconstruction error \
         (brought to the mask's resolution) is scored against them: pixel AUROC over all pixels, and AUPRO, \
         the per-region overlap integrated up to a false-positive rate of 0.3 and normalised (MVTec AD's \
         evaluation). Means over the runs of each augmentation; one column per defect type (pixel AUROC).",
    );
    // Mean pixel AUROC / AUPRO per augmentation: overall (the `rest` rows) and per defect.
    let mut defects: Vec<String> = Vec::new();
    let mut sums: BTreeMap<String, BTreeMap<String, (usize, f64, f64)>> = BTreeMap::new();
    for r in c.rows.iter().filter(|r| r.testbed == "wild") {
        let (Some(auroc), Some(aupro)) = (r.pixel_auroc, r.aupro) else {
            continue;
        };
        if r.anomaly != "rest" && !defects.contains(&r.anomaly) {
            defects.push(r.anomaly.clone());
        }
        let e = sums
            .entry(r.aug.clone())
            .or_default()
            .entry(r.anomaly.clone())
            .or_default();
        *e = (e.0 + 1, e.1 + auroc, e.2 + aupro);
    }
    let mut header = vec![
        "augmentation".to_string(),
        "runs".into(),
        "pixel AUROC".into(),
        "AUPRO".into(),
    ];
    header.extend(defects.iter().cloned());
    let mean = |m: &BTreeMap<String, (usize, f64, f64)>, k: &str, aupro: bool| match m.get(k) {
        Some(&(n, a, p)) if n > 0 => {
            Cell::Num(if aupro { p } else { a } / n as f64, NumFmt::Fixed(4))
        }
        _ => Cell::Missing,
    };
    let table_rows: Vec<Vec<Cell>> = c
        .expanded
        .iter()
        .filter_map(|aug| sums.get(aug).map(|m| (aug, m)))
        .map(|(aug, m)| {
            let mut row = vec![
                Cell::Text(aug.clone()),
                Cell::Num(m.get("rest").map_or(0, |e| e.0) as f64, NumFmt::Int),
                mean(m, "rest", false),
                mean(m, "rest", true),
            ];
            row.extend(defects.iter().map(|d| mean(m, d, false)));
            row
        })
        .collect();
    let table = Table {
        id: "pixel_metrics".into(),
        title: "Pixel AUROC and AUPRO per augmentation".into(),
        note: "Means over runs (categories x seeds); the defect columns are pixel AUROC on the good test images plus that defect type's.".into(),
        best_of_columns: (2..header.len()).collect(),
        header,
        rows: table_rows,
    };
    let csv = table.write_csv(&c.tab_dir)?;
    body.push_str(&table.to_html(&page.rel(&csv)));
    // Example rows from the first run with masks (the vanilla AE's when there is one).
    let example = with_pixels
        .iter()
        .find(|r| r.key.aug == "none")
        .or(with_pixels.first())
        .copied();
    if let Some(rec) = example.filter(|r| r.model_dir.is_some()) {
        let id = "pixel-examples";
        let path = c.fig_dir.join(format!("{id}.png"));
        match pixel_examples(c, rec, &path) {
            Ok(()) => {
                let caption = format!(
                    "One test image per defect type of {} (normal class {}), model of run {} (augmentation {}): \
                     input, reconstruction, squared-error map (heat map, black = 0, white = the image's largest error) and ground-truth mask.",
                    rec.key.dataset,
                    rec.key.normal.name_in(&rec.key.dataset),
                    rec.run_id,
                    rec.key.aug
                );
                page.add_figure(
                    FigureKind::Reconstruction,
                    id,
                    crate::figure::RenderedFigure {
                        png: path,
                        svg: None,
                    },
                    "Pixel-level examples: input, reconstruction, error map, mask",
                    &caption,
                    &mut body,
                );
            }
            Err(e) => {
                let e = unless_write_failure(e)?;
                let n = format!("Pixel-level examples not drawn: {e:#}");
                body.push_str(&missing(&n));
                page.notes.push(n);
            }
        }
    }
    page.sections.push(Section {
        id: "pixels".into(),
        title: "Pixel AUROC and AUPRO (defect masks)".into(),
        body,
    });
    Ok(())
}

/// Draws one row per defect type of `rec`'s test set: input, reconstruction, error map, mask.
fn pixel_examples(c: &Ctx<'_>, rec: &RunRecord, path: &Path) -> anyhow::Result<()> {
    let model_dir = c
        .study
        .root
        .join(rec.model_dir.as_deref().unwrap_or_default());
    let det = c.factory.load(&model_dir, c.opts.device)?;
    let splits = ssad_core::data::load_splits(
        &rec.key.dataset,
        rec.key.normal.index_in(&rec.key.dataset)?,
        c.cfg.size,
        &c.opts.data_dir,
    )?;
    let truth = splits
        .pixels
        .as_ref()
        .context("the test set has no masks")?;
    let test = &splits.test;
    let shape = test.shape;
    let (side, plane) = (shape.height, shape.plane());
    let rgb = ssad_core::ImageShape::new(3, side, side);
    let as_rgb = |img: &[f32]| -> Vec<f32> {
        if shape.channels == 3 {
            img.to_vec()
        } else {
            img.repeat(3)
        }
    };
    let mut rows: Vec<Vec<Vec<f32>>> = Vec::new();
    let mut labels = Vec::new();
    for (g, name) in test.class_names.iter().enumerate().skip(1) {
        let Some(i) =
            (0..test.len()).find(|&i| test.labels[i] as usize == g && truth.masks[i].is_some())
        else {
            continue;
        };
        let x = test.batch(&[i]);
        let recon = det.reconstruct(&x)?;
        let errors = crate::pixel::squared_error_maps(&x, &recon);
        let max = errors.iter().copied().fold(f32::MIN_POSITIVE, f32::max);
        let mut heat = vec![0f32; 3 * plane];
        for (p, &e) in errors.iter().enumerate() {
            let col = crate::detect::heat_colour(e / max);
            for ch in 0..3 {
                heat[ch * plane + p] = col[ch] as f32 / 255.0;
            }
        }
        // The mask at the model's side (nearest neighbour), white = defect.
        let m = truth.masks[i].as_ref().unwrap();
        let mask: Vec<f32> = (0..plane)
            .map(|p| {
                let (y, x) = (p / side, p % side);
                let (my, mx) = (y * m.height / side, x * m.width / side);
                f32::from(m.pixels[my * m.width + mx] != 0)
            })
            .collect();
        rows.push(vec![
            as_rgb(x.image(0)),
            as_rgb(recon.image(0)),
            heat,
            mask.repeat(3),
        ]);
        labels.push(name.clone());
    }
    anyhow::ensure!(!rows.is_empty(), "no defect image with a mask");
    let refs: Vec<Vec<&[f32]>> = rows
        .iter()
        .map(|r| r.iter().map(|v| v.as_slice()).collect())
        .collect();
    let scale = (128 / side).max(1) as u32;
    crate::imageio::save_labeled_grid(&refs, &labels, rgb, scale, path)
}

/// Section 2: one curve per parameter sweep.
fn section_sweeps(c: &Ctx<'_>, page: &mut Page) -> anyhow::Result<()> {
    let Ctx {
        summary,
        fig_dir,
        families,
        slices,
        datasets_text,
        ..
    } = c;
    // 2. Sweeps.
    let mut body = String::new();
    if families.is_empty() {
        let n = "This study has no parameter sweep (an augmentation such as `cutout(area=0.1..0.9 step 0.1)` in `augs`), so there is no sweep figure.".to_string();
        body.push_str(&missing(&n));
        page.notes.push(n);
    }
    for f in families.iter() {
        let series: Vec<SweepSeries> = slices
            .iter()
            .filter_map(|(t, a)| {
                let table = pooled(summary, t, a)?;
                let points: Vec<SweepPoint> = f
                    .members
                    .iter()
                    .filter_map(|(v, spec)| {
                        table
                            .rows
                            .iter()
                            .find(|r| &r.aug == spec)
                            .map(|r| SweepPoint {
                                value: *v,
                                estimate: r.pseudo_median,
                                ci: r.conf_int,
                                p_value: r.p_value,
                            })
                    })
                    .collect();
                (!points.is_empty()).then(|| SweepSeries {
                    label: if t == "controlled" {
                        format!("controlled: {a}")
                    } else {
                        "in the wild".into()
                    },
                    points,
                })
            })
            .collect();
        if series.is_empty() {
            let n = format!("The sweep {} has no paired results yet.", f.spec);
            body.push_str(&missing(&n));
            page.notes.push(n);
            continue;
        }
        let plot = SweepPlot {
            title: format!("Sweep of {} — relative AUC", f.param),
            subtitle: format!("{}; point: pseudo-median over paired tasks, bar: 95% CI; datasets: {datasets_text}", f.spec),
            x_label: f.param.clone(),
            series,
        };
        let id = tables::slug(&["sweep", &f.spec]);
        let r = crate::figure::render(&plot, fig_dir, &id)?;
        page.add_figure(FigureKind::Sweep, &id, r, &plot.title, &format!("{}: how the amount of augmentation changes the relative AUC, one curve per kind of anomaly (paper Fig. 3).", plot.title), &mut body);
    }
    page.sections.push(Section {
        id: "sweep".into(),
        title: "Parameter sweeps".into(),
        body,
    });
    Ok(())
}

/// Sections 3-5: reconstructions, score histograms and t-SNE maps from one task's saved models.
fn section_model_figures(c: &Ctx<'_>, page: &mut Page) -> anyhow::Result<()> {
    let Ctx {
        opts,
        factory,
        study,
        cfg,
        records,
        summary,
        fig_dir,
        main_augs,
        ..
    } = c;
    // 3-5. Figures from the saved models of one task.
    let mut recon_body = String::new();
    let mut hist_body = String::new();
    let mut tsne_body = String::new();
    let task_result: anyhow::Result<()> = (|| {
        anyhow::ensure!(cfg.save_models, "this study did not save its models (save_models = false), so figures from models (reconstructions, error histograms, t-SNE) cannot be made");
        let task = choose_task(cfg, opts)?;
        let trained: Vec<String> = main_augs
            .iter()
            .filter(|a| {
                records.iter().any(|r| {
                    &r.key.aug == *a
                        && r.key.dataset == task.dataset
                        && r.key.normal == task.normal
                        && r.key.seed == task.seed
                })
            })
            .cloned()
            .collect();
        let daes = if opts.dae.is_empty() {
            default_daes(cfg, summary, &task.testbed, &trained)
        } else {
            opts.dae
                .iter()
                .map(|a| {
                    ssad_augment::parse(a)
                        .map(|s| s.to_string())
                        .with_context(|| format!("--dae '{a}'"))
                })
                .collect::<anyhow::Result<_>>()?
        };
        let tf = task::task_figures(
            study,
            cfg,
            records,
            &task,
            &trained,
            &daes,
            &opts.data_dir,
            &opts.settings,
            *factory,
            opts.device,
        )?;
        let stem = tables::slug(&[
            &task.dataset.to_string(),
            &task.normal.to_string(),
            &format!("s{}", task.seed),
            task.testbed.name(),
        ]);
        let id = format!("reconstructions_{stem}");
        let r = crate::figure::render(&tf.recon, fig_dir, &id)?;
        page.add_figure(
            FigureKind::Reconstruction,
            &id,
            r,
            &tf.recon.title,
            &format!("{} (paper Fig. 5). A DAE whose augmentation matches the anomalies tends to reconstruct them as normal-looking images, which raises their error.", tf.recon.title),
            &mut recon_body,
        );
        let id = format!("histograms_{stem}");
        let r = crate::figure::render(&tf.hist, fig_dir, &id)?;
        page.add_figure(
            FigureKind::Histogram,
            &id,
            r,
            &tf.hist.title,
            &format!("{} (paper Fig. 6). The less the normal and anomalous errors overlap, the higher the AUC; the augmented training data shows what the model learned to treat as normal.", tf.hist.title),
            &mut hist_body,
        );
        for (grid, what) in [(&tf.tsne_group, "group"), (&tf.tsne_score, "score")] {
            let id = format!("tsne_{what}_{stem}");
            let r = crate::figure::render(grid, fig_dir, &id)?;
            page.add_figure(
                FigureKind::Tsne,
                &id,
                r,
                &grid.title,
                &format!("{} (paper Figs. 7-8).", grid.title),
                &mut tsne_body,
            );
        }
        Ok(())
    })();
    if let Err(e) = task_result {
        let e = unless_write_failure(e)?;
        let n = format!("Figures from the saved models are not available: {e:#}.");
        for b in [&mut recon_body, &mut hist_body, &mut tsne_body] {
            b.push_str(&missing(&n));
        }
        page.notes.push(n);
    }
    page.sections.push(Section {
        id: "reconstructions".into(),
        title: "Reconstructions".into(),
        body: recon_body,
    });
    page.sections.push(Section {
        id: "histograms".into(),
        title: "Reconstruction-error histograms".into(),
        body: hist_body,
    });
    page.sections.push(Section {
        id: "tsne".into(),
        title: "t-SNE of embeddings".into(),
        body: tsne_body,
    });
    Ok(())
}

/// Beyond the paper: the label-free selection, when `ssad select --study` has run; returns its table's CSV.
fn section_selection(c: &Ctx<'_>, page: &mut Page) -> anyhow::Result<Option<PathBuf>> {
    let Ctx {
        study_root,
        records,
        fig_dir,
        tab_dir,
        ..
    } = c;
    // Beyond the paper: label-free selection, when `ssad select --study` has been run.
    let mut selection_body = para(
        "Which augmentation would the label-free criterion (DSV, METHOD.md section 7) have chosen for each task, and how good was that choice? \
         Each point is one task: x = AUC of the best candidate (the oracle, known only with labels), y = AUC of the candidate DSV selected; points on the diagonal are perfect picks.",
    );
    let mut selection_csv = None;
    let sel_dir = study_root.join("selection");
    let selections = if sel_dir.join("selections.json").is_file() {
        match crate::select::read_selections(&sel_dir) {
            Ok(s) => Some(s),
            // Selections of an earlier ssad's criteria: the report goes on without them.
            Err(e) if e.downcast_ref::<crate::select::OldSelections>().is_some() => {
                let n = format!("Label-free selection left out: {e}.");
                selection_body.push_str(&missing(&n));
                page.notes.push(n);
                None
            }
            Err(e) => return Err(e),
        }
    } else {
        let n = format!(
            "No label-free selection yet: run `ssad select --study {} --evaluate` and rebuild the report to add it.",
            study_root.display()
        );
        selection_body.push_str(&missing(&n));
        page.notes.push(n);
        None
    };
    if let Some(selections) = selections {
        let ev = crate::select::evaluate(&selections, records)?;
        let id = "selection_dsv";
        let png = fig_dir.join(format!("{id}.png"));
        crate::select::plot_selected_vs_oracle(
            crate::select::evaluate::selected_vs_oracle(&ev.tasks, crate::select::Criterion::Dsv),
            crate::select::Criterion::Dsv,
            &png,
        )?;
        let svg = png.with_extension("svg");
        let r = crate::figure::RenderedFigure {
            svg: svg.is_file().then_some(svg),
            png,
        };
        page.add_figure(
            FigureKind::Selection,
            id,
            r,
            "Selected vs oracle AUC (DSV)",
            &format!(
                "AUC of the augmentation chosen without labels (DSV) against the best candidate's, one point per task ({} tasks).",
                ev.tasks.iter().filter(|t| t.criterion == "dsv").count()
            ),
            &mut selection_body,
        );
        let t = tables::selection_table(&ev.summaries);
        let p = t.write_csv(tab_dir)?;
        selection_body.push_str(&t.to_html(&page.rel(&p)));
        selection_csv = Some(p);
    }
    page.sections.push(Section {
        id: "label-free-selection".into(),
        title: "Choosing the augmentation without labels".into(),
        body: selection_body,
    });
    Ok(selection_csv)
}

/// Section 6: every table as HTML and CSV; then writes the page and returns the outcome.
fn section_tables(
    c: &Ctx<'_>,
    mut page: Page,
    selection_csv: Option<PathBuf>,
) -> anyhow::Result<ReportOutcome> {
    let Ctx {
        study_root,
        out,
        cfg,
        records,
        rows,
        summary,
        tab_dir,
        expanded,
        slices,
        ..
    } = c;
    // 6. Tables.
    let mut written: Vec<PathBuf> = selection_csv.into_iter().collect();
    let mut body = String::new();
    let mut emit = |t: &Table, body: &mut String| -> anyhow::Result<()> {
        let p = t.write_csv(tab_dir)?;
        body.push_str(&t.to_html(&page.rel(&p)));
        written.push(p);
        Ok(())
    };
    body.push_str("<h3>Relative-AUC statistics</h3>");
    let pooled_ids: Vec<(String, String)> = slices
        .iter()
        .cloned()
        .chain(std::iter::once(("wild".to_string(), "rest".to_string())))
        .collect();
    for (t, a) in &pooled_ids {
        if let Some(table) = pooled(summary, t, a) {
            emit(&tables::relative_table(table, &category_of), &mut body)?;
        }
    }
    let per_dataset: Vec<&RelativeTable> = summary
        .relative
        .iter()
        .filter(|t| {
            !pooled_ids
                .iter()
                .any(|(tb, an)| pooled(summary, tb, an).is_some_and(|p| std::ptr::eq(p, *t)))
        })
        .collect();
    if !per_dataset.is_empty() {
        body.push_str("<details><summary>Per-dataset relative-AUC statistics</summary>");
        for t in per_dataset {
            emit(&tables::relative_table(t, &category_of), &mut body)?;
        }
        body.push_str("</details>");
    }
    body.push_str("<h3>Mean AUC per dataset and augmentation</h3>");
    for t in tables::auc_mean_tables(summary, expanded) {
        emit(&t, &mut body)?;
    }
    body.push_str("<h3>Run timings</h3>");
    let (timings, per_run) = tables::timing_tables(records, expanded);
    emit(&timings, &mut body)?;
    let p = per_run.write_csv(tab_dir)?;
    body.push_str(&format!(
        "<p class=\"csv\">Every run: <a href=\"{}\">runs.csv</a></p>",
        escape(&page.rel(&p))
    ));
    written.push(p);
    let p = tab_dir.join("results.csv");
    crate::study::store::write_csv(rows, &p)?;
    body.push_str(&format!(
        "<p class=\"csv\">Every AUC (run x testbed x anomaly): <a href=\"{}\">results.csv</a></p>",
        escape(&page.rel(&p))
    ));
    written.push(p);
    page.sections.push(Section {
        id: "tables".into(),
        title: "Tables".into(),
        body,
    });

    let subtitle = format!(
        "Study <code>{}</code> in <code>{}</code>: {} runs. Regenerate with <code>ssad report {} --out {}</code>.",
        escape(&cfg.name),
        escape(&study_root.display().to_string()),
        records.len(),
        escape(&study_root.display().to_string()),
        escape(&out.display().to_string())
    );
    let html = html::page(
        &format!("Augmentation study report — {}", cfg.name),
        &subtitle,
        &page.sections,
    );
    let index = out.join("index.html");
    ssad_core::fsio::write_atomic(&index, html.as_bytes())?;
    Ok(ReportOutcome {
        index,
        figures: page.figs,
        tables: written,
        notes: page.notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A relative-AUC row of `aug` over 10 tasks, none of them tied.
    fn row(
        aug: &str,
        estimate: f64,
        p: f64,
        verdict: Verdict,
    ) -> ssad_stats::relative::RelativeAucSummary {
        ssad_stats::relative::RelativeAucSummary {
            aug: aug.into(),
            n: 10,
            n_unpaired: 0,
            n_zeros: 0,
            mean: estimate,
            pseudo_median: estimate,
            conf_int: None,
            conf_level: 0.95,
            p_value: Some(p),
            statistic: 0.0,
            method: None,
            verdict,
            notes: vec![],
        }
    }

    #[test]
    fn answer_lines_mark_sweep_points_and_turn_ties_into_a_sentence() {
        let mut t = RelativeTable {
            testbed: "controlled".into(),
            anomaly: "cutout".into(),
            dataset: "all".into(),
            rows: vec![
                row("cutout(area=0.3)", 0.05, 0.001, Verdict::Helps),
                row("rotate", -0.02, 0.99, Verdict::Hurts),
            ],
        };
        let sweep = vec!["cutout(area=0.3)".to_string()];
        let line = answer_line(&t, &sweep);
        assert_eq!(
            line.matches("; a sweep point, in the sweep figure").count(),
            1,
            "{line}"
        );
        assert!(
            line.contains("<code>cutout(area=0.3)</code> (+0.050, "),
            "{line}"
        );
        let table = winner_table(
            &[("controlled".into(), "cutout".into())],
            &StudySummary {
                relative: vec![t.clone()],
                auc_means: vec![],
            },
            &sweep,
        );
        // The winner table names only augmentations of the forest plot (not sweep points).
        assert!(
            table.contains("<code>rotate</code>") && !table.contains("area=0.3"),
            "{table}"
        );
        for r in &mut t.rows {
            r.n_zeros = r.n;
            r.pseudo_median = 0.0;
        }
        let line = answer_line(&t, &sweep);
        assert!(
            line.contains("every augmentation ties with vanilla"),
            "{line}"
        );
    }

    #[test]
    fn sweep_families_read_values_and_param() {
        let cfg = StudyConfig::from_toml("datasets=['mnist']\naugs=['none','rotate','cutout(area=0.1..0.3 step 0.1)','geom+mask(p=0.2..0.4 step 0.2)']", "t").unwrap();
        let f = sweep_families(&cfg).unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].param, "cutout area");
        assert_eq!(
            f[0].members,
            vec![
                (0.1, "cutout(area=0.1)".to_string()),
                (0.2, "cutout(area=0.2)".to_string()),
                (0.3, "cutout(area=0.3)".to_string())
            ]
        );
        assert_eq!(f[1].param, "mask p");
        assert_eq!(
            f[1].members.iter().map(|m| m.0).collect::<Vec<_>>(),
            vec![0.2, 0.4]
        );
    }

    #[test]
    fn task_flag_parses_and_checks() {
        assert_eq!(
            parse_task("fashion-mnist:3").unwrap(),
            (DatasetName::FashionMnist, NormalClass::Label(3))
        );
        assert_eq!(
            parse_task("fashion-mnist:trouser").unwrap(),
            (DatasetName::FashionMnist, NormalClass::Label(1))
        );
        // Categories of MVTec-style data are kept by name (a number picks one by place).
        assert_eq!(
            parse_task("mvtec:cable").unwrap(),
            (
                DatasetName::Mvtec(None),
                NormalClass::Category("cable".into())
            )
        );
        assert_eq!(
            parse_task("mvtec:1").unwrap(),
            (
                DatasetName::Mvtec(None),
                NormalClass::Category("cable".into())
            )
        );
        assert!(format!("{:#}", parse_task("mnist").unwrap_err()).contains("DATASET:CLASS"));
        assert!(format!("{:#}", parse_task("mnist:12").unwrap_err()).contains("12"));
        assert!(format!("{:#}", parse_task("mnst:1").unwrap_err()).contains("mnst"));
    }
}
