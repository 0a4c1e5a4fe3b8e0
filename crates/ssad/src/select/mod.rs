//! Label-free augmentation selection (METHOD.md section 7).
//!
//! The study shows that the augmentation of a self-supervised detector must be chosen per
//! task, but a user has no labelled anomalies to choose with. This module ranks candidate
//! detectors (one per augmentation) with criteria that use only the training images, their
//! augmentation and the *unlabelled* test images:
//!
//! - [`loss`]: the criteria as pure functions on [`ssad_core::Embeddings`] — the published
//!   DSV validation loss (`r - s / r`, as the authors' code computes it; the exact formula is
//!   in that module's docs), ssad's earlier variant DSV-ssad (distance term + log spread
//!   term) and two baselines (mean distance and Gaussian MMD between training and test
//!   embeddings);
//! - [`task`]: one task — embed `X`, `Y = aug(X)` and `Z` with each candidate
//!   ([`ssad_core::Detector::embed`]) and rank;
//! - [`candidates`]: a task's data and one trained (or reused) detector per candidate;
//! - [`study`]: every task of a finished study, reusing its saved models;
//! - [`evaluate`]: joins a study's selections with its true AUCs (hit rates, selected vs
//!   oracle vs vanilla, Wilcoxon of selected vs vanilla) and writes the tables and the figure
//!   ([`plot`]).

pub mod candidates;
pub mod evaluate;
pub mod loss;
pub mod plot;
pub mod study;
pub mod task;

pub use candidates::{candidate_models, task_data, TaskData, TaskSource};
pub use evaluate::{
    evaluate, evaluate_by, evaluation_markdown, records_reference_score, write_evaluation,
    Evaluation, SliceSummary, TaskOutcome,
};
pub use loss::{
    criteria, dsv_loss, dsv_ssad_distance_term, dsv_ssad_loss, dsv_ssad_spread_term,
    mean_pairwise_distance, median_heuristic, mmd2_gaussian, mmd2_gaussian_with,
    pairwise_distances, Criterion, CriterionValues, DistanceTerm, DsvLoss, DsvSsadLoss, Mmd,
    SpreadTerm, CRITERIA_VERSION,
};
pub use plot::plot_selected_vs_oracle;
pub use study::{
    read_selections, select_study, write_selections, OldSelections, StudySelectOptions, StudyTask,
    TaskSelection,
};
pub use task::{
    score_candidates, score_candidates_multi, select, subsample_indices, Candidate,
    CandidateResult, SelectOptions, Selection, DEFAULT_MAX_POINTS,
};
