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
//! - [`relative`]: relative AUC of each augmentation against the vanilla
//!   (`none`) detector on the same tasks, with a one-sided test and a verdict.

#![warn(missing_docs)]

pub mod metrics;
pub mod relative;
pub mod wilcoxon;

mod normal;
mod rank;
mod zeroin;

pub use metrics::{MetricError, Metrics};
pub use relative::{AucRow, RelativeAucSummary, RelativeRow, Verdict};
pub use wilcoxon::{Alternative, StatsError, WilcoxonOptions, WilcoxonResult};
