//! Everything in the report that loads saved models or reads datasets, so that only the
//! sections that need models (`model_figures`, `pixels`) reach them: figures 3-5 of one task
//! (reconstructions, reconstruction-error histograms and t-SNE maps of embeddings) and the
//! pixel-level example rows (input, reconstruction, error map, mask) of MVTec-style data.

use super::choose::TaskChoice;
use super::figures::{
    HistGroup, HistPanel, HistogramGrid, ReconGrid, ReconRow, TsneColouring, TsneGrid, TsnePanel,
};
use super::tsne::{tsne_2d, TsneConfig};
use crate::study::{RunRecord, StudyConfig, StudyDir};
use crate::testbed::{self, Testbed, TestbedKind};
use anyhow::Context;
use ssad_core::{augment_batch, Batch, Detector};
use ssad_stats::relative::VANILLA;
use std::path::{Path, PathBuf};

/// How many images the task figures use.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskSettings {
    /// Images per group (normal test, anomalous test, augmented normal) in the histograms.
    pub hist_per_group: usize,
    /// Points per group in the t-SNE maps.
    pub tsne_per_group: usize,
    /// Normal images in the reconstruction grid (anomalies: as many, spread over the groups).
    pub recon_normal: usize,
    /// At most this many histogram panels.
    pub max_panels: usize,
    /// t-SNE settings.
    pub tsne: TsneConfig,
}

impl Default for TaskSettings {
    fn default() -> Self {
        Self {
            hist_per_group: 600,
            tsne_per_group: 250,
            recon_normal: 4,
            max_panels: 16,
            tsne: TsneConfig::default(),
        }
    }
}

/// The figures of one task.
#[derive(Clone, Debug)]
pub struct TaskFigures {
    /// Originals / vanilla AE / DAE reconstructions.
    pub recon: ReconGrid,
    /// Reconstruction-error histograms, one panel per augmentation.
    pub hist: HistogramGrid,
    /// t-SNE coloured by group.
    pub tsne_group: TsneGrid,
    /// t-SNE coloured by anomaly score.
    pub tsne_score: TsneGrid,
}

/// `k` indices spread evenly over `0..len` (all of them when `k >= len`).
pub fn spaced(len: usize, k: usize) -> Vec<usize> {
    if k >= len {
        (0..len).collect()
    } else {
        (0..k).map(|i| i * len / k).collect()
    }
}

/// Model folder of the run (task, `aug`), or why there is none.
pub fn model_dir(
    study: &StudyDir,
    records: &[RunRecord],
    task: &TaskChoice,
    aug: &str,
) -> anyhow::Result<PathBuf> {
    let rec = records
        .iter()
        .find(|r| {
            r.key.dataset == task.dataset
                && r.key.normal == task.normal
                && r.key.seed == task.seed
                && r.key.aug == aug
        })
        .with_context(|| {
            format!(
                "no finished run of {}:{} seed {} with augmentation '{aug}'",
                task.dataset, task.normal, task.seed
            )
        })?;
    let rel = rec
        .model_dir
        .as_ref()
        .with_context(|| format!("run {} saved no model (save_models = false)", rec.run_id))?;
    let dir = study.root.join(rel);
    anyhow::ensure!(
        dir.is_dir(),
        "model folder {} of run {} is missing",
        dir.display(),
        rec.run_id
    );
    Ok(dir)
}

fn augmented(batch: &Batch, aug: &str, seed: u64) -> anyhow::Result<Batch> {
    let spec = ssad_augment::parse(aug).with_context(|| format!("augmentation '{aug}'"))?;
    let mut b = batch.clone();
    augment_batch(spec.build().as_ref(), &mut b, seed, 0, 0);
    Ok(b)
}

/// Percentile rank in [0, 1] of each score (0 = lowest).
pub fn percentiles(scores: &[f32]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut pct = vec![0.0; scores.len()];
    let denom = (scores.len().max(2) - 1) as f64;
    for (rank, &i) in order.iter().enumerate() {
        pct[i] = rank as f64 / denom;
    }
    pct
}

fn mse(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| ((x - y) as f64).powi(2))
        .sum::<f64>()
        / a.len().max(1) as f64
}

fn label_of(aug: &str) -> String {
    if aug == VANILLA {
        "vanilla AE (none)".into()
    } else {
        format!("DAE: {aug}")
    }
}

/// Test images of the testbed sorted into the normal group and the anomaly groups.
struct Groups {
    normal: Vec<usize>,
    /// (name, indices) per anomaly group; in-the-wild pools the other classes into one.
    anomalies: Vec<(String, Vec<usize>)>,
}

fn groups(tb: &Testbed, kind: &TestbedKind) -> Groups {
    let normal = (0..tb.groups.len())
        .filter(|&i| tb.groups[i] == tb.normal_group)
        .collect();
    let mut anomalies = Vec::new();
    match kind {
        TestbedKind::Controlled { .. } => {
            for (g, name) in tb.group_names.iter().enumerate() {
                if g as u16 != tb.normal_group {
                    anomalies.push((
                        name.clone(),
                        (0..tb.groups.len())
                            .filter(|&i| tb.groups[i] == g as u16)
                            .collect(),
                    ));
                }
            }
        }
        TestbedKind::InTheWild => {
            anomalies.push((
                "other classes".to_string(),
                (0..tb.groups.len())
                    .filter(|&i| tb.groups[i] != tb.normal_group)
                    .collect(),
            ));
        }
    }
    Groups { normal, anomalies }
}
/// Builds figures 3-5 for `task` from the study's saved models.
///
/// `hist_augs`: one histogram panel each (vanilla first); `dae_augs`: the DAEs shown next to
/// the vanilla AE in the reconstruction grid and the t-SNE maps (the first one also makes
/// the augmented points of the maps).
#[allow(clippy::too_many_arguments)]
pub fn task_figures(
    study: &StudyDir,
    cfg: &StudyConfig,
    records: &[RunRecord],
    task: &TaskChoice,
    hist_augs: &[String],
    dae_augs: &[String],
    data_dir: &Path,
    settings: &TaskSettings,
    factory: &dyn ssad_core::DetectorFactory,
    device: ssad_core::Device,
) -> anyhow::Result<TaskFigures> {
    let tb = testbed::build(
        &task.dataset,
        &task.testbed,
        task.normal.index_in(&task.dataset)?,
        data_dir,
        cfg.train_limit,
        cfg.size,
    )
    .with_context(|| {
        format!(
            "building the {} testbed of {}:{}",
            task.testbed.name(),
            task.dataset,
            task.normal
        )
    })?;
    let class_name = task.normal.name_in(&task.dataset);
    let g = groups(&tb, &task.testbed);
    anyhow::ensure!(
        !g.normal.is_empty() && g.anomalies.iter().any(|(_, v)| !v.is_empty()),
        "the testbed has no normal or no anomalous test images"
    );
    let class_text = if class_name == task.normal.to_string() {
        class_name.clone()
    } else {
        format!("{} ({class_name})", task.normal)
    };
    let task_text = format!(
        "{} class {class_text}, seed {}, {} testbed",
        task.dataset,
        task.seed,
        task.testbed.name()
    );

    // Histogram samples: normal test, anomalies (spread evenly over the groups), training.
    let all_anom: Vec<usize> = g
        .anomalies
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .collect();
    let normal_h: Vec<usize> = spaced(g.normal.len(), settings.hist_per_group)
        .into_iter()
        .map(|i| g.normal[i])
        .collect();
    let anom_h: Vec<usize> = spaced(all_anom.len(), settings.hist_per_group)
        .into_iter()
        .map(|i| all_anom[i])
        .collect();
    let normal_b = tb.test.select(&normal_h);
    let anom_b = tb.test.select(&anom_h);
    let train_b = tb
        .train
        .batch(&spaced(tb.train.len(), settings.hist_per_group));

    // t-SNE points: normal, each anomaly group, augmented training images (first DAE's aug).
    let mut tsne_idx: Vec<usize> = spaced(g.normal.len(), settings.tsne_per_group)
        .into_iter()
        .map(|i| g.normal[i])
        .collect();
    let mut tsne_group = vec![0usize; tsne_idx.len()];
    let mut group_names = vec![format!("normal test ({class_name})")];
    let per_anom = (settings.tsne_per_group / g.anomalies.len().max(1)).max(1);
    for (k, (name, idx)) in g.anomalies.iter().enumerate() {
        let pick: Vec<usize> = spaced(idx.len(), per_anom)
            .into_iter()
            .map(|i| idx[i])
            .collect();
        tsne_group.extend(std::iter::repeat_n(k + 1, pick.len()));
        tsne_idx.extend(pick);
        group_names.push(format!("anomaly: {name}"));
    }
    let mut tsne_b = tb.test.select(&tsne_idx);
    if let Some(aug) = dae_augs.first() {
        let train_t = tb
            .train
            .batch(&spaced(tb.train.len(), settings.tsne_per_group));
        let aug_t = augmented(&train_t, aug, task.seed)?;
        tsne_group.extend(std::iter::repeat_n(group_names.len(), aug_t.len()));
        group_names.push(format!("normal train + {aug}"));
        tsne_b.extend(&aug_t);
    }

    // Reconstruction columns: normal images, then anomalies spread over the groups.
    let mut recon_idx: Vec<usize> = spaced(g.normal.len(), settings.recon_normal)
        .into_iter()
        .map(|i| g.normal[i])
        .collect();
    let mut col_labels = vec!["normal".to_string(); recon_idx.len()];
    match &task.testbed {
        TestbedKind::Controlled { .. } => {
            let per = settings
                .recon_normal
                .div_ceil(g.anomalies.len().max(1))
                .max(2);
            for (name, idx) in &g.anomalies {
                // The same source images as the normal columns where possible, so a column
                // pair shows x and gen(x).
                let pick: Vec<usize> = spaced(idx.len(), per).into_iter().map(|i| idx[i]).collect();
                col_labels.extend(std::iter::repeat_n(name.clone(), pick.len()));
                recon_idx.extend(pick);
            }
        }
        TestbedKind::InTheWild => {
            // One image of each of several other classes.
            let mut seen = std::collections::BTreeSet::new();
            for &i in &all_anom {
                let c = tb.groups[i];
                if seen.len() < settings.recon_normal.max(4) + 2 && seen.insert(c) {
                    recon_idx.push(i);
                    col_labels.push(tb.group_names[c as usize].clone());
                }
            }
        }
    }
    let recon_b = tb.test.select(&recon_idx);
    let mut recon_rows = vec![ReconRow {
        label: "original".into(),
        images: (0..recon_b.len())
            .map(|i| recon_b.image(i).to_vec())
            .collect(),
        errors: None,
    }];

    let mut panels = Vec::new();
    let mut tsne_panels = Vec::new();
    let mut models: Vec<String> = Vec::new();
    for a in std::iter::once(&VANILLA.to_string())
        .chain(hist_augs.iter().take(settings.max_panels))
        .chain(dae_augs.iter())
    {
        if !models.contains(a) {
            models.push(a.clone());
        }
    }
    // Models of the reconstruction grid and the t-SNE maps: vanilla, then the DAEs.
    let tsne_models: Vec<String> = std::iter::once(VANILLA.to_string())
        .chain(dae_augs.iter().cloned())
        .collect();
    let mut reconstructs = true;
    for aug in &models {
        let dir = model_dir(study, records, task, aug)?;
        let det: Box<dyn Detector> = factory
            .load(&dir, device)
            .with_context(|| format!("loading the model of '{aug}' from {}", dir.display()))?;
        if hist_augs.iter().take(settings.max_panels).any(|h| h == aug) {
            let aug_train = augmented(&train_b, aug, task.seed)?;
            let to64 = |v: Vec<f32>| v.into_iter().map(f64::from).collect::<Vec<f64>>();
            panels.push(HistPanel {
                title: label_of(aug),
                groups: vec![
                    HistGroup {
                        label: format!("normal test ({class_name})"),
                        values: to64(det.score(&normal_b)?),
                    },
                    HistGroup {
                        label: format!(
                            "anomalous test ({})",
                            g.anomalies
                                .iter()
                                .map(|(n, _)| n.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        values: to64(det.score(&anom_b)?),
                    },
                    HistGroup {
                        label: "normal train, augmented by the panel's aug".into(),
                        values: to64(det.score(&aug_train)?),
                    },
                ],
            });
        }
        if tsne_models.contains(aug) {
            // Detectors that do not reconstruct (GEOM) add no row to the grid.
            if let Ok(rec) = det.reconstruct(&recon_b) {
                recon_rows.push(ReconRow {
                    label: label_of(aug),
                    images: (0..rec.len()).map(|i| rec.image(i).to_vec()).collect(),
                    errors: Some(
                        (0..rec.len())
                            .map(|i| mse(rec.image(i), recon_b.image(i)))
                            .collect(),
                    ),
                });
            } else {
                reconstructs = false;
            }
            let emb = det.embed(&tsne_b)?;
            let xy = tsne_2d(
                &emb.data,
                emb.dim,
                &TsneConfig {
                    seed: task.seed,
                    ..settings.tsne.clone()
                },
            )
            .with_context(|| format!("t-SNE of the '{aug}' model"))?;
            let score_pct = percentiles(&det.score(&tsne_b)?);
            tsne_panels.push((
                aug.clone(),
                TsnePanel {
                    title: label_of(aug),
                    xy,
                    group: tsne_group.clone(),
                    score_pct,
                },
            ));
        }
    }
    // Panel and row order: vanilla first, then the DAEs in the order given.
    let order = |a: &str| {
        tsne_models
            .iter()
            .position(|m| *m == a)
            .unwrap_or(usize::MAX)
    };
    tsne_panels.sort_by_key(|(a, _)| order(a));
    let tsne_panels: Vec<TsnePanel> = tsne_panels.into_iter().map(|(_, p)| p).collect();
    let first = recon_rows.remove(0);
    recon_rows.sort_by_key(|r| {
        tsne_models
            .iter()
            .position(|m| label_of(m) == r.label)
            .unwrap_or(usize::MAX)
    });
    recon_rows.insert(0, first);

    let dae_text = if dae_augs.is_empty() {
        "no DAE chosen".to_string()
    } else {
        dae_augs.join(", ")
    };
    Ok(TaskFigures {
        recon: ReconGrid {
            title: format!("Reconstructions — {task_text}"),
            subtitle: if reconstructs {
                format!("rows: test images, then each model's reconstruction (number: its squared error = anomaly score); DAEs: {dae_text}")
            } else {
                "the test images only: this study's detector does not reconstruct".into()
            },
            shape: recon_b.shape,
            col_labels,
            rows: recon_rows,
            scale: 3,
        },
        hist: HistogramGrid {
            title: if reconstructs {
                format!("Reconstruction error — {task_text}")
            } else {
                format!("Anomaly score — {task_text}")
            },
            subtitle: format!("one panel per augmentation the model was trained with; {} images per group; shared axes", settings.hist_per_group),
            panels,
            bins: 40,
        },
        tsne_group: TsneGrid {
            title: format!("t-SNE of embeddings by group — {task_text}"),
            subtitle: "each panel: one model's bottleneck embeddings of the same images".into(),
            group_names: group_names.clone(),
            panels: tsne_panels.clone(),
            colouring: TsneColouring::Group,
        },
        tsne_score: TsneGrid {
            title: format!("t-SNE of embeddings by anomaly score — {task_text}"),
            subtitle: "colour: the model's anomaly-score percentile among these points; marker: group".into(),
            group_names,
            panels: tsne_panels,
            colouring: TsneColouring::Score,
        },
    })
}

/// Draws one row per defect type of `rec`'s test set: input, reconstruction, error map, mask.
pub fn pixel_examples(
    study: &StudyDir,
    size: Option<usize>,
    rec: &RunRecord,
    data_dir: &Path,
    factory: &dyn ssad_core::DetectorFactory,
    device: ssad_core::Device,
    path: &Path,
) -> anyhow::Result<()> {
    let model_dir = study
        .root
        .join(rec.model_dir.as_deref().unwrap_or_default());
    let det = factory.load(&model_dir, device)?;
    let splits = ssad_core::data::load_splits(
        &rec.key.dataset,
        rec.key.normal.index_in(&rec.key.dataset)?,
        size,
        data_dir,
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
    // One scale for every map of the run (docs/formats.md, "Heat maps"): the quantile of the
    // pixel errors of (up to 256 of) the normal class's training images.
    let normal = splits
        .train
        .training_subset(Some(splits.normal_label), Some(256), 0);
    let scale = crate::heatmap::normal_scale(det.as_ref(), &normal)?
        .unwrap_or(crate::heatmap::DEFAULT_SCALE);
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
        let heat = crate::heatmap::heat_map_rgb(x.image(0), recon.image(0), shape, scale);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spaced_and_percentiles() {
        assert_eq!(spaced(10, 4), vec![0, 2, 5, 7]);
        assert_eq!(spaced(3, 5), vec![0, 1, 2]);
        assert_eq!(percentiles(&[0.3, 0.1, 0.2]), vec![1.0, 0.0, 0.5]);
    }
}
