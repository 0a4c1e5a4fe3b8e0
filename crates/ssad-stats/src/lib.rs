//! ssad-stats: detection metrics and paired statistics (METHOD.md section 5).
//!
//! Pure Rust, no deep-learning dependency:
//! - [`metrics`]: ROC AUC (ties count one half), ROC curve, average precision
//!   (as scikit-learn's `average_precision_score`), F1 and precision of the
//!   top-k scores with k = number of anomalies (as the reference code), per
//!   (normal, anomaly class) pair and one-vs-rest.
//! - [`wilcoxon`]: paired Wilcoxon signed-rank test (exact or normal
//!   approximation, as R's `wilcox.test`), Hodges-Lehmann pseudo-median and
//!   its confidence interval.
//! - [`pixel`]: pixel-level metrics of anomaly maps against ground-truth
//!   masks: pixel ROC AUC and AUPRO (MVTec AD evaluation), with the
//!   8-connected region labelling they need.
//! - [`relative`]: relative AUC of each augmentation against the vanilla
//!   (`none`) detector on the same tasks, with a one-sided test and a verdict.

#![warn(missing_docs)]

pub mod metrics;
pub mod pixel;
pub mod relative;
pub mod wilcoxon;

mod normal;
mod rank;
mod zeroin;

pub use metrics::{MetricError, Metrics};
pub use pixel::{
    aupro, label_regions, pixel_auroc, pixel_metrics, PixelMap, PixelMetrics, AUPRO_MAX_FPR,
};
pub use relative::{AucRow, RelativeAucSummary, RelativeRow, Verdict};
pub use wilcoxon::{Alternative, StatsError, WilcoxonOptions, WilcoxonResult};
