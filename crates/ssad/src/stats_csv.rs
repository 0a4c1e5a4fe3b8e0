//! The statistics of `ssad stats` on CSV files, as JSON values: metrics of scored samples
//! ([`auc_report`]), the paired Wilcoxon test with its Hodges-Lehmann estimate
//! ([`wilcoxon_report`]) and relative AUCs against vanilla ([`relative_report`]). Errors name
//! the file, the line and the column.

use anyhow::{bail, Context};
use serde_json::{json, Value};
use ssad_stats::metrics::{evaluate, roc_curve};
use ssad_stats::relative::{relative_auc_table_with, AucRow};
use ssad_stats::wilcoxon::{wilcoxon_signed_rank, WilcoxonOptions};
use std::path::{Path, PathBuf};

/// A CSV file read whole: its header and its records.
struct Table {
    path: PathBuf,
    headers: Vec<String>,
    rows: Vec<csv::StringRecord>,
}

impl Table {
    fn read(path: &Path) -> anyhow::Result<Table> {
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_path(path)
            .with_context(|| format!("cannot open CSV file {}", path.display()))?;
        let headers = reader
            .headers()
            .with_context(|| format!("cannot read the header row of {}", path.display()))?
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect();
        let rows = reader
            .records()
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("cannot read CSV file {}", path.display()))?;
        if rows.is_empty() {
            bail!("{}: no data rows after the header", path.display());
        }
        Ok(Table {
            path: path.to_path_buf(),
            headers,
            rows,
        })
    }

    fn column(&self, name: &str) -> Option<usize> {
        self.headers.iter().position(|h| h == name)
    }

    fn require(&self, name: &str) -> anyhow::Result<usize> {
        self.column(name).with_context(|| {
            format!(
                "{}: no column '{name}' (header has: {})",
                self.path.display(),
                self.headers.join(",")
            )
        })
    }

    /// The field of data row `i` (0-based) in column `col`; line numbers in
    /// messages count the header as line 1.
    fn field(&self, i: usize, col: usize, name: &str) -> anyhow::Result<&str> {
        self.rows[i].get(col).with_context(|| {
            format!(
                "{} line {}: missing column '{name}'",
                self.path.display(),
                i + 2
            )
        })
    }

    fn numbers(&self, name: &str) -> anyhow::Result<Vec<f64>> {
        let col = self.require(name)?;
        (0..self.rows.len())
            .map(|i| {
                let s = self.field(i, col, name)?;
                s.parse::<f64>().map_err(|_| {
                    anyhow::anyhow!(
                        "{} line {}: column '{name}': '{s}' is not a number",
                        self.path.display(),
                        i + 2
                    )
                })
            })
            .collect()
    }
}

/// Parses a label: 1/true = anomaly, 0/false = normal.
fn parse_label(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "1" | "1.0" | "true" => Some(true),
        "0" | "0.0" | "false" => Some(false),
        _ => None,
    }
}

/// The JSON of `ssad stats auc`.
pub fn auc_report(path: &Path, with_roc: bool) -> anyhow::Result<Value> {
    let table = Table::read(path)?;
    let scores = table.numbers("score")?;
    // A score file of ssad (`index,path,label,group,anomaly,score`) holds the flags in
    // `anomaly` and the class names in `label`; other files give the flags as `label`.
    let name = if table.column("anomaly").is_some() {
        "anomaly"
    } else {
        "label"
    };
    let col = table.require(name)?;
    let labels = (0..table.rows.len())
        .map(|i| {
            let s = table.field(i, col, name)?;
            parse_label(s).with_context(|| {
                format!(
                    "{} line {}: {name} '{s}' is not 1/true (anomaly) or 0/false (normal)",
                    path.display(),
                    i + 2
                )
            })
        })
        .collect::<anyhow::Result<Vec<bool>>>()?;
    let context = || {
        format!(
            "{} (indices count data rows from 0; row i is line i + 2)",
            path.display()
        )
    };
    let m = evaluate(&scores, &labels).with_context(context)?;
    let n_anomaly = labels.iter().filter(|&&l| l).count();
    let mut out = json!({
        "file": path.display().to_string(),
        "n": labels.len(),
        "n_anomaly": n_anomaly,
        "n_normal": labels.len() - n_anomaly,
        "auc": m.auc,
        "ap": m.ap,
        "f1": m.f1,
        "precision": m.precision,
    });
    if with_roc {
        out["roc"] = serde_json::to_value(roc_curve(&scores, &labels).with_context(context)?)?;
    }
    Ok(out)
}

/// The JSON of `ssad stats wilcoxon`.
pub fn wilcoxon_report(path: &Path, opts: &WilcoxonOptions) -> anyhow::Result<Value> {
    let table = Table::read(path)?;
    let has_x = table.column("x").is_some();
    let has_ab = table.column("a").is_some() && table.column("b").is_some();
    let (diffs, input) = match (has_x, has_ab) {
        (true, false) => (table.numbers("x")?, "x"),
        (false, true) => {
            let a = table.numbers("a")?;
            let b = table.numbers("b")?;
            (a.iter().zip(&b).map(|(a, b)| a - b).collect(), "a - b")
        }
        (true, true) => bail!(
            "{}: has both a column x and columns a, b: give either the differences x or the paired a, b",
            path.display()
        ),
        (false, false) => bail!(
            "{}: expected a column x (differences) or columns a and b (paired samples); header has: {}",
            path.display(),
            table.headers.join(",")
        ),
    };
    let result = wilcoxon_signed_rank(&diffs, opts).with_context(|| {
        format!(
            "{} (indices count data rows from 0; row i is line i + 2)",
            path.display()
        )
    })?;
    let mut out = json!({ "file": path.display().to_string(), "input": input });
    if let (Value::Object(o), Value::Object(r)) = (&mut out, serde_json::to_value(&result)?) {
        o.extend(r);
    }
    Ok(out)
}

/// The JSON of `ssad stats relative`.
pub fn relative_report(path: &Path, opts: &WilcoxonOptions) -> anyhow::Result<Value> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .with_context(|| format!("cannot open CSV file {}", path.display()))?;
    /// A row of a results table: [`AucRow`]'s columns and, from format 5, the image score.
    #[derive(serde::Deserialize)]
    struct Row {
        dataset: String,
        normal: String,
        anomaly: String,
        seed: u64,
        aug: String,
        auc: f64,
        #[serde(default)]
        score: Option<String>,
    }
    let read = reader
        .deserialize::<Row>()
        .enumerate()
        .map(|(i, r)| {
            r.with_context(|| {
                format!(
                    "{} line {}: expected columns dataset,normal,anomaly,seed,aug,auc",
                    path.display(),
                    i + 2
                )
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    // Rows of several image scores (results format 5) are told apart as the study summary
    // does: `aug @ score` for every score but the reference.
    let score_of = |r: &Row| r.score.clone().filter(|s| !s.is_empty());
    let scores: Vec<String> = read
        .iter()
        .map(|r| score_of(r).unwrap_or_else(|| "mean".into()))
        .collect();
    let reference = crate::study::summary::reference_score(scores.iter().map(String::as_str));
    let rows: Vec<AucRow> = read
        .into_iter()
        .zip(&scores)
        .map(|(r, s)| AucRow {
            aug: crate::study::summary::scored_label(&r.aug, s, &reference),
            dataset: r.dataset,
            normal: r.normal,
            anomaly: r.anomaly,
            seed: r.seed,
            auc: r.auc,
        })
        .collect();
    for (i, r) in rows.iter().enumerate() {
        anyhow::ensure!(
            r.auc.is_finite() && (0.0..=1.0).contains(&r.auc),
            "{} line {}: auc {} is not an AUC (expected a number in [0, 1])",
            path.display(),
            i + 2,
            r.auc
        );
    }
    let table = relative_auc_table_with(&rows, opts)
        .with_context(|| format!("{} (row i is line i + 2)", path.display()))?;
    Ok(json!({
        "file": path.display().to_string(),
        "alternative": "greater",
        "augmentations": table,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn csv_file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn auc_json_by_hand() {
        // anomalies 0.9, 0.5; normals 0.5, 0.1, 0.2 -> AUC 5.5/6.
        let f = csv_file("score,label\n0.9,1\n0.5,true\n0.5,0\n0.1,false\n0.2,0\n");
        let v = auc_report(f.path(), true).unwrap();
        assert_eq!(v["n"], 5);
        assert_eq!(v["n_anomaly"], 2);
        assert_eq!(v["auc"].as_f64().unwrap(), 5.5 / 6.0);
        // top-2: 0.9 (a) then one place for the tie 0.5 (a, n): 1.5 / 2.
        assert_eq!(v["precision"].as_f64().unwrap(), 0.75);
        assert_eq!(v["roc"]["thresholds"][0], Value::Null);
        assert_eq!(v["roc"]["tpr"].as_array().unwrap().len(), 5);
    }

    #[test]
    fn auc_errors_name_the_line() {
        let f = csv_file("score,label\n0.9,1\n0.5,maybe\n");
        let e = auc_report(f.path(), false).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("maybe"), "{e}");
        let f = csv_file("score,label\nnan,1\n0.5,0\ninf,0\n");
        let e = format!("{:#}", auc_report(f.path(), false).unwrap_err());
        assert!(e.contains("2 of 3 scores") && e.contains("index 0"), "{e}");
        let f = csv_file("value,label\n0.9,1\n");
        let e = auc_report(f.path(), false).unwrap_err().to_string();
        assert!(e.contains("no column 'score'"), "{e}");
    }

    #[test]
    fn wilcoxon_json_matches_r() {
        // R 4.2.2: wilcox.test(a, b, paired = TRUE, conf.int = TRUE) with
        // a - b = 1..10: V = 55, p-value = 0.001953125, estimate 5.5, CI [3, 8].
        let mut text = String::from("a,b\n");
        for k in 1..=10 {
            text.push_str(&format!("{},{}\n", k + 10, 10));
        }
        let f = csv_file(&text);
        let opts = WilcoxonOptions {
            alternative: ssad_stats::wilcoxon::Alternative::TwoSided,
            conf_level: 0.95,
            correction: true,
            method: None,
            ci_tolerance: 1e-4,
        };
        let v = wilcoxon_report(f.path(), &opts).unwrap();
        assert_eq!(v["input"], "a - b");
        assert_eq!(v["statistic"], 55.0);
        assert_eq!(v["p_value"], 0.001953125);
        assert_eq!(v["method"], "exact");
        assert_eq!(v["pseudo_median"], 5.5);
        assert_eq!(v["conf_int"], json!([3.0, 8.0]));
        // x = 0, 1..10 (a zero): R uses the normal approximation:
        // p = 0.0059215370241487075, CI [3.0000489585898511, 7.9999510414101476].
        let mut text = String::from("x\n0\n");
        for k in 1..=10 {
            text.push_str(&format!("{k}\n"));
        }
        let f = csv_file(&text);
        let v = wilcoxon_report(f.path(), &opts).unwrap();
        assert_eq!(v["method"], "normal approximation");
        assert_eq!(v["n_zeros"], 1);
        assert!((v["p_value"].as_f64().unwrap() - 0.005_921_537_024_148_708).abs() < 1e-12);
        let ci = &v["conf_int"];
        assert!((ci[0].as_f64().unwrap() - 3.000_048_958_589_851).abs() < 1e-9);
        assert!((ci[1].as_f64().unwrap() - 7.999_951_041_410_148).abs() < 1e-9);
        // Without correction, R: p = 0.005062032126267867.
        let no_corr = WilcoxonOptions {
            correction: false,
            ..opts
        };
        let v = wilcoxon_report(f.path(), &no_corr).unwrap();
        assert!((v["p_value"].as_f64().unwrap() - 0.005_062_032_126_267_867).abs() < 1e-12);
    }

    #[test]
    fn non_finite_numbers_and_impossible_aucs_are_refused() {
        let opts = WilcoxonOptions::default();
        let f = csv_file("x\n1\nNaN\n");
        // Non-finite differences are refused by the test itself, naming the first one.
        let e = format!("{:#}", wilcoxon_report(f.path(), &opts).unwrap_err());
        assert!(e.contains("NaN or infinite (first at index 1"), "{e}");
        let f = csv_file(
            "dataset,normal,anomaly,seed,aug,auc\nmnist,0,1,0,none,0.5\nmnist,0,1,0,cutout,1.2\n",
        );
        let e = relative_report(f.path(), &opts).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("auc 1.2"), "{e}");
    }

    #[test]
    fn wilcoxon_column_errors() {
        let opts = WilcoxonOptions::default();
        let f = csv_file("a,c\n1,2\n");
        let e = wilcoxon_report(f.path(), &opts).unwrap_err().to_string();
        assert!(e.contains("expected a column x"), "{e}");
        let f = csv_file("x\n1\nfoo\n");
        let e = wilcoxon_report(f.path(), &opts).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("'foo'"), "{e}");
        let f = csv_file("x\n0\n0\n");
        let e = format!("{:#}", wilcoxon_report(f.path(), &opts).unwrap_err());
        assert!(e.contains("all 2 differences are zero"), "{e}");
    }

    #[test]
    fn relative_json_tells_image_scores_apart() {
        // Results format 5: one model scored two ways per task. `none @ max(s=4)` is paired
        // with `none` (mean) of the same task: +0.02 k on task k (no ties: the exact test).
        let mut text = String::from("dataset,normal,anomaly,seed,aug,auc,score\n");
        for k in 1..=6 {
            let base = 0.5 + 0.01 * k as f64;
            text.push_str(&format!("mnist,{k},rest,0,none,{base},mean\n"));
            let max = base + 0.02 * k as f64;
            text.push_str(&format!("mnist,{k},rest,0,none,{max},max(s=4)\n"));
        }
        let f = csv_file(&text);
        let v = relative_report(f.path(), &WilcoxonOptions::default()).unwrap();
        let max = &v["augmentations"][0];
        assert_eq!(max["aug"], "none @ max(s=4)");
        assert_eq!(max["n"], 6);
        // Walsh averages of 0.02..0.12 are symmetric about 0.07.
        assert!(
            (max["pseudo_median"].as_f64().unwrap() - 0.07).abs() < 1e-9,
            "{max}"
        );
        assert_eq!(max["p_value"], 1.0 / 64.0);
    }

    #[test]
    fn relative_json_by_hand() {
        let mut text = String::from("dataset,normal,anomaly,seed,aug,auc\n");
        for k in 1..=10 {
            text.push_str(&format!("mnist,{k},rest,0,none,0.5\n"));
            text.push_str(&format!(
                "mnist,{k},rest,0,crop,{}\n",
                0.5 + 0.01 * k as f64
            ));
        }
        let f = csv_file(&text);
        let v = relative_report(f.path(), &WilcoxonOptions::default()).unwrap();
        let crop = &v["augmentations"][0];
        assert_eq!(crop["aug"], "crop");
        assert_eq!(crop["n"], 10);
        assert_eq!(crop["p_value"], 1.0 / 1024.0);
        assert_eq!(crop["verdict"], "helps");
    }
}
