//! The PyO3 bindings: the module `ssad._native`. The Python package (`python/ssad/`) wraps
//! these functions with NumPy / torch conversions, defaults and docstrings; users import `ssad`,
//! not this module. Structured results cross as JSON text (the objects `ssad stats` prints).
//! Every function that works on arrays releases the GIL while it computes, on the rayon pool of
//! the current process ([`crate::in_process_pool`]), so it also works in forked children.

use crate::{
    augment_images, heat_maps, in_process_pool, pixel_error_maps, to_json, unit_f32, SampleIndices,
};
use numpy::ndarray::{Array1, Array3, Array4};
use numpy::{
    IntoPyArray, PyArray1, PyArray3, PyArray4, PyReadonlyArray1, PyReadonlyArray4,
    PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use serde_json::json;
use ssad_augment::AugSpec;
use ssad_core::data::{self, DatasetName, FolderOptions, Split};
use ssad_core::{ImageSet, ImageShape};
use ssad_stats::metrics;
use ssad_stats::relative::{relative_auc_table_with, relative_rows, AucRow};
use ssad_stats::wilcoxon::{self, Alternative, Method, WilcoxonOptions};
use std::path::{Path, PathBuf};

fn value_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// Runs `f` without the GIL on this process's thread pool.
fn compute<T: Send>(py: Python<'_>, f: impl FnOnce() -> T + Send) -> T {
    py.detach(|| in_process_pool(f))
}

/// A data error as a Python OSError, its advice in Python's terms: the `data_dir=` keyword
/// (or SSAD_DATA_DIR) instead of the CLI's `--data-dir`, `fetch=True` beside `ssad data fetch`.
fn data_error(e: impl std::fmt::Display) -> PyErr {
    let text = e.to_string().replace("--data-dir", "data_dir=").replace(
        "run `ssad data fetch",
        "pass fetch=True or run `ssad data fetch",
    );
    PyOSError::new_err(text)
}

fn parse_spec_text(spec: &str) -> PyResult<AugSpec> {
    ssad_augment::parse(spec).map_err(value_error)
}

/// A contiguous copy of a 1-D array's values (the array may be strided).
fn values<T: numpy::Element + Copy>(a: &PyReadonlyArray1<'_, T>) -> Vec<T> {
    match a.as_slice() {
        Ok(s) => s.to_vec(),
        Err(_) => a.as_array().iter().copied().collect(),
    }
}

/// The shape and a contiguous copy of the values of an `N x C x H x W` array.
fn images<T: numpy::Element + Copy>(a: &PyReadonlyArray4<'_, T>) -> (ImageShape, Vec<T>) {
    let s = a.shape();
    let shape = ImageShape::new(s[1], s[2], s[3]);
    let data = match a.as_slice() {
        Ok(v) => v.to_vec(),
        Err(_) => a.as_array().iter().copied().collect(),
    };
    (shape, data)
}

fn to_array4<'py>(
    py: Python<'py>,
    shape: ImageShape,
    data: Vec<f32>,
) -> PyResult<Bound<'py, PyArray4<f32>>> {
    let n = data.len() / shape.numel().max(1);
    let arr = Array4::from_shape_vec((n, shape.channels, shape.height, shape.width), data)
        .map_err(value_error)?;
    Ok(arr.into_pyarray(py))
}

/// The catalogue as JSON: a list of {name, category, summary, params: [{key, default, min,
/// min_inclusive, max, range, summary}]}.
#[pyfunction]
fn catalogue() -> String {
    let entries: Vec<serde_json::Value> = ssad_augment::CATALOGUE
        .iter()
        .map(|e| {
            let params: Vec<serde_json::Value> = e
                .params
                .iter()
                .map(|p| {
                    json!({
                        "key": p.key,
                        "default": p.default,
                        "min": p.min,
                        "min_inclusive": p.min_inclusive,
                        "max": if p.max.is_finite() { Some(p.max) } else { None },
                        "range": p.range_text(),
                        "summary": p.summary,
                    })
                })
                .collect();
            json!({
                "name": e.name,
                "category": e.category.as_str(),
                "summary": e.summary,
                "params": params,
            })
        })
        .collect();
    serde_json::Value::Array(entries).to_string()
}

/// Parses a spec: its canonical text, category, and steps as JSON [{name, params: {key: value}}].
#[pyfunction]
fn parse_spec(spec: &str) -> PyResult<(String, String, String)> {
    let s = parse_spec_text(spec)?;
    let steps: Vec<serde_json::Value> = s
        .steps()
        .iter()
        .map(|st| {
            let params: serde_json::Map<String, serde_json::Value> = st
                .explicit_params()
                .into_iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect();
            json!({ "name": st.name(), "category": st.category().as_str(), "params": params })
        })
        .collect();
    Ok((
        s.to_string(),
        s.category().as_str().to_string(),
        serde_json::Value::Array(steps).to_string(),
    ))
}

/// Parses a comma-separated list of specs into their canonical texts.
#[pyfunction]
fn parse_spec_list(list: &str) -> PyResult<Vec<String>> {
    Ok(ssad_augment::parse_list(list)
        .map_err(value_error)?
        .iter()
        .map(|s| s.to_string())
        .collect())
}

/// The anomaly-generator form of a spec (p = 1), as used by controlled testbeds.
#[pyfunction]
fn generator_spec(spec: &str) -> PyResult<String> {
    Ok(parse_spec_text(spec)?.as_generator().to_string())
}

/// Which draws an augmentation call uses: the run's seed, the epoch and each image's index.
struct Draws {
    seed: u64,
    epoch: u64,
    first_index: u64,
    indices: Option<Vec<u64>>,
}

fn run_augment<'py>(
    py: Python<'py>,
    shape: ImageShape,
    spec: &str,
    draws: Draws,
    make: impl FnOnce() -> Vec<f32> + Send,
) -> PyResult<Bound<'py, PyArray4<f32>>> {
    let aug = parse_spec_text(spec)?.build();
    let data = compute(py, || -> Result<Vec<f32>, crate::ArrayError> {
        let mut data = make();
        let idx = match &draws.indices {
            Some(list) => SampleIndices::List(list),
            None => SampleIndices::From(draws.first_index),
        };
        augment_images(aug.as_ref(), &mut data, shape, draws.seed, draws.epoch, idx)?;
        Ok(data)
    });
    to_array4(py, shape, data.map_err(value_error)?)
}

/// Augments a float32 N x C x H x W batch (a copy) as ssad's training loop does.
#[pyfunction]
#[pyo3(signature = (images, spec, seed, epoch, first_index, indices=None))]
fn augment_f32<'py>(
    py: Python<'py>,
    images: PyReadonlyArray4<'py, f32>,
    spec: &str,
    seed: u64,
    epoch: u64,
    first_index: u64,
    indices: Option<PyReadonlyArray1<'py, u64>>,
) -> PyResult<Bound<'py, PyArray4<f32>>> {
    let (shape, data) = self::images(&images);
    let draws = Draws {
        seed,
        epoch,
        first_index,
        indices: indices.as_ref().map(values),
    };
    run_augment(py, shape, spec, draws, || data)
}

/// Scales a uint8 N x C x H x W batch to [0, 1] (v / 255) and augments it.
#[pyfunction]
#[pyo3(signature = (images, spec, seed, epoch, first_index, indices=None))]
fn augment_u8<'py>(
    py: Python<'py>,
    images: PyReadonlyArray4<'py, u8>,
    spec: &str,
    seed: u64,
    epoch: u64,
    first_index: u64,
    indices: Option<PyReadonlyArray1<'py, u64>>,
) -> PyResult<Bound<'py, PyArray4<f32>>> {
    let (shape, pixels) = self::images(&images);
    let draws = Draws {
        seed,
        epoch,
        first_index,
        indices: indices.as_ref().map(values),
    };
    run_augment(py, shape, spec, draws, || unit_f32(&pixels))
}

/// Scales a uint8 array to float32 in [0, 1] (v / 255), the way ssad's loaders do.
#[pyfunction]
fn to_unit<'py>(
    py: Python<'py>,
    images: PyReadonlyArray4<'py, u8>,
) -> PyResult<Bound<'py, PyArray4<f32>>> {
    let (shape, pixels) = self::images(&images);
    let data = compute(py, || unit_f32(&pixels));
    to_array4(py, shape, data)
}

/// The shape and values of images and their reconstructions, refused unless the shapes agree.
fn image_pairs(
    images: &PyReadonlyArray4<'_, f32>,
    reconstructions: &PyReadonlyArray4<'_, f32>,
) -> PyResult<(ImageShape, usize, Vec<f32>, Vec<f32>)> {
    if images.shape() != reconstructions.shape() {
        return Err(value_error(format!(
            "reconstructions of shape {:?} for images of shape {:?}: need one reconstruction of \
             the same shape per image",
            reconstructions.shape(),
            images.shape()
        )));
    }
    let (shape, x) = self::images(images);
    let (_, r) = self::images(reconstructions);
    Ok((shape, images.shape()[0], x, r))
}

/// The heat maps of float32 N x C x H x W images and their reconstructions at one scale (the
/// convention of `ssad detect` and the report): uint8 N x H x W x 3 RGB.
#[pyfunction]
fn heat_map<'py>(
    py: Python<'py>,
    images: PyReadonlyArray4<'py, f32>,
    reconstructions: PyReadonlyArray4<'py, f32>,
    scale: f32,
) -> PyResult<Bound<'py, PyArray4<u8>>> {
    if !(scale > 0.0 && scale.is_finite()) {
        return Err(value_error(format!(
            "scale must be a positive number, got {scale}"
        )));
    }
    let (shape, n, x, r) = image_pairs(&images, &reconstructions)?;
    let data = compute(py, || heat_maps(&x, &r, shape, scale)).map_err(value_error)?;
    let arr =
        Array4::from_shape_vec((n, shape.height, shape.width, 3), data).map_err(value_error)?;
    Ok(arr.into_pyarray(py))
}

/// The per-pixel errors (RMS over channels of image - reconstruction) of float32 N x C x H x W
/// images and reconstructions: float32 N x H x W.
#[pyfunction]
fn pixel_errors<'py>(
    py: Python<'py>,
    images: PyReadonlyArray4<'py, f32>,
    reconstructions: PyReadonlyArray4<'py, f32>,
) -> PyResult<Bound<'py, PyArray3<f32>>> {
    let (shape, n, x, r) = image_pairs(&images, &reconstructions)?;
    let data = compute(py, || pixel_error_maps(&x, &r, shape)).map_err(value_error)?;
    let arr = Array3::from_shape_vec((n, shape.height, shape.width), data).map_err(value_error)?;
    Ok(arr.into_pyarray(py))
}

/// A run's heat-map scale from normal images' pixel errors (their 0.99 quantile); None when no
/// error is positive.
#[pyfunction]
fn heat_scale(py: Python<'_>, errors: PyReadonlyArray1<'_, f32>) -> Option<f32> {
    let e = values(&errors);
    compute(py, || ssad_core::heatmap::scale_of(&e))
}

type ImageTriple<'py> = (
    Bound<'py, PyArray4<u8>>,
    Bound<'py, PyArray1<i64>>,
    Vec<String>,
);

fn image_set_to_py(py: Python<'_>, set: ImageSet) -> PyResult<ImageTriple<'_>> {
    let s = set.shape;
    let pixels = Array4::from_shape_vec((set.len(), s.channels, s.height, s.width), set.pixels)
        .map_err(value_error)?;
    let labels = Array1::from_iter(set.labels.iter().map(|&l| i64::from(l)));
    Ok((
        pixels.into_pyarray(py),
        labels.into_pyarray(py),
        set.class_names,
    ))
}

fn dataset_args(name: &str, data_dir: Option<PathBuf>) -> PyResult<(DatasetName, PathBuf)> {
    let name: DatasetName = name.parse().map_err(value_error)?;
    Ok((name, data::resolve_data_dir(data_dir.as_deref())))
}

fn load_split(name: DatasetName, split: Split, dir: &Path, fetch: bool) -> PyResult<ImageSet> {
    if fetch {
        data::ensure(&name, dir, &mut |line| eprintln!("ssad: {line}")).map_err(data_error)?;
    }
    data::load(name, split, dir).map_err(data_error)
}

/// One split of a built-in dataset as ssad loads it: (uint8 N x C x 32 x 32, labels, classes).
#[pyfunction]
#[pyo3(signature = (name, split, data_dir=None, fetch=true))]
fn load_dataset<'py>(
    py: Python<'py>,
    name: &str,
    split: &str,
    data_dir: Option<PathBuf>,
    fetch: bool,
) -> PyResult<ImageTriple<'py>> {
    let (name, dir) = dataset_args(name, data_dir)?;
    let split: Split = split.parse().map_err(value_error)?;
    let set = compute(py, || load_split(name, split, &dir, fetch))?;
    image_set_to_py(py, set)
}

/// The training images of one normal class, optionally a seeded subsample, as ssad trains on.
#[pyfunction]
#[pyo3(signature = (name, normal, limit=None, subsample_seed=0, data_dir=None, fetch=true))]
fn load_training_set<'py>(
    py: Python<'py>,
    name: &str,
    normal: usize,
    limit: Option<usize>,
    subsample_seed: u64,
    data_dir: Option<PathBuf>,
    fetch: bool,
) -> PyResult<ImageTriple<'py>> {
    let (name, dir) = dataset_args(name, data_dir)?;
    name.check_class(normal).map_err(value_error)?;
    let set = compute(py, || {
        load_split(name, Split::Train, &dir, fetch)
            .map(|train| train.training_subset(Some(normal as u16), limit, subsample_seed))
    })?;
    image_set_to_py(py, set)
}

/// A folder of images (DIR/<class>/*.png|jpg or DIR/*.png|jpg) resized to size x size.
#[pyfunction]
#[pyo3(signature = (dir, size=32, channels=None, allow_mixed_sizes=true))]
fn load_folder<'py>(
    py: Python<'py>,
    dir: PathBuf,
    size: usize,
    channels: Option<usize>,
    allow_mixed_sizes: bool,
) -> PyResult<ImageTriple<'py>> {
    let opts = FolderOptions {
        size,
        channels,
        allow_mixed_sizes,
    };
    let set = compute(py, || data::load_folder(&dir, &opts)).map_err(data_error)?;
    image_set_to_py(py, set)
}

/// AUC, AP, top-k F1 and precision (`f1_at_k`, `precision_at_k`) as JSON, with the sample
/// counts.
#[pyfunction]
fn evaluate(
    py: Python<'_>,
    scores: PyReadonlyArray1<'_, f64>,
    labels: PyReadonlyArray1<'_, bool>,
) -> PyResult<String> {
    let (s, l) = (values(&scores), values(&labels));
    let m = compute(py, || metrics::evaluate(&s, &l)).map_err(value_error)?;
    let n_anomaly = l.iter().filter(|&&v| v).count();
    Ok(json!({
        "n": l.len(),
        "n_anomaly": n_anomaly,
        "n_normal": l.len() - n_anomaly,
        "auc": m.auc,
        "ap": m.ap,
        "f1_at_k": m.f1,
        "precision_at_k": m.precision,
    })
    .to_string())
}

/// ROC AUC (ties count one half).
#[pyfunction]
fn roc_auc(
    py: Python<'_>,
    scores: PyReadonlyArray1<'_, f64>,
    labels: PyReadonlyArray1<'_, bool>,
) -> PyResult<f64> {
    let (s, l) = (values(&scores), values(&labels));
    compute(py, || metrics::roc_auc(&s, &l)).map_err(value_error)
}

/// Average precision (scikit-learn's definition).
#[pyfunction]
fn average_precision(
    py: Python<'_>,
    scores: PyReadonlyArray1<'_, f64>,
    labels: PyReadonlyArray1<'_, bool>,
) -> PyResult<f64> {
    let (s, l) = (values(&scores), values(&labels));
    compute(py, || metrics::average_precision(&s, &l)).map_err(value_error)
}

/// (F1, precision) of the top-k scores, k = number of anomalies.
#[pyfunction]
fn top_k_f1_precision(
    py: Python<'_>,
    scores: PyReadonlyArray1<'_, f64>,
    labels: PyReadonlyArray1<'_, bool>,
) -> PyResult<(f64, f64)> {
    let (s, l) = (values(&scores), values(&labels));
    compute(py, || metrics::top_k_f1_precision(&s, &l)).map_err(value_error)
}

/// ROC curve (fpr, tpr, thresholds; the first threshold is +inf).
#[pyfunction]
#[pyo3(signature = (scores, labels, drop_intermediate=true))]
fn roc_curve(
    py: Python<'_>,
    scores: PyReadonlyArray1<'_, f64>,
    labels: PyReadonlyArray1<'_, bool>,
    drop_intermediate: bool,
) -> PyResult<(Vec<f64>, Vec<f64>, Vec<f64>)> {
    let (s, l) = (values(&scores), values(&labels));
    let c = compute(py, || metrics::roc_curve(&s, &l)).map_err(value_error)?;
    let c = if drop_intermediate {
        c.drop_intermediate()
    } else {
        c
    };
    Ok((c.fpr, c.tpr, c.thresholds))
}

/// Per-pair and one-vs-rest metrics of a score vector with class labels, as JSON.
#[pyfunction]
fn pairwise(
    py: Python<'_>,
    scores: PyReadonlyArray1<'_, f64>,
    classes: PyReadonlyArray1<'_, u16>,
    normal: u16,
) -> PyResult<String> {
    let (s, c) = (values(&scores), values(&classes));
    let pairs = compute(py, || metrics::pairwise(&s, &c, normal)).map_err(value_error)?;
    Ok(to_json(&pairs))
}

fn parse_method(method: Option<&str>) -> PyResult<Option<Method>> {
    match method.map(|m| m.to_ascii_lowercase()) {
        None => Ok(None),
        Some(m) => match m.as_str() {
            "auto" => Ok(None),
            "exact" => Ok(Some(Method::Exact)),
            "normal" | "asymptotic" | "approx" => Ok(Some(Method::NormalApproximation)),
            other => Err(value_error(format!(
                "unknown method '{other}': expected auto, exact or normal"
            ))),
        },
    }
}

fn wilcoxon_options(
    alternative: &str,
    correction: bool,
    conf_level: f64,
    method: Option<&str>,
    ci_tolerance: f64,
) -> PyResult<WilcoxonOptions> {
    let alternative: Alternative = alternative.parse().map_err(value_error)?;
    Ok(WilcoxonOptions {
        alternative,
        correction,
        conf_level,
        method: parse_method(method)?,
        ci_tolerance,
    })
}

/// Wilcoxon signed-rank test of `x - y` (or of `x` when `y` is None), as JSON.
#[pyfunction]
#[pyo3(signature = (x, y, alternative, correction, conf_level, method, ci_tolerance))]
#[allow(clippy::too_many_arguments)]
fn wilcoxon_test(
    py: Python<'_>,
    x: PyReadonlyArray1<'_, f64>,
    y: Option<PyReadonlyArray1<'_, f64>>,
    alternative: &str,
    correction: bool,
    conf_level: f64,
    method: Option<&str>,
    ci_tolerance: f64,
) -> PyResult<String> {
    let opts = wilcoxon_options(alternative, correction, conf_level, method, ci_tolerance)?;
    let x = values(&x);
    let y = y.as_ref().map(values);
    let r = compute(py, || match &y {
        Some(y) => wilcoxon::wilcoxon_paired(&x, y, &opts),
        None => wilcoxon::wilcoxon_signed_rank(&x, &opts),
    })
    .map_err(value_error)?;
    Ok(to_json(&r))
}

/// Hodges-Lehmann pseudo-median (median of the Walsh averages) of all values.
#[pyfunction]
fn hodges_lehmann(py: Python<'_>, values: PyReadonlyArray1<'_, f64>) -> PyResult<f64> {
    let v = self::values(&values);
    compute(py, || wilcoxon::hodges_lehmann(&v)).map_err(value_error)
}

/// Hodges-Lehmann pseudo-median with its two-sided confidence interval, as JSON.
#[pyfunction]
#[pyo3(signature = (values, conf_level, method, correction))]
fn hodges_lehmann_interval(
    py: Python<'_>,
    values: PyReadonlyArray1<'_, f64>,
    conf_level: f64,
    method: Option<&str>,
    correction: bool,
) -> PyResult<String> {
    let v = self::values(&values);
    let method = parse_method(method)?;
    let r = compute(py, || {
        wilcoxon::hodges_lehmann_interval(&v, conf_level, method, correction)
    })
    .map_err(value_error)?;
    Ok(to_json(&r))
}

/// Relative AUC against vanilla (`none`): (per-task rows, per-augmentation summary) as JSON.
#[pyfunction]
#[pyo3(signature = (dataset, normal, anomaly, seed, aug, auc, conf_level, correction))]
#[allow(clippy::too_many_arguments)]
fn relative_auc(
    py: Python<'_>,
    dataset: Vec<String>,
    normal: Vec<String>,
    anomaly: Vec<String>,
    seed: Vec<u64>,
    aug: Vec<String>,
    auc: Vec<f64>,
    conf_level: f64,
    correction: bool,
) -> PyResult<(String, String)> {
    let n = auc.len();
    for (name, len) in [
        ("dataset", dataset.len()),
        ("normal", normal.len()),
        ("anomaly", anomaly.len()),
        ("seed", seed.len()),
        ("aug", aug.len()),
    ] {
        if len != n {
            return Err(value_error(format!(
                "column '{name}' has {len} values but 'auc' has {n}: every column needs one value per row"
            )));
        }
    }
    let rows: Vec<AucRow> = (0..n)
        .map(|i| AucRow {
            dataset: dataset[i].clone(),
            normal: normal[i].clone(),
            anomaly: anomaly[i].clone(),
            seed: seed[i],
            aug: aug[i].clone(),
            auc: auc[i],
        })
        .collect();
    let opts = WilcoxonOptions {
        conf_level,
        correction,
        ..Default::default()
    };
    compute(py, || {
        let rel = relative_rows(&rows)?;
        let table = relative_auc_table_with(&rows, &opts)?;
        Ok((to_json(&rel), to_json(&table)))
    })
    .map_err(|e: wilcoxon::StatsError| value_error(e))
}

/// The native module `ssad._native`.
#[pymodule]
#[pyo3(name = "_native")]
fn native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(catalogue, m)?)?;
    m.add_function(wrap_pyfunction!(parse_spec, m)?)?;
    m.add_function(wrap_pyfunction!(parse_spec_list, m)?)?;
    m.add_function(wrap_pyfunction!(generator_spec, m)?)?;
    m.add_function(wrap_pyfunction!(augment_f32, m)?)?;
    m.add_function(wrap_pyfunction!(augment_u8, m)?)?;
    m.add_function(wrap_pyfunction!(to_unit, m)?)?;
    m.add("HEAT_DEFAULT_SCALE", ssad_core::heatmap::DEFAULT_SCALE)?;
    m.add("HEAT_SCALE_QUANTILE", ssad_core::heatmap::SCALE_QUANTILE)?;
    m.add_function(wrap_pyfunction!(heat_map, m)?)?;
    m.add_function(wrap_pyfunction!(pixel_errors, m)?)?;
    m.add_function(wrap_pyfunction!(heat_scale, m)?)?;
    m.add_function(wrap_pyfunction!(load_dataset, m)?)?;
    m.add_function(wrap_pyfunction!(load_training_set, m)?)?;
    m.add_function(wrap_pyfunction!(load_folder, m)?)?;
    m.add_function(wrap_pyfunction!(evaluate, m)?)?;
    m.add_function(wrap_pyfunction!(roc_auc, m)?)?;
    m.add_function(wrap_pyfunction!(average_precision, m)?)?;
    m.add_function(wrap_pyfunction!(top_k_f1_precision, m)?)?;
    m.add_function(wrap_pyfunction!(roc_curve, m)?)?;
    m.add_function(wrap_pyfunction!(pairwise, m)?)?;
    m.add_function(wrap_pyfunction!(wilcoxon_test, m)?)?;
    m.add_function(wrap_pyfunction!(hodges_lehmann, m)?)?;
    m.add_function(wrap_pyfunction!(hodges_lehmann_interval, m)?)?;
    m.add_function(wrap_pyfunction!(relative_auc, m)?)?;
    Ok(())
}
