//! One run of a study: its task's data (cached between runs of the same dataset and class),
//! its training and its scoring on every testbed into a [`RunRecord`], with engine panics
//! turned into errors ([`catch_engine_panic`]) so that a failed run is recorded and the study
//! goes on.

use super::config::{RunKey, StudyConfig, TunedOn};
use super::store::{now_unix, PairRecord, RunRecord, StudyDir, TestbedResult};
use crate::scores::{write_scores, ScoreRow};
use crate::testbed::{self, Testbed, TestbedName};
use anyhow::Context;
use ssad_core::data::{self, DatasetName};
use ssad_core::{Detector, DetectorFactory, EpochProgress};
use std::time::Instant;

/// Testbeds of one (dataset, normal class), by testbed name.
type TestbedsOf = ((DatasetName, usize), Vec<(TestbedName, Testbed)>);

/// Datasets and testbeds kept between consecutive runs of the same dataset and class.
#[derive(Default)]
pub(super) struct DataCache {
    splits: data::SplitsCache,
    testbeds: Option<TestbedsOf>,
}

impl DataCache {
    fn testbeds(
        &mut self,
        cfg: &StudyConfig,
        data_dir: &std::path::Path,
        dataset: &DatasetName,
        normal: usize,
    ) -> anyhow::Result<&[(TestbedName, Testbed)]> {
        let key = (dataset.clone(), normal);
        if self.testbeds.as_ref().map(|(k, _)| k) != Some(&key) {
            let splits = self.splits.get(dataset, normal, cfg.size, data_dir)?;
            let built = testbed::build_named(&cfg.testbeds, &cfg.gens, splits, cfg.train_limit)?;
            self.testbeds = Some((key, built));
        }
        Ok(&self.testbeds.as_ref().unwrap().1)
    }
}

thread_local! {
    /// True while this thread runs engine code under [`catch_engine_panic`].
    static IN_GUARD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f`, turning a panic inside it (libtorch's C++ exceptions reach Rust as panics in
/// `tch`, e.g. an allocation that fails mid-run) into an error that names the panic's message,
/// so a study records the run as failed with its reason and goes on, instead of aborting with
/// its lock file left behind. While `f` runs, the panic is not printed as a crash (the error
/// carries it instead); panics elsewhere print as usual.
pub fn catch_engine_panic<T>(f: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_GUARD.with(|g| g.get()) {
                previous(info);
            }
        }));
    });
    let was = IN_GUARD.with(|g| g.replace(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    IN_GUARD.with(|g| g.set(was));
    result.unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("(no message)");
        Err(anyhow::anyhow!(
            "the engine failed during the run: {message}"
        ))
    })
}

/// Trains one run and scores it on every testbed.
pub(super) fn run_one(
    cfg: &StudyConfig,
    dir: &StudyDir,
    data_dir: &std::path::Path,
    key: &RunKey,
    cache: &mut DataCache,
    factory: &dyn DetectorFactory,
    on_epoch: &mut dyn FnMut(&EpochProgress),
) -> anyhow::Result<RunRecord> {
    // The class's place in the dataset now: a category is found by name in the folder.
    let normal = key.normal.index_in(&key.dataset)?;
    let testbeds = cache.testbeds(cfg, data_dir, &key.dataset, normal)?;
    let train_set = &testbeds[0].1.train;
    let mut detector: Box<dyn Detector> =
        factory.build(&cfg.detector_spec(), train_set.shape, cfg.train.device)?;
    let mut train_cfg = cfg.train.clone();
    train_cfg.seed = key.seed;
    let started = Instant::now();
    let mut epoch_log = Vec::with_capacity(train_cfg.epochs);
    let mut tune_log = Vec::new();
    let fit = match &key.tuned_on {
        None => {
            let aug = ssad_augment::parse(&key.aug)?.build();
            detector.fit(train_set, aug.as_ref(), &train_cfg, &mut |p| {
                epoch_log.push(p.clone());
                on_epoch(p)
            })?
        }
        Some(task) => {
            // Tuned on the task's test images, without their labels.
            let validation = task_images(testbeds, task)?;
            detector
                .fit_self_tuned(
                    train_set,
                    &validation,
                    &key.aug,
                    &train_cfg,
                    &cfg.tune,
                    &mut |p| {
                        epoch_log.push(p.clone());
                        on_epoch(p)
                    },
                    &mut |t| tune_log.push(t.clone()),
                )?
                .fit
        }
    };
    let train_seconds = started.elapsed().as_secs_f64();
    let id = key.id();
    crate::epochs::write_epochs_tuned(&dir.epochs_path(key), &epoch_log, &tune_log)?;
    let normal_name = Some(key.normal.name_in(&key.dataset));
    detector.set_task(Some(ssad_core::TaskInfo {
        dataset: Some(key.dataset.clone()),
        images: None,
        normal: Some(normal),
        normal_name: normal_name.clone(),
        augmentation: key.aug.clone(),
        seed: key.seed,
        run_id: Some(id.clone()),
        ssad_version: env!("CARGO_PKG_VERSION").into(),
    }));
    let mut results = Vec::new();
    for (name, tb) in testbeds {
        // A self-tuned run is scored on its own task alone.
        if key.tuned_on.as_ref().is_some_and(|t| t.testbed() != *name) {
            continue;
        }
        // The error maps (squared error averaged over channels, at the model's resolution):
        // made once, for the pixel metrics and the map-based image scores alike.
        let with_pixels =
            tb.pixels.is_some() && cfg.detector == ssad_core::DetectorKind::Autoencoder;
        let kinds = &cfg.score.image_score;
        let needs_maps = with_pixels || kinds.iter().any(|k| !k.is_mean());
        let t0 = Instant::now();
        let maps = if needs_maps {
            Some(crate::pixel::error_maps(detector.as_ref(), &tb.test)?)
        } else {
            None
        };
        let maps_seconds = t0.elapsed().as_secs_f64();
        // Pixel-level results where the test images have masks (reconstruction-based
        // detectors only: GEOM has no error map); the same for every image score.
        let pixel = match (&tb.pixels, &maps) {
            (Some(truth), Some(maps)) if with_pixels => {
                let side = tb.test.shape.height;
                Some(
                    crate::pixel::evaluate(
                        maps,
                        side,
                        truth,
                        &tb.groups,
                        &tb.group_names,
                        tb.normal_group,
                    )
                    .with_context(|| format!("pixel metrics of run {id} on testbed {name}"))?,
                )
            }
            _ => None,
        };
        for (k, kind) in kinds.iter().enumerate() {
            let t0 = Instant::now();
            let scores = match &maps {
                Some(maps) if !kind.is_mean() => crate::pixel::scores_from_maps(
                    maps,
                    tb.test.shape.height,
                    tb.test.shape.width,
                    kind,
                ),
                _ => detector.score(&tb.test)?,
            };
            // The maps' time is counted once, with the first map-based score.
            let first_map_kind = kinds.iter().position(|k| !k.is_mean()) == Some(k);
            let score_seconds =
                t0.elapsed().as_secs_f64() + if first_map_kind { maps_seconds } else { 0.0 };
            let result = score_testbed(
                cfg,
                dir,
                key,
                (name, tb),
                &scores,
                kind,
                normal_name.as_deref(),
            )?;
            results.push(TestbedResult {
                score_seconds,
                pixel: pixel.clone(),
                ..result
            });
        }
    }
    let model_dir = if cfg.save_models {
        let rel = format!("models/{id}");
        // The saved model scores with the study's reference score by default.
        detector
            .set_image_score(cfg.reference_score())
            .with_context(|| format!("the image score of run {id}"))?;
        detector
            .save(&dir.root.join(&rel))
            .with_context(|| format!("saving the model of run {id}"))?;
        Some(rel)
    } else {
        None
    };
    Ok(RunRecord {
        key: key.clone(),
        run_id: id,
        config_hash: cfg.run_config_hash(key),
        ssad_version: env!("CARGO_PKG_VERSION").into(),
        // The device it really ran on (`auto` resolved), for timings read later.
        device: factory.device_label(cfg.train.device),
        threads: factory.cpu_threads(),
        precision: cfg.train.precision,
        finished_unix: now_unix(),
        train_images: train_set.len(),
        train_seconds,
        epoch_losses: fit.epoch_losses,
        results,
        model_dir,
        tuned: detector.training().and_then(|t| t.tuned.clone()),
    })
}

/// The pairs' metrics of one testbed's `scores` by image score `kind` and, when the study
/// saves scores, its score file (`scores/<run-id>.<testbed>.csv`; another score than `mean`
/// adds its slug: `scores/<run-id>.<testbed>.max_s4.csv`). The timing and pixel results are
/// the caller's.
fn score_testbed(
    cfg: &StudyConfig,
    dir: &StudyDir,
    key: &RunKey,
    (name, tb): (&TestbedName, &Testbed),
    scores: &[f32],
    kind: &ssad_core::ImageScore,
    normal_name: Option<&str>,
) -> anyhow::Result<TestbedResult> {
    let id = key.id();
    let scores64: Vec<f64> = scores.iter().map(|&s| s as f64).collect();
    let pairs = ssad_stats::metrics::pairwise(&scores64, &tb.groups, tb.normal_group)
        .with_context(|| format!("metrics of run {id} on testbed {name}"))?
        .into_iter()
        .map(|p| PairRecord {
            anomaly: match p.anomaly {
                ssad_stats::metrics::AnomalyTarget::Class(c) => tb.group_names[c as usize].clone(),
                ssad_stats::metrics::AnomalyTarget::Rest => super::record::REST_PAIR.into(),
            },
            n_normal: p.n_normal,
            n_anomaly: p.n_anomaly,
            auc: p.metrics.auc,
            ap: p.metrics.ap,
            f1: p.metrics.f1,
            precision: p.metrics.precision,
        })
        .filter(|p: &PairRecord| {
            key.tuned_on
                .as_ref()
                .is_none_or(|t| t.covers(*name, &p.anomaly))
        })
        .collect();
    let scores_file = if cfg.save_scores {
        let rel = if kind.is_mean() {
            format!("scores/{id}.{name}.csv")
        } else {
            format!("scores/{id}.{name}.{}.csv", kind.slug())
        };
        let rows: Vec<ScoreRow> = tb
            .groups
            .iter()
            .zip(scores)
            .enumerate()
            .map(|(index, (&g, &score))| {
                let group = tb.group_names[g as usize].clone();
                // The controlled testbed's normal group is `normal`: its images are of
                // the normal class, whose name is the label.
                let label = match (normal_name, *name == TestbedName::Controlled) {
                    (Some(n), true) if g == tb.normal_group => n.to_string(),
                    _ => group.clone(),
                };
                ScoreRow {
                    index,
                    path: tb
                        .paths
                        .as_ref()
                        .and_then(|p| p.get(index))
                        .map(|p| p.display().to_string())
                        .unwrap_or_default(),
                    label,
                    group,
                    anomaly: Some(g != tb.normal_group),
                    score,
                }
            })
            .collect();
        write_scores(&dir.root.join(&rel), &rows)?;
        Some(rel)
    } else {
        None
    };
    Ok(TestbedResult {
        testbed: *name,
        pairs,
        scores_file,
        score_seconds: 0.0,
        pixel: None,
        score: *kind,
    })
}

/// The unlabelled images of a self-tuned run's task: the in-the-wild test set, or the
/// controlled testbed's normal test images with one generator's anomalies. Only the images
/// are returned (no groups, no labels).
fn task_images(
    testbeds: &[(TestbedName, Testbed)],
    task: &TunedOn,
) -> anyhow::Result<ssad_core::Batch> {
    let (_, tb) = testbeds
        .iter()
        .find(|(n, _)| *n == task.testbed())
        .with_context(|| format!("the study builds no {} testbed to tune on", task.testbed()))?;
    Ok(match task {
        TunedOn::Wild => tb.test.clone(),
        TunedOn::Controlled(g) => {
            let gi = tb
                .group_names
                .iter()
                .position(|n| n == g)
                .with_context(|| format!("the controlled testbed has no generator '{g}'"))?;
            let keep: Vec<usize> = (0..tb.test.len())
                .filter(|&i| tb.groups[i] == tb.normal_group || tb.groups[i] as usize == gi)
                .collect();
            tb.test.select(&keep)
        }
    })
}
