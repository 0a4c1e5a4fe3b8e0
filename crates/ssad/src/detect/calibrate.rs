//! Scores and thresholds of [`super::fit`] and [`super::detect`]: the detector's scores by its
//! image score, their summary, the calibrated threshold (a quantile of held-out normal
//! images' scores) and the image score a threshold belongs to.

use super::{load_for_model, DetectFile};
use serde::{Deserialize, Serialize};
use ssad_core::{Batch, Detector, DetectorKind, DetectorSpec, ImageScore, ImageSet};
use std::path::{Path, PathBuf};

/// Summary of a set of scores.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoreSummary {
    /// Number of images.
    pub images: usize,
    /// Smallest score.
    pub min: f64,
    /// Median score.
    pub median: f64,
    /// Mean score.
    pub mean: f64,
    /// Largest score.
    pub max: f64,
}

impl ScoreSummary {
    /// The summary of `scores`.
    pub fn of(scores: &[f64]) -> Self {
        Self {
            images: scores.len(),
            min: scores.iter().copied().fold(f64::INFINITY, f64::min),
            median: quantile(scores, 0.5),
            mean: scores.iter().sum::<f64>() / scores.len().max(1) as f64,
            max: scores.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }
}

/// How a stored threshold was set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Folder of held-out normal images.
    pub dir: PathBuf,
    /// The quantile `q` of their scores taken as the threshold.
    pub quantile: f64,
    /// Their scores.
    pub scores: ScoreSummary,
}

/// The `q`-quantile of `values` with linear interpolation between order statistics (type 7
/// of Hyndman and Fan, NumPy's and R's default): `h = (n - 1) q`, value
/// `s[floor h] + (h - floor h)(s[floor h + 1] - s[floor h])` of the sorted values `s`.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut s = values.to_vec();
    s.sort_by(f64::total_cmp);
    let h = (s.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(s.len() - 1);
    s[lo] + (h - lo as f64) * (s[hi] - s[lo])
}

/// The detector's scores of `batch` by its image score ([`Detector::image_score`]: the
/// model's, or the one `detect --image-score` set on it) as `f64`.
pub fn scores_of(det: &dyn Detector, batch: &Batch) -> anyhow::Result<Vec<f64>> {
    let scores = crate::pixel::image_scores_of(det, batch, &det.image_score())?;
    Ok(scores.into_iter().map(f64::from).collect())
}

/// Scores a calibration folder with `det` and makes the calibration record: the threshold
/// is the `q`-quantile of the folder's scores.
pub fn calibrate(
    det: &dyn Detector,
    dir: &Path,
    q: f64,
    warn: &mut dyn FnMut(&str),
) -> anyhow::Result<(f64, Calibration)> {
    calibrate_set(det, dir, q, warn).map(|(t, cal, _)| (t, cal))
}

/// [`calibrate`], also returning the calibration images (for their [`super::HeatScale`]).
pub(super) fn calibrate_set(
    det: &dyn Detector,
    dir: &Path,
    q: f64,
    warn: &mut dyn FnMut(&str),
) -> anyhow::Result<(f64, Calibration, ImageSet)> {
    check_quantile("--quantile", q)?;
    let set = load_for_model(dir, det.shape(), "--calibrate", warn)?;
    let scores = scores_of(det, &set.to_batch())?;
    let threshold = quantile(&scores, q);
    let cal = Calibration {
        dir: dir.to_path_buf(),
        quantile: q,
        scores: ScoreSummary::of(&scores),
    };
    Ok((threshold, cal, set))
}

/// Checks that a quantile or share named `what` lies strictly between 0 and 1.
pub fn check_quantile(what: &str, q: f64) -> anyhow::Result<()> {
    anyhow::ensure!(
        q > 0.0 && q < 1.0,
        "{what} must be strictly between 0 and 1, got {q}"
    );
    Ok(())
}

/// The image score [`super::fit`] saves with its model: the one asked for (`--image-score`),
/// else [`ImageScore::default_for`] a folder of the user's images (`max(s=4)` for the
/// autoencoders, `mean` for GEOM, which makes no error map). A map-based score for GEOM is
/// refused before training, naming it.
pub fn fit_image_score(
    asked: Option<ImageScore>,
    detector: &DetectorSpec,
) -> anyhow::Result<ImageScore> {
    let reconstructs = detector.kind == DetectorKind::Autoencoder;
    let score = asked.unwrap_or_else(|| ImageScore::default_for(None, reconstructs));
    score.validate()?;
    anyhow::ensure!(
        reconstructs || score.is_mean(),
        "--image-score {score} needs a per-pixel error map, which the {} detector does not \
         make: use --image-score mean",
        detector.kind
    );
    Ok(score)
}

/// Checks that the threshold stored in `file` was calibrated with image score `score` (files
/// of earlier versions: `mean`): a threshold of another score is a number on another scale,
/// and would flag nonsense. The error names both scores and how to get a threshold.
pub fn check_threshold_score(file: &DetectFile, score: &ImageScore) -> anyhow::Result<()> {
    let stored = file.image_score.unwrap_or_default();
    anyhow::ensure!(
        stored == *score || file.threshold.is_none(),
        "the threshold in {} was calibrated with image score {stored}, but these images are \
         scored with {score}: give --calibrate DIR (calibrates and stores a threshold of \
         {score}), --threshold or --contamination, or --image-score {stored}",
        super::DETECT_FILE
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_matches_numpy_linear() {
        // numpy.quantile([3, 1, 4, 1, 5], q): q=0.5 -> 3, q=0.9 -> 4.6, q=0.25 -> 1, q=0.95 -> 4.8
        let v = [3.0, 1.0, 4.0, 1.0, 5.0];
        assert_eq!(quantile(&v, 0.5), 3.0);
        assert!((quantile(&v, 0.9) - 4.6).abs() < 1e-12);
        assert_eq!(quantile(&v, 0.25), 1.0);
        assert!((quantile(&v, 0.95) - 4.8).abs() < 1e-12);
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert_eq!(quantile(&v, 1.0), 5.0);
        assert_eq!(quantile(&[2.5], 0.3), 2.5);
        assert!(quantile(&[], 0.5).is_nan());
    }

    #[test]
    fn a_stored_threshold_belongs_to_its_image_score() {
        let mut file = DetectFile::empty();
        // No threshold: any score.
        check_threshold_score(&file, &ImageScore::MAX).unwrap();
        // A file of an earlier version: its threshold is of mean.
        file.threshold = Some(0.01);
        check_threshold_score(&file, &ImageScore::Mean).unwrap();
        let e = check_threshold_score(&file, &ImageScore::MAX)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("image score mean") && e.contains("max(s=4)"),
            "{e}"
        );
        file.image_score = Some(ImageScore::MAX);
        check_threshold_score(&file, &ImageScore::MAX).unwrap();
        assert!(check_threshold_score(&file, &ImageScore::Mean).is_err());
        // fit's default: max(s=4) for the autoencoders, mean for GEOM; GEOM refuses a map.
        let ae = DetectorSpec::default();
        assert_eq!(fit_image_score(None, &ae).unwrap(), ImageScore::MAX);
        let geom = DetectorSpec {
            kind: DetectorKind::Geom,
            ..DetectorSpec::default()
        };
        assert_eq!(fit_image_score(None, &geom).unwrap(), ImageScore::Mean);
        let e = fit_image_score(Some(ImageScore::TopK { q: 0.01 }), &geom)
            .unwrap_err()
            .to_string();
        assert!(e.contains("topk(0.01)") && e.contains("geom"), "{e}");
    }
}
