//! Progress bars: styles with a linear ETA, and [`StudyBars`], the terminal view of a study's
//! progress events.
//!
//! indicatif's own `{eta}` estimates the rate with an exponentially weighted average that
//! decays with wall time; with steps that take minutes (an epoch of the reference ConvAE on a
//! CPU) it shows nonsense such as `41d 17:38`. `{eta_linear}` is the plain estimate
//! `elapsed x remaining / done`, which is what a user expects when every step costs about
//! the same.

use crate::study::StudyEvent;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use std::fmt::Write;

/// Estimated time left: `elapsed x (len - pos) / pos` as `HH:MM:SS`, `-` before the first
/// step and when the length is unknown.
pub fn linear_eta(pos: u64, len: Option<u64>, elapsed: std::time::Duration) -> String {
    match len {
        Some(len) if pos > 0 => {
            let left = elapsed.as_secs_f64() * (len.saturating_sub(pos)) as f64 / pos as f64;
            let s = left.round() as u64;
            format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
        }
        _ => "-".into(),
    }
}

/// `template` as a style with the extra key `{eta_linear}` ([`linear_eta`]) and `=> `
/// progress characters.
pub fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .expect("valid progress template")
        .with_key("eta_linear", |s: &ProgressState, w: &mut dyn Write| {
            let _ = w.write_str(&linear_eta(s.pos(), s.len(), s.elapsed()));
        })
        .progress_chars("=> ")
}

/// Draws [`StudyEvent`]s on a terminal: a bar of runs, and one bar of epochs per run in
/// flight (several when runs train at once), or one line per run when quiet. The runner itself
/// never draws; a library user may use this or log the events instead.
pub struct StudyBars {
    quiet: bool,
    multi: MultiProgress,
    runs: ProgressBar,
    epochs: usize,
    /// The epoch bar of each run in flight, by run id.
    in_flight: std::collections::HashMap<String, ProgressBar>,
}

impl StudyBars {
    /// Bars on stderr (hidden, with one line per run, when `quiet`); `epochs` per run.
    pub fn new(quiet: bool, epochs: usize) -> Self {
        let multi = MultiProgress::with_draw_target(if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        });
        let runs = multi.add(ProgressBar::new(0));
        runs.set_style(style(
            "runs   {bar:30.cyan/blue} {pos}/{len} [{elapsed_precise} < {eta_linear}] {msg}",
        ));
        Self {
            quiet,
            multi,
            runs,
            epochs,
            in_flight: Default::default(),
        }
    }

    /// Removes the epoch bar of a run that ended.
    fn end_run(&mut self, id: &str) {
        if let Some(bar) = self.in_flight.remove(id) {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
    }

    /// Draws one event.
    pub fn show(&mut self, event: StudyEvent<'_>) {
        match event {
            StudyEvent::Planned {
                in_shard,
                already_done,
                pending,
            } => {
                self.runs.set_length(pending as u64);
                if self.quiet {
                    eprintln!(
                        "{in_shard} runs in shard, {already_done} already done, {pending} to run"
                    );
                }
            }
            StudyEvent::RunStarted { key, .. } => {
                let bar = self.multi.add(ProgressBar::new(self.epochs as u64));
                bar.set_style(style(
                    "epochs {bar:30.green/white} {pos}/{len} [{eta_linear}] {prefix} {msg}",
                ));
                bar.set_prefix(key.id());
                self.in_flight.insert(key.id(), bar);
                self.runs
                    .set_message(format!("{} in flight", self.in_flight.len()));
            }
            StudyEvent::Epoch { key, progress } => {
                if let Some(bar) = self.in_flight.get(&key.id()) {
                    bar.set_length(progress.epochs as u64);
                    bar.set_position(progress.epoch as u64);
                    bar.set_message(format!("loss {:.5}", progress.loss));
                }
            }
            StudyEvent::RunFinished { key, record } => {
                self.end_run(&key.id());
                self.runs.inc(1);
                if self.quiet {
                    eprintln!("done {} ({:.1}s)", key.id(), record.train_seconds);
                }
            }
            StudyEvent::Note { text } => {
                if self.quiet {
                    eprintln!("{text}");
                } else {
                    self.runs.println(text);
                }
            }
            StudyEvent::RunBusy { key } => {
                self.runs.inc(1);
                let line = format!(
                    "run {} is being trained by another process: skipped",
                    key.id()
                );
                if self.quiet {
                    eprintln!("{line}");
                } else {
                    self.runs.println(line);
                }
            }
            StudyEvent::RunFailed { key, error } => {
                self.end_run(&key.id());
                self.runs.inc(1);
                self.runs
                    .println(format!("run {} failed: {error}", key.id()));
                if self.quiet {
                    eprintln!("run {} failed: {error}", key.id());
                }
            }
        }
    }

    /// Clears the epoch bars and leaves the runs bar.
    pub fn finish(&mut self) {
        for (_, bar) in self.in_flight.drain() {
            bar.finish_and_clear();
        }
        self.runs.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn eta_is_elapsed_times_remaining_over_done() {
        // 4 of 20 epochs in 7 min 6 s: 16 more at 106.5 s each = 28 min 24 s.
        assert_eq!(
            linear_eta(4, Some(20), Duration::from_secs(426)),
            "00:28:24"
        );
        assert_eq!(linear_eta(0, Some(20), Duration::from_secs(5)), "-");
        assert_eq!(linear_eta(3, None, Duration::from_secs(5)), "-");
        assert_eq!(linear_eta(20, Some(20), Duration::from_secs(5)), "00:00:00");
        assert_eq!(
            linear_eta(1, Some(101), Duration::from_secs(90)),
            "02:30:00"
        );
    }
}
