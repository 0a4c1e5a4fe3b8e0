//! ssad: testbeds, the study runner, the report and augmentation selection, over the pure
//! crates and the detector trait. The `ssad` binary is a thin CLI over this library.

pub mod imageio;
pub mod progress;
pub mod report;
pub mod select;
pub mod study;
pub mod testbed;
