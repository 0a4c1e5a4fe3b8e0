//! Which task the figures from saved models show: `--task` parsing, the default task, seed
//! and testbed of a study, and the default DAEs shown next to the vanilla AE.

use super::table::pooled;
use super::ReportOptions;
use crate::study::summary::{StudySummary, SEMANTIC_SLICE};
use crate::study::{NormalClass, StudyConfig};
use crate::testbed::{TestbedKind, TestbedName};
use anyhow::Context;
use ssad_core::data::DatasetName;
use ssad_stats::relative::VANILLA;

/// The task whose models figures 3-5 show.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskChoice {
    /// Dataset.
    pub dataset: DatasetName,
    /// Normal class (a label, or an MVTec-style category's name).
    pub normal: NormalClass,
    /// Training seed.
    pub seed: u64,
    /// Testbed supplying the anomalies (controlled: the study's generators; in-the-wild: the
    /// other classes).
    pub testbed: TestbedKind,
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
            .filter(|g| g != VANILLA && trained.contains(g))
            .take(3)
            .collect();
        if !aligned.is_empty() {
            return aligned;
        }
    }
    let slice = match testbed {
        TestbedKind::Controlled { .. } => cfg
            .gens
            .first()
            .map(|g| (TestbedName::Controlled.as_str(), g.as_str())),
        TestbedKind::InTheWild => Some((TestbedName::Wild.as_str(), SEMANTIC_SLICE)),
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
    best.or_else(|| trained.iter().find(|a| *a != VANILLA).cloned())
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
