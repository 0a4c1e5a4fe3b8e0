//! `ssad stats` subcommands: flags -> [`ssad::stats_csv`], its JSON -> stdout (pretty, for
//! other tools and scripts).

use anyhow::bail;
use clap::{Args, Subcommand};
use ssad::stats_csv::{auc_report, relative_report, wilcoxon_report};
use ssad_stats::wilcoxon::{Alternative, Method, WilcoxonOptions};
use std::path::PathBuf;

/// `ssad stats` subcommands.
#[derive(Subcommand, Debug)]
pub enum StatsCommand {
    /// AUC, average precision, top-k F1 and precision of scores (CSV columns: score,label).
    ///
    /// label: 1/true = anomaly, 0/false = normal; a higher score means more anomalous.
    Auc {
        /// CSV file with a header row and columns `score` and `label` (or `anomaly`, which is
        /// used when present: ssad's score files, docs/formats.md).
        file: PathBuf,
        /// Also print the ROC curve (every distinct threshold; the first, +inf, prints as null).
        #[arg(long)]
        roc: bool,
    },
    /// Wilcoxon signed-rank test with the Hodges-Lehmann pseudo-median and its interval.
    ///
    /// CSV columns: `a,b` (paired samples; the test is on a - b) or `x` (the differences).
    Wilcoxon {
        /// CSV file with a header row and columns `a` and `b`, or `x`.
        file: PathBuf,
        #[command(flatten)]
        test: TestArgs,
    },
    /// Relative AUC of each augmentation against vanilla (`none`) with a one-sided test.
    ///
    /// CSV columns: dataset,normal,anomaly,seed,aug,auc (one row per task and augmentation).
    Relative {
        /// CSV file with a header row and the columns above.
        file: PathBuf,
        /// Level of the two-sided confidence interval of the pseudo-median.
        #[arg(long, default_value_t = 0.95)]
        conf_level: f64,
        /// Continuity correction in the normal approximation.
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        correction: bool,
    },
}

/// Options of the signed-rank test.
#[derive(Args, Debug, Clone)]
pub struct TestArgs {
    /// Alternative hypothesis: two-sided, greater (a > b, x > 0) or less.
    #[arg(long, default_value = "two-sided")]
    pub alternative: Alternative,
    /// Level of the two-sided confidence interval of the pseudo-median.
    #[arg(long, default_value_t = 0.95)]
    pub conf_level: f64,
    /// Continuity correction in the normal approximation (default true, as R; SciPy's default is false).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub correction: bool,
    /// auto (exact below 50 nonzero differences without ties or zeros, as R), exact or normal.
    #[arg(long, default_value = "auto")]
    pub method: String,
    /// Absolute tolerance of the root finder for the normal-approximation interval (R: 1e-4).
    #[arg(long, default_value_t = ssad_stats::wilcoxon::R_CI_TOLERANCE)]
    pub ci_tolerance: f64,
}

impl TestArgs {
    /// The library options these arguments describe.
    pub fn options(&self) -> anyhow::Result<WilcoxonOptions> {
        let method = match self.method.to_ascii_lowercase().as_str() {
            "auto" => None,
            "exact" => Some(Method::Exact),
            "normal" | "asymptotic" | "approx" => Some(Method::NormalApproximation),
            other => bail!("unknown method '{other}': expected auto, exact or normal"),
        };
        Ok(WilcoxonOptions {
            alternative: self.alternative,
            correction: self.correction,
            conf_level: self.conf_level,
            method,
            ci_tolerance: self.ci_tolerance,
        })
    }
}

/// Runs one `ssad stats` subcommand.
pub fn run(cmd: StatsCommand) -> anyhow::Result<()> {
    let out = match cmd {
        StatsCommand::Auc { file, roc } => auc_report(&file, roc)?,
        StatsCommand::Wilcoxon { file, test } => wilcoxon_report(&file, &test.options()?)?,
        StatsCommand::Relative {
            file,
            conf_level,
            correction,
        } => relative_report(
            &file,
            &WilcoxonOptions {
                conf_level,
                correction,
                ..Default::default()
            },
        )?,
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
