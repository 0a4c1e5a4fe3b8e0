//! Progress-bar styles with a linear ETA.
//!
//! indicatif's own `{eta}` estimates the rate with an exponentially weighted average that
//! decays with wall time; with steps that take minutes (an epoch of the reference ConvAE on a
//! CPU) it shows nonsense such as `41d 17:38`. `{eta_linear}` is the plain estimate
//! `elapsed x remaining / done`, which is what a user expects when every step costs about
//! the same.

use indicatif::{ProgressState, ProgressStyle};
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
