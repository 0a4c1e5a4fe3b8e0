//! The one per-image score file schema, shared by a study's `scores/<run>.<testbed>.csv`,
//! `ssad score` and `ssad detect` (documented in `docs/formats.md`).
//!
//! Columns, in this order: `index,path,label,group,anomaly,score`.
//!
//! - `index`: 0-based position of the image in the scored set (the stable key: the test
//!   split's order for a dataset, the sorted file order for a folder);
//! - `path`: the image file for images read from files, empty for a built-in dataset;
//! - `label`: the ground truth by name: the class name (dataset), the class folder's name
//!   (a folder of class folders), the generator spec (a controlled testbed's anomalies);
//!   empty when unknown;
//! - `group`: the anomaly group the metrics pool over (the `anomaly` value of the results
//!   table; `normal` for the normal images of a controlled testbed); empty when unknown;
//! - `anomaly`: `1` for an anomaly, `0` for a normal image, empty when no normal class is
//!   known;
//! - `score`: the anomaly score (higher = more anomalous) as a plain decimal, the shortest
//!   text that reads back as the same `f32`.
//!
//! Files are written with the `csv` crate, so any path or name (commas, quotes, new lines)
//! round-trips. `detect` appends its own columns (`name`, `verdict`) after these.

use anyhow::Context;
use std::path::Path;

/// The columns every score file starts with, in order.
pub const SCORE_COLUMNS: [&str; 6] = ["index", "path", "label", "group", "anomaly", "score"];

/// One image's row of a score file (see the [module docs](self) for the columns).
#[derive(Clone, Debug, PartialEq)]
pub struct ScoreRow {
    /// 0-based position in the scored set.
    pub index: usize,
    /// The image file; empty for a built-in dataset.
    pub path: String,
    /// The ground-truth label by name; empty when unknown.
    pub label: String,
    /// The anomaly group; empty when unknown.
    pub group: String,
    /// Whether the image is an anomaly; `None` when no normal class is known.
    pub anomaly: Option<bool>,
    /// Anomaly score (higher = more anomalous).
    pub score: f32,
}

impl ScoreRow {
    /// The row's fields as written (`anomaly` as `1`/`0`/empty, `score` as a plain decimal).
    pub fn fields(&self) -> [String; 6] {
        [
            self.index.to_string(),
            self.path.clone(),
            self.label.clone(),
            self.group.clone(),
            match self.anomaly {
                Some(true) => "1".into(),
                Some(false) => "0".into(),
                None => String::new(),
            },
            plain_decimal(self.score),
        ]
    }
}

/// `x` as a plain decimal (no exponent): Rust's `Display` of `f32`, the shortest text that
/// parses back to the same value (`0.13238586`, `0.0000012`).
pub fn plain_decimal(x: f32) -> String {
    format!("{x}")
}

/// The score file of `rows` as CSV bytes, with `extra` columns (header names, then one value
/// list per row) after the schema's six.
pub fn scores_csv(
    rows: &[ScoreRow],
    extra: &[&str],
    extra_values: &[Vec<String>],
) -> anyhow::Result<Vec<u8>> {
    anyhow::ensure!(
        extra_values.is_empty() || extra_values.len() == rows.len(),
        "internal error: {} extra value rows for {} score rows",
        extra_values.len(),
        rows.len()
    );
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(SCORE_COLUMNS.iter().chain(extra))?;
    for (i, r) in rows.iter().enumerate() {
        let more = extra_values.get(i).map(|v| v.as_slice()).unwrap_or(&[]);
        w.write_record(
            r.fields()
                .iter()
                .map(String::as_str)
                .chain(more.iter().map(String::as_str)),
        )?;
    }
    Ok(w.into_inner()?)
}

/// Writes a score file atomically (see [`scores_csv`]).
pub fn write_scores(path: &Path, rows: &[ScoreRow]) -> anyhow::Result<()> {
    ssad_core::fsio::write_atomic(path, &scores_csv(rows, &[], &[])?)?;
    Ok(())
}

/// Reads a score file: the current schema, and the two earlier layouts (`index,label,score`
/// of `ssad score`, where `label` was a class number, and `index,group,anomaly,score` of a
/// study's `scores/`), whose missing columns read as empty. Errors name the file and line.
pub fn read_scores(path: &Path) -> anyhow::Result<Vec<ScoreRow>> {
    let mut reader = csv::Reader::from_path(path)
        .with_context(|| format!("cannot open score file {}", path.display()))?;
    let headers = reader
        .headers()
        .with_context(|| format!("cannot read the header row of {}", path.display()))?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (index, score) = match (col("index"), col("score")) {
        (Some(i), Some(s)) => (i, s),
        _ => anyhow::bail!(
            "{}: not a score file: expected columns {} (has: {})",
            path.display(),
            SCORE_COLUMNS.join(","),
            headers.iter().collect::<Vec<_>>().join(",")
        ),
    };
    let (p, l, g, a) = (col("path"), col("label"), col("group"), col("anomaly"));
    let mut rows = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let line = i + 2;
        let rec = rec.with_context(|| format!("{} line {line}: bad CSV", path.display()))?;
        let get = |c: Option<usize>| c.and_then(|c| rec.get(c)).unwrap_or("").to_string();
        let number = |c: usize, what: &str| {
            rec.get(c)
                .unwrap_or("")
                .to_string()
                .parse::<f64>()
                .map_err(|_| {
                    anyhow::anyhow!(
                        "{} line {line}: {what} '{}' is not a number",
                        path.display(),
                        rec.get(c).unwrap_or("")
                    )
                })
        };
        let anomaly = match get(a).as_str() {
            "" => None,
            "1" => Some(true),
            "0" => Some(false),
            other => anyhow::bail!(
                "{} line {line}: anomaly '{other}' is not 1, 0 or empty",
                path.display()
            ),
        };
        rows.push(ScoreRow {
            index: number(index, "index")? as usize,
            path: get(p),
            label: get(l),
            group: get(g),
            anomaly,
            score: number(score, "score")? as f32,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn awkward_paths_round_trip_and_scores_are_plain_decimals() {
        let rows = vec![
            ScoreRow {
                index: 0,
                path: "in/a,b \"c\".png".into(),
                label: "cat, tabby".into(),
                group: "cat, tabby".into(),
                anomaly: Some(true),
                score: 0.132_385_86,
            },
            ScoreRow {
                index: 1,
                path: String::new(),
                label: "0".into(),
                group: "normal".into(),
                anomaly: Some(false),
                score: 1.2e-6,
            },
            ScoreRow {
                index: 2,
                path: "x\ny.png".into(),
                label: String::new(),
                group: String::new(),
                anomaly: None,
                score: 12345.5,
            },
        ];
        let text = String::from_utf8(scores_csv(&rows, &[], &[]).unwrap()).unwrap();
        assert_eq!(
            text,
            "index,path,label,group,anomaly,score\n\
             0,\"in/a,b \"\"c\"\".png\",\"cat, tabby\",\"cat, tabby\",1,0.13238586\n\
             1,,0,normal,0,0.0000012\n\
             2,\"x\ny.png\",,,,12345.5\n"
        );
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("s.csv");
        write_scores(&f, &rows).unwrap();
        assert_eq!(read_scores(&f).unwrap(), rows);
    }

    #[test]
    fn earlier_layouts_still_read() {
        let tmp = tempfile::tempdir().unwrap();
        let old_score = tmp.path().join("old-score.csv");
        std::fs::write(&old_score, "index,label,score\n0,3,1.3238586485385895e-1\n").unwrap();
        let r = &read_scores(&old_score).unwrap()[0];
        assert_eq!((r.index, r.label.as_str(), r.anomaly), (0, "3", None));
        assert_eq!(r.score, 0.132_385_86);
        let old_study = tmp.path().join("old-study.csv");
        std::fs::write(&old_study, "index,group,anomaly,score\n4,cutout,1,0.5\n").unwrap();
        let r = &read_scores(&old_study).unwrap()[0];
        assert_eq!(
            (r.index, r.group.as_str(), r.anomaly, r.score),
            (4, "cutout", Some(true), 0.5)
        );
        let bad = tmp.path().join("bad.csv");
        std::fs::write(&bad, "index,group,anomaly,score\n4,cutout,yes,0.5\n").unwrap();
        let err = read_scores(&bad).unwrap_err().to_string();
        assert!(
            err.contains("bad.csv line 2") && err.contains("'yes'"),
            "{err}"
        );
        std::fs::write(&bad, "a,b\n1,2\n").unwrap();
        let err = read_scores(&bad).unwrap_err().to_string();
        assert!(
            err.contains("not a score file") && err.contains("has: a,b"),
            "{err}"
        );
    }
}
