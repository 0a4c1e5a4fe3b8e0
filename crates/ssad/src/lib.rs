//! ssad: testbeds, the study runner, the report, augmentation selection and the use of a
//! detector on new images, over the pure crates and the detector factory. The `ssad` binary is
//! a thin CLI over this library: every command is a function here (see `examples/`).

pub mod detect;
pub mod epochs;
pub mod figure;
pub mod heatmap;
pub mod imageio;
pub mod pixel;
pub mod progress;
pub mod report;
pub mod run_bench;
pub mod scores;
pub mod select;
pub mod single_run;
pub mod stats_csv;
pub mod study;
pub mod testbed;
pub mod train_aug;
pub mod tune;
