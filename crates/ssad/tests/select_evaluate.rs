//! The evaluation of label-free selection against true AUCs, on synthetic selections and run
//! records whose ranks, hit rates, means and Wilcoxon p-values are computed by hand.

use ssad::select::{
    evaluate, evaluation_markdown, read_selections, write_evaluation, CandidateResult,
    CriterionValues, DistanceTerm, DsvLoss, DsvSsadLoss, Mmd, Selection, SpreadTerm, StudyTask,
    TaskSelection, CRITERIA_VERSION,
};
use ssad::study::store::{PairRecord, TestbedResult};
use ssad::study::{NormalClass, RunKey, RunRecord};
use ssad_core::data::DatasetName;

/// Candidate criteria where only the published DSV loss, the DSV-ssad loss and the MMD (also
/// the mean distance) matter.
fn values(dsv: f64, dsv_ssad: f64, mmd: f64) -> CriterionValues {
    CriterionValues {
        dsv: DsvLoss {
            loss: dsv,
            r: dsv,
            s: 0.0,
            s_unclamped: 0.0,
            projection_std: 0.0,
            d_xy_z: 1.0,
            d_x_y: 1.0,
        },
        dsv_ssad: DsvSsadLoss {
            loss: dsv_ssad,
            distance: DistanceTerm {
                value: dsv_ssad,
                mean_dist_xy_z: 1.0,
                mean_dist_x_y: 1.0,
            },
            spread: SpreadTerm {
                value: 0.0,
                mean_ratio: 1.0,
                directions: 1,
                fallback_directions: 0,
            },
        },
        mean_dist_x_z: mmd,
        mmd: Mmd {
            mmd2: mmd,
            bandwidth: 1.0,
        },
    }
}

const AUGS: [&str; 4] = ["none", "rotate", "cutout", "flip"];

fn record(normal: usize, aug: &str, auc: f64) -> RunRecord {
    let key = RunKey {
        dataset: DatasetName::Mnist,
        normal: NormalClass::Label(normal),
        aug: aug.into(),
        seed: 0,
        tuned_on: None,
    };
    RunRecord {
        run_id: key.id(),
        key,
        config_hash: String::new(),
        ssad_version: String::new(),
        device: "cpu".into(),
        threads: 1,
        precision: Default::default(),
        finished_unix: 0,
        train_images: 10,
        train_seconds: 0.0,
        epoch_losses: vec![],
        results: vec![TestbedResult {
            testbed: ssad::testbed::TestbedName::Wild,
            pairs: vec![PairRecord {
                anomaly: "rest".into(),
                n_normal: 1,
                n_anomaly: 1,
                auc,
                ap: 0.0,
                f1: 0.0,
                precision: 0.0,
            }],
            pixel: None,
            score: Default::default(),
            scores_file: None,
            score_seconds: 0.0,
        }],
        model_dir: None,
        tuned: None,
    }
}

/// Five tasks (normal classes 0..5). AUCs of none, rotate, cutout, flip per task, and the DSV
/// losses (lowest wins) making DSV pick the candidate given in the comment.
fn fixture() -> (Vec<TaskSelection>, Vec<RunRecord>) {
    // Dyadic AUCs, so differences are exact in binary floating point.
    let aucs = [
        [0.625, 0.75, 0.875, 0.5], // DSV picks cutout: best (rank 1); selected - vanilla +0.25
        [0.5, 0.625, 0.5625, 0.375], // DSV picks cutout: rank 2; +0.0625
        [0.75, 0.875, 0.6875, 0.9375], // DSV picks rotate: rank 2; +0.125
        [0.625, 0.4375, 0.6875, 0.75], // DSV picks rotate: rank 4; -0.1875
        [0.875, 0.625, 0.9375, 0.75], // DSV picks none: rank 2; 0 (dropped by the test)
    ];
    let dsv_losses = [
        [0.9, 0.8, 0.1, 0.7],
        [0.9, 0.8, 0.1, 0.7],
        [0.9, 0.1, 0.8, 0.7],
        [0.9, 0.1, 0.8, 0.7],
        [0.1, 0.9, 0.8, 0.7],
    ];
    // MMD (highest wins) always picks flip; so does DSV-ssad (lowest wins).
    let mmds = [0.1, 0.2, 0.3, 0.9];
    let ssad = [0.9, 0.8, 0.7, 0.1];
    let mut sels = Vec::new();
    let mut recs = Vec::new();
    for (t, (auc, dsv)) in aucs.iter().zip(&dsv_losses).enumerate() {
        sels.push(TaskSelection {
            task: StudyTask {
                dataset: "mnist".into(),
                normal: NormalClass::Label(t),
                seed: 0,
                testbed: "wild".into(),
                anomaly: "rest".into(),
            },
            selection: Selection {
                criteria_version: CRITERIA_VERSION,
                candidates: (0..4)
                    .map(|k| CandidateResult {
                        name: AUGS[k].into(),
                        values: values(dsv[k], ssad[k], mmds[k]),
                    })
                    .collect(),
                n_train: 10,
                n_test: 10,
            },
        });
        for k in 0..4 {
            recs.push(record(t, AUGS[k], auc[k]));
        }
    }
    (sels, recs)
}

#[test]
fn ranks_hit_rates_means_and_wilcoxon_by_hand() {
    let (sels, recs) = fixture();
    let ev = evaluate(&sels, &recs).unwrap();
    let dsv: Vec<_> = ev.tasks.iter().filter(|t| t.criterion == "dsv").collect();
    assert_eq!(dsv.len(), 5);
    let picks: Vec<(&str, usize)> = dsv.iter().map(|t| (t.selected.as_str(), t.rank)).collect();
    assert_eq!(
        picks,
        vec![
            ("cutout", 1),
            ("cutout", 2),
            ("rotate", 2),
            ("rotate", 4),
            ("none", 2)
        ]
    );
    assert_eq!(dsv[0].oracle, "cutout");
    assert_eq!(dsv[2].oracle, "flip");
    assert_eq!(dsv[1].vanilla_auc, Some(0.50));
    assert!((dsv[0].mean_auc - 0.6875).abs() < 1e-12);

    // Only one slice (wild / rest): no pooled rows.
    let s = ev.summaries.iter().find(|s| s.criterion == "dsv").unwrap();
    assert_eq!(
        (
            s.testbed.as_str(),
            s.anomaly.as_str(),
            s.tasks,
            s.candidates
        ),
        ("wild", "rest", 5, 4)
    );
    assert_eq!(ev.summaries.len(), 6, "one row per criterion");
    assert!((s.top1 - 0.2).abs() < 1e-12);
    assert!((s.top3 - 0.8).abs() < 1e-12);
    // Within 0.01 of the oracle: only task 0.
    assert!((s.near_best - 0.2).abs() < 1e-12);
    assert!((s.mean_rank - 11.0 / 5.0).abs() < 1e-12);
    // Selected 0.875, 0.5625, 0.875, 0.4375, 0.875; oracle 0.875, 0.625, 0.9375, 0.75,
    // 0.9375; vanilla 0.625, 0.5, 0.75, 0.625, 0.875.
    assert!((s.selected_auc - 3.625 / 5.0).abs() < 1e-12);
    assert!((s.oracle_auc - 4.125 / 5.0).abs() < 1e-12);
    assert!((s.vanilla_auc.unwrap() - 3.375 / 5.0).abs() < 1e-12);
    let cand_means = [0.6875, 0.515625, 0.8125, 0.625, 0.796875];
    assert!((s.candidate_mean_auc - cand_means.iter().sum::<f64>() / 5.0).abs() < 1e-12);
    // Differences +0.25, +0.0625, +0.125, -0.1875, 0: the zero is dropped (n = 4), |d| ranks
    // 0.0625 -> 1, 0.125 -> 2, 0.1875 -> 3, 0.25 -> 4, so V = 4 + 1 + 2 = 7. With a zero
    // difference R (and ssad-stats) use the normal approximation with continuity correction:
    // mean 4*5/4 = 5, variance 4*5*9/24 = 7.5, z = (7 - 5 - 0.5) / sqrt(7.5), p = 1 - Phi(z)
    // = 0.2919412 (R: pnorm(1.5 / sqrt(7.5), lower.tail = FALSE)).
    assert_eq!(s.wilcoxon_n, 5);
    assert!(
        (s.p_value.unwrap() - 0.2919412).abs() < 1e-6,
        "p = {:?}",
        s.p_value
    );
    assert_eq!(s.verdict, "neutral");
    // Hodges-Lehmann: median of the 10 Walsh averages of the 4 nonzero differences:
    // -0.1875, -0.0625, -0.03125, 0.03125, 0.0625, 0.09375, 0.125, 0.15625, 0.1875, 0.25
    // -> (0.0625 + 0.09375) / 2 = 0.078125.
    assert!(
        (s.pseudo_median.unwrap() - 0.078125).abs() < 1e-12,
        "{:?}",
        s.pseudo_median
    );

    // MMD always picks flip: ranks 4, 4, 1, 1, 3.
    let m = ev.summaries.iter().find(|s| s.criterion == "mmd").unwrap();
    assert!((m.mean_rank - 13.0 / 5.0).abs() < 1e-12);
    assert!((m.top1 - 0.4).abs() < 1e-12);

    // DSV-ssad also picks flip: ranks 4, 4, 1, 1, 3; selected - vanilla -0.125, -0.125,
    // +0.1875, +0.125, -0.125, whose 15 Walsh averages have median 0.
    let o = ev
        .summaries
        .iter()
        .find(|s| s.criterion == "dsv-ssad")
        .unwrap();
    assert!((o.top1 - 0.4).abs() < 1e-12 && (o.top3 - 0.6).abs() < 1e-12);
    assert!((o.mean_rank - 13.0 / 5.0).abs() < 1e-12);
    assert_eq!(o.pseudo_median, Some(0.0));
    assert!(ev.summaries.iter().all(|s| s.criteria_version == 2));
    assert!(ev.tasks.iter().all(|t| t.criteria_version == 2));

    let md = evaluation_markdown(&ev, "synthetic");
    // The two DSVs side by side: best-of-N, top-3, mean rank, selected - vanilla.
    assert!(
        md.contains("Criteria version 2: `dsv` is the published DSV"),
        "{md}"
    );
    assert!(
        md.contains(
            "| wild / rest | 5 | 4 | 20% | 80% | 2.20 | +0.078 (p 0.292) | 40% | 60% | 2.60 | +0.000 (p "
        ),
        "{md}"
    );
    let first = md.split("\n## ").nth(1).unwrap();
    assert!(
        first.starts_with("Published DSV (dsv) vs DSV-ssad"),
        "{first}"
    );
    assert!(md.contains("# Label-free augmentation selection: synthetic"));
    // Then the per-slice table and the per-task choices of ssad's pick, DSV-ssad, which picks
    // flip everywhere: hits in tasks 2 and 3 (top-1 and within 0.01: 2 of 5), top-3 in 2, 3
    // and 4 (rank 3), mean rank 13/5; selected AUCs 0.5, 0.375, 0.9375, 0.75, 0.75, mean
    // 0.6625 (printed 0.662: the double nearest 0.6625 lies below it).
    assert!(
        md.contains("## DSV-ssad (ssad's pick), per testbed and anomaly"),
        "{md}"
    );
    assert!(
        md.contains("| wild / rest | 5 | 40% | 60% | 40% | 2.60 of 4 | 0.662 | 0.825 | 0.675 |"),
        "{md}"
    );
    assert!(
        md.contains(
            "| mnist | 3 | 0 | wild / rest | flip | 1 of 4 | 0.750 | flip | 0.750 | 0.625 |"
        ),
        "{md}"
    );

    let dir = tempfile::tempdir().unwrap();
    let written = write_evaluation(&ev, dir.path(), "synthetic").unwrap();
    assert_eq!(written.len(), 4);
    let png = image::open(dir.path().join("selected-vs-oracle.png")).unwrap();
    assert!(png.width() >= 600 && png.height() >= 500);
    let csv = std::fs::read_to_string(dir.path().join("tasks.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 5 * 6);
    assert!(csv.lines().next().unwrap().ends_with(",criteria_version"));
}

#[test]
fn missing_auc_is_named() {
    let (sels, mut recs) = fixture();
    recs.retain(|r| !(r.key.normal == NormalClass::Label(2) && r.key.aug == "flip"));
    let e = evaluate(&sels, &recs).unwrap_err().to_string();
    assert!(
        e.contains("'flip'") && e.contains("mnist c2 s0 wild/rest"),
        "{e}"
    );
}

#[test]
fn selections_of_another_criteria_version_are_refused() {
    // In memory: an evaluation never mixes a version-1 `dsv` with the published one.
    let (mut sels, recs) = fixture();
    sels[3].selection.criteria_version = 1;
    let e = evaluate(&sels, &recs).unwrap_err().to_string();
    assert!(
        e.contains("mnist c3 s0 wild/rest") && e.contains("criteria version 1"),
        "{e}"
    );

    // On disk: a selections.json written before the version field existed is version 1.
    let dir = tempfile::tempdir().unwrap();
    let old = r#"[{"task": {"dataset": "mnist", "normal": 0, "seed": 0, "testbed": "wild",
        "anomaly": "rest"}, "selection": {"candidates": [], "n_train": 2, "n_test": 2}}]"#;
    std::fs::write(dir.path().join("selections.json"), old).unwrap();
    let e = format!("{:#}", read_selections(dir.path()).unwrap_err());
    assert!(
        e.contains("criteria version 1") && e.contains("dsv-ssad") && e.contains("without --reuse"),
        "{e}"
    );
    // The current version reads back.
    let (sels, _) = fixture();
    ssad::select::write_selections(&sels, dir.path()).unwrap();
    assert_eq!(read_selections(dir.path()).unwrap(), sels);
}
