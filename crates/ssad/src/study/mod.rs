//! The study runner (METHOD.md sections 4-6): a grid of datasets x normal classes x
//! augmentations x seeds, trained and scored resumably into a study folder, shardable over a
//! cluster's job array, and summarised with the paired statistics.

pub mod config;
pub mod jobs;
pub mod plan;
pub mod record;
pub mod results;
pub mod run_key;
pub mod run_one;
pub mod runner;
pub mod status;
pub mod store;
pub mod summary;
pub mod sweep;

pub use config::{expand_sweep, NormalClass, RunKey, ScoreSettings, StudyConfig, TunedOn, PRESETS};
pub use plan::{plan, Plan};
pub use runner::{
    catch_engine_panic, pending_runs, run_study, shard_runs, status, threads_per_job, Jobs,
    RunOptions, RunOutcome, Shard, StudyEvent, StudyStatus,
};
pub use store::{result_rows, LeftOut, RecordSet, ResultRow, RunRecord, StudyDir};
pub use summary::{summarize, StudySummary};
