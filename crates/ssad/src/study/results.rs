//! The study's results table: one [`ResultRow`] per run x testbed x anomaly group, flattened
//! from the records ([`result_rows`]), with the augmentation's family, parameters and category
//! ([`aug_family_params`], [`aug_category`]), and its CSV and Parquet export.

use super::config::{NormalClass, StudyConfig};
use super::record::{RunRecord, REST_PAIR};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use ssad_core::fsio::write_atomic;
use std::path::Path;

/// Version of the results table ([`ResultRow`], `results.csv`, `study export`), written in
/// its `format_version` column. Version 1 (no such column) had `f1` and `precision` for the
/// top-k metrics and none of the columns added in 2 (`format_version`, `normal_name`,
/// `pair_kind`, `aug_family`, `aug_params`, the model and training settings); readers of
/// this table accept both (see `docs/formats.md`). Version 3 added the pixel metrics, 4
/// `tuned`, 5 `score` (the image score of the row).
pub const RESULTS_FORMAT_VERSION: u32 = 5;

/// One row of the study's results table: one run x testbed x anomaly group, tidy (one value
/// per column: the augmentation's family and parameters and the settings have their own).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResultRow {
    /// [`RESULTS_FORMAT_VERSION`].
    pub format_version: u32,
    /// The run id.
    pub run_id: String,
    /// Dataset.
    pub dataset: String,
    /// `wild` or `controlled`.
    pub testbed: String,
    /// Normal class: a built-in dataset's label (`3`), an MVTec-style dataset's category
    /// name (`bottle`).
    pub normal: NormalClass,
    /// Normal class name (`0`..`9` for digits, `t-shirt`, `airplane`, ..., the category).
    pub normal_name: String,
    /// `pair`: the normal class against one anomaly group (a class or a generator); `rest`:
    /// the aggregate one-vs-rest row (every anomaly of the testbed pooled). Average AUCs
    /// over one kind at a time.
    pub pair_kind: String,
    /// Anomaly group (class name, generator spec, or `rest`).
    pub anomaly: String,
    /// Seed.
    pub seed: u64,
    /// Augmentation spec.
    pub aug: String,
    /// The augmentation's family: its step names joined by `+` (`cutout` for
    /// `cutout(area=0.3)`, `geom+cutout` for `geom+cutout(area=0.1)`).
    pub aug_family: String,
    /// Its explicit parameters as `key=value` pairs joined by `,` (`area=0.3`); in a
    /// composition each key is prefixed by its step (`cutout.area=0.1`); empty when none.
    pub aug_params: String,
    /// Augmentation category (for colours).
    pub category: String,
    /// Detector: the autoencoder kind (`convae`, `denseae`, `linearae`) or `geom`.
    pub detector: String,
    /// Width of the model (channels of the first layer).
    pub width: usize,
    /// Embedding (bottleneck) size of the model.
    pub embedding: usize,
    /// Training epochs.
    pub epochs: usize,
    /// Training batch size.
    pub batch_size: usize,
    /// Initial learning rate.
    pub lr: f64,
    /// Number format of training and scoring (`fp32` or `bf16`).
    pub precision: String,
    /// Engine CPU threads the run trained with (0: not recorded).
    pub threads: usize,
    /// ROC AUC.
    pub auc: f64,
    /// Average precision.
    pub ap: f64,
    /// F1 at the top-k cut with k = the number of anomalies (`f1` in format 1). At that cut
    /// precision equals recall, so this equals `precision_at_k`; kept for continuity.
    pub f1_at_k: f64,
    /// Precision at the top-k cut, k = the number of anomalies (`precision` in format 1).
    pub precision_at_k: f64,
    /// Normal test images.
    pub n_normal: usize,
    /// Anomalous test images.
    pub n_anomaly: usize,
    /// Training seconds of the run.
    pub train_seconds: f64,
    /// Pixel AUROC of this anomaly group (the `rest` row: all defects), where the test
    /// images have masks; empty otherwise (format 3).
    #[serde(default)]
    pub pixel_auroc: Option<f64>,
    /// AUPRO up to FPR 0.3, normalised, beside `pixel_auroc` (format 3).
    #[serde(default)]
    pub aupro: Option<f64>,
    /// For a self-tuned augmentation (`cutout(area=auto)`), the tuned spec the run ended
    /// with (`cutout(area=0.213)`); empty otherwise (format 4).
    #[serde(default)]
    pub tuned: Option<String>,
    /// The image score of the row's AUC, AP and top-k metrics (`mean`, `max(s=4)`,
    /// `topk(0.01)`): one row per listed score of the same trained model (format 5; `mean`
    /// when read from earlier formats).
    #[serde(default)]
    pub score: ssad_core::ImageScore,
}

/// The family and parameters of an augmentation spec, as [`ResultRow::aug_family`] and
/// [`ResultRow::aug_params`] write them; a spec that does not parse is its own family with
/// no parameters.
pub fn aug_family_params(spec: &str) -> (String, String) {
    if let Ok(tuned) = ssad_augment::SelfTunedSpec::parse(spec, false) {
        // `cutout(area=auto)`: family `cutout`, parameters `area=auto`.
        let text = tuned.to_string();
        let inner = text
            .split_once('(')
            .map_or("", |(_, r)| r.strip_suffix(')').unwrap_or(r));
        return (tuned.family.name.to_string(), inner.to_string());
    }
    let Ok(parsed) = ssad_augment::parse(spec) else {
        return (spec.to_string(), String::new());
    };
    let steps = parsed.steps();
    let family: Vec<&str> = steps.iter().map(|s| s.name()).collect();
    let mut params = Vec::new();
    for s in steps {
        for (k, v) in s.explicit_params() {
            params.push(if steps.len() > 1 {
                format!("{}.{k}={v}", s.name())
            } else {
                format!("{k}={v}")
            });
        }
    }
    (family.join("+"), params.join(","))
}

/// The category of an augmentation spec, fixed or self-tuned (then its family's, e.g.
/// `local` for `cutout(area=auto)`, `geometric` for `rotate(angle=auto)`); `None` when it
/// does not parse.
pub fn aug_category(spec: &str) -> Option<String> {
    // A summary's label of another image score (`cutout(area=0.2) @ max(s=4)`): the
    // augmentation's category.
    let spec = spec.split_once(" @ ").map_or(spec, |(aug, _)| aug);
    // A self-tuned spec's category is its family's (the catalogue's `rotate` takes no angle,
    // so the start spec `rotate(angle=30)` would not parse).
    let fixed = match ssad_augment::SelfTunedSpec::parse(spec, false) {
        Ok(tuned) => tuned.family.name.to_string(),
        Err(_) => spec.to_string(),
    };
    ssad_augment::parse(&fixed)
        .ok()
        .map(|s| s.category().to_string())
}

/// Flattens the records of the study `cfg` into the results table (the model and training
/// settings come from `cfg`, which every record of the study's record set was run with).
pub fn result_rows(cfg: &StudyConfig, records: &[RunRecord]) -> Vec<ResultRow> {
    let (detector, width, embedding) = match cfg.detector {
        ssad_core::DetectorKind::Autoencoder => (
            cfg.model.kind.to_string(),
            cfg.model.width,
            cfg.model.embedding,
        ),
        ssad_core::DetectorKind::Geom => ("geom".to_string(), cfg.geom.width, cfg.geom.embedding),
    };
    let mut rows = Vec::new();
    for r in records {
        let category = aug_category(&r.key.aug).unwrap_or_default();
        let (aug_family, aug_params) = aug_family_params(&r.key.aug);
        // From the key alone: a category is named in it, a label names itself.
        let normal_name = r.key.normal.name_in(&r.key.dataset);
        for t in &r.results {
            for p in &t.pairs {
                let pixel = t.pixel.as_ref().and_then(|px| {
                    if p.anomaly == REST_PAIR {
                        Some((px.auroc, px.aupro))
                    } else {
                        px.per_anomaly
                            .iter()
                            .find(|q| q.anomaly == p.anomaly)
                            .map(|q| (q.auroc, q.aupro))
                    }
                });
                rows.push(ResultRow {
                    format_version: RESULTS_FORMAT_VERSION,
                    run_id: r.run_id.clone(),
                    dataset: r.key.dataset.to_string(),
                    testbed: t.testbed.to_string(),
                    normal: r.key.normal.clone(),
                    normal_name: normal_name.clone(),
                    pair_kind: if p.anomaly == REST_PAIR {
                        REST_PAIR
                    } else {
                        "pair"
                    }
                    .into(),
                    anomaly: p.anomaly.clone(),
                    seed: r.key.seed,
                    aug: r.key.aug.clone(),
                    aug_family: aug_family.clone(),
                    aug_params: aug_params.clone(),
                    category: category.clone(),
                    detector: detector.clone(),
                    width,
                    embedding,
                    epochs: cfg.train.epochs,
                    batch_size: cfg.train.batch_size,
                    lr: cfg.train.lr,
                    precision: r.precision.to_string(),
                    threads: r.threads,
                    auc: p.auc,
                    ap: p.ap,
                    f1_at_k: p.f1,
                    precision_at_k: p.precision,
                    n_normal: p.n_normal,
                    n_anomaly: p.n_anomaly,
                    train_seconds: r.train_seconds,
                    pixel_auroc: pixel.map(|x| x.0),
                    aupro: pixel.map(|x| x.1),
                    tuned: r.tuned.as_ref().map(|t| t.tuned.clone()),
                    score: t.score,
                });
            }
        }
    }
    rows
}

/// The field names of struct `T` as serde names them (renames applied), read from its
/// `Deserialize` implementation, so no value is needed: the header of an empty table.
fn struct_field_names<T: serde::de::DeserializeOwned>() -> Vec<&'static str> {
    use serde::de::{Error, Visitor};
    struct Names(Vec<&'static str>);
    impl<'de> serde::Deserializer<'de> for &mut Names {
        type Error = serde::de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            self.0 = fields.to_vec();
            Err(Error::custom("field names read"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }
    let mut names = Names(Vec::new());
    let _ = T::deserialize(&mut names);
    names.0
}

/// Writes the study's results table as CSV ([`write_csv`]); an empty table is its header
/// alone, so readers (pandas, `ssad.read_study`) still see the columns.
pub fn write_results_csv(rows: &[ResultRow], path: &Path) -> anyhow::Result<()> {
    if rows.is_empty() {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(struct_field_names::<ResultRow>())?;
        ssad_core::fsio::write_atomic(path, &w.into_inner()?)?;
        return Ok(());
    }
    write_csv(rows, path)
}

/// Writes rows as CSV (header from the field names).
pub fn write_csv<T: Serialize>(rows: &[T], path: &Path) -> anyhow::Result<()> {
    ssad_core::fsio::write_atomic_with(path, |out| {
        let mut w = csv::Writer::from_writer(out);
        for r in rows {
            w.serialize(r)?;
        }
        w.flush()
    })?;
    Ok(())
}

/// Writes rows as a Parquet file (one row group, uncompressed), readable by pandas and polars.
/// The `normal` column is INT64 when every row's class is a label (built-in datasets), else
/// UTF8 (MVTec-style category names; labels written as text), as a CSV reader would type it.
///
/// Uses the `parquet` crate's low-level column writers rather than Arrow, which would add a
/// large dependency tree for one flat table.
pub fn write_parquet(rows: &[ResultRow], path: &Path) -> anyhow::Result<()> {
    use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use std::sync::Arc;
    // The same columns, in the same order, as the CSV of `write_csv` (a test checks it).
    let labels_only = rows
        .iter()
        .all(|r| matches!(r.normal, NormalClass::Label(_)));
    let normal_type = if labels_only {
        "INT64 normal"
    } else {
        "BYTE_ARRAY normal (UTF8)"
    };
    let schema = Arc::new(parquet::schema::parser::parse_message_type(&format!(
        "message results {{
            REQUIRED INT64 format_version; REQUIRED BYTE_ARRAY run_id (UTF8);
            REQUIRED BYTE_ARRAY dataset (UTF8); REQUIRED BYTE_ARRAY testbed (UTF8);
            REQUIRED {normal_type}; REQUIRED BYTE_ARRAY normal_name (UTF8);
            REQUIRED BYTE_ARRAY pair_kind (UTF8); REQUIRED BYTE_ARRAY anomaly (UTF8);
            REQUIRED INT64 seed; REQUIRED BYTE_ARRAY aug (UTF8);
            REQUIRED BYTE_ARRAY aug_family (UTF8); REQUIRED BYTE_ARRAY aug_params (UTF8);
            REQUIRED BYTE_ARRAY category (UTF8); REQUIRED BYTE_ARRAY detector (UTF8);
            REQUIRED INT64 width; REQUIRED INT64 embedding; REQUIRED INT64 epochs;
            REQUIRED INT64 batch_size; REQUIRED DOUBLE lr; REQUIRED BYTE_ARRAY precision (UTF8);
            REQUIRED INT64 threads;
            REQUIRED DOUBLE auc; REQUIRED DOUBLE ap; REQUIRED DOUBLE f1_at_k;
            REQUIRED DOUBLE precision_at_k;
            REQUIRED INT64 n_normal; REQUIRED INT64 n_anomaly; REQUIRED DOUBLE train_seconds;
            OPTIONAL DOUBLE pixel_auroc; OPTIONAL DOUBLE aupro;
            OPTIONAL BYTE_ARRAY tuned (UTF8); REQUIRED BYTE_ARRAY score (UTF8);
        }}",
    ))?);
    enum Col {
        Str(Vec<ByteArray>),
        Int(Vec<i64>),
        Dbl(Vec<f64>),
        /// Nullable doubles: the present values and a definition level per row.
        OptDbl(Vec<f64>, Vec<i16>),
        /// Nullable text: the present values and a definition level per row.
        OptStr(Vec<ByteArray>, Vec<i16>),
    }
    let od = |f: fn(&ResultRow) -> Option<f64>| {
        Col::OptDbl(
            rows.iter().filter_map(f).collect(),
            rows.iter().map(|r| i16::from(f(r).is_some())).collect(),
        )
    };
    let s =
        |f: fn(&ResultRow) -> &str| Col::Str(rows.iter().map(|r| ByteArray::from(f(r))).collect());
    let i = |f: fn(&ResultRow) -> i64| Col::Int(rows.iter().map(f).collect());
    let d = |f: fn(&ResultRow) -> f64| Col::Dbl(rows.iter().map(f).collect());
    let columns = vec![
        i(|r| i64::from(r.format_version)),
        s(|r| &r.run_id),
        s(|r| &r.dataset),
        s(|r| &r.testbed),
        if labels_only {
            i(|r| match r.normal {
                NormalClass::Label(n) => n as i64,
                NormalClass::Category(_) => unreachable!("labels only"),
            })
        } else {
            Col::Str(
                rows.iter()
                    .map(|r| ByteArray::from(r.normal.to_string().as_str()))
                    .collect(),
            )
        },
        s(|r| &r.normal_name),
        s(|r| &r.pair_kind),
        s(|r| &r.anomaly),
        i(|r| r.seed as i64),
        s(|r| &r.aug),
        s(|r| &r.aug_family),
        s(|r| &r.aug_params),
        s(|r| &r.category),
        s(|r| &r.detector),
        i(|r| r.width as i64),
        i(|r| r.embedding as i64),
        i(|r| r.epochs as i64),
        i(|r| r.batch_size as i64),
        d(|r| r.lr),
        s(|r| &r.precision),
        i(|r| r.threads as i64),
        d(|r| r.auc),
        d(|r| r.ap),
        d(|r| r.f1_at_k),
        d(|r| r.precision_at_k),
        i(|r| r.n_normal as i64),
        i(|r| r.n_anomaly as i64),
        d(|r| r.train_seconds),
        od(|r| r.pixel_auroc),
        od(|r| r.aupro),
        Col::OptStr(
            rows.iter()
                .filter_map(|r| r.tuned.as_deref().map(ByteArray::from))
                .collect(),
            rows.iter().map(|r| i16::from(r.tuned.is_some())).collect(),
        ),
        Col::Str(
            rows.iter()
                .map(|r| ByteArray::from(r.score.to_string().as_str()))
                .collect(),
        ),
    ];
    let mut buf = Vec::new();
    {
        let mut writer = SerializedFileWriter::new(
            &mut buf,
            schema,
            Arc::new(WriterProperties::builder().build()),
        )?;
        let mut rg = writer.next_row_group()?;
        for col in &columns {
            let mut cw = rg
                .next_column()?
                .context("parquet schema has fewer columns than the table")?;
            match col {
                Col::Str(v) => cw.typed::<ByteArrayType>().write_batch(v, None, None)?,
                Col::Int(v) => cw.typed::<Int64Type>().write_batch(v, None, None)?,
                Col::Dbl(v) => cw.typed::<DoubleType>().write_batch(v, None, None)?,
                Col::OptDbl(v, def) => cw.typed::<DoubleType>().write_batch(v, Some(def), None)?,
                Col::OptStr(v, def) => {
                    cw.typed::<ByteArrayType>()
                        .write_batch(v, Some(def), None)?
                }
            };
            cw.close()?;
        }
        rg.close()?;
        writer.close()?;
    }
    write_atomic(path, &buf)?;
    Ok(())
}
