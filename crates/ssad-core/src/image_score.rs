//! Image scores from a per-pixel error map: how one number per image is made from the map of
//! a reconstruction's errors. One vocabulary everywhere (`--image-score` on the command line,
//! `image_score` in a study's `[score]` table, the model sidecar, the Python package):
//!
//! * `mean`: the mean of the map, i.e. the mean squared reconstruction error over the whole
//!   image (the paper's score, and the detector's own [`crate::Detector::score`]);
//! * `max(s=S)` (`max` alone: `s` = [`DEFAULT_SIGMA`]): the maximum of the map after a
//!   Gaussian blur of standard deviation `S` pixels at the map's resolution ([`gaussian_blur`]);
//! * `topk(q)`: the mean of the `k = ceil(q N)` largest of the map's `N` pixels (at least 1),
//!   unblurred ([`top_k_count`]).
//!
//! The map is the one of the pixel metrics: per pixel, the squared error `(x - x̂)²` averaged
//! over channels, at the model's resolution, row-major. Everything here is plain arithmetic
//! on `f32` maps computed in `f64`, so the scores can be checked against SciPy and PyTorch.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Blur of `max` when none is written (`max` = `max(s=4)`): 4 pixels at the model's
/// resolution, about the size of a small defect at 64x64 (a scratch or blob a few pixels wide);
/// see `docs/results/synthetic-mvtec.md` for the evidence.
pub const DEFAULT_SIGMA: f64 = 4.0;

/// The image score of models trained on MVTec-style data or a folder of the user's images
/// (`ssad fit`, `train --images`) when none is asked for: `max(s=4)`, the best image AUROC on
/// the synthetic MVTec-style category (`docs/results/synthetic-mvtec.md`).
pub const PHOTO_DEFAULT: ImageScore = ImageScore::Max {
    sigma: DEFAULT_SIGMA,
};

/// The largest blur accepted, in pixels: a blur wider than the largest images ssad reads
/// (4096 pixels, a quarter of it per sigma) only flattens the map to its mean.
pub const MAX_SIGMA: f64 = 1024.0;

/// The Gaussian kernel is cut at this many standard deviations (SciPy's `truncate=4.0`).
pub const TRUNCATE: f64 = 4.0;

/// How an image's score is made from its per-pixel error map (see the module docs). Written
/// and read as its text (`mean`, `max(s=4)`, `topk(0.01)`), also in JSON.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum ImageScore {
    /// The mean of the map: the mean squared error over the image (the paper's score).
    #[default]
    Mean,
    /// The maximum of the map after a Gaussian blur of `sigma` pixels (0: no blur).
    Max {
        /// Standard deviation of the blur in pixels at the map's resolution.
        sigma: f64,
    },
    /// The mean of the top `q` fraction of the map's pixels.
    TopK {
        /// The fraction of pixels averaged, in (0, 1].
        q: f64,
    },
}

/// The forms an image score is written in, for error messages.
const EXPECTED: &str = "expected mean, max, max(s=SIGMA) (a blur of SIGMA >= 0 pixels) or \
                        topk(Q) (the top Q fraction of pixels, 0 < Q <= 1)";

impl ImageScore {
    /// `max` with the default blur ([`DEFAULT_SIGMA`]).
    pub const MAX: ImageScore = ImageScore::Max {
        sigma: DEFAULT_SIGMA,
    };

    /// The image score of a model trained on `dataset` (`None`: a folder of the user's images,
    /// as `ssad fit` and `train --images` take) with a detector that makes error maps
    /// (`reconstructs`; GEOM does not: always `mean`): `mean` for the built-in datasets (the
    /// paper's score), [`PHOTO_DEFAULT`] for MVTec-style data and folders, where defects are
    /// small and local.
    pub fn default_for(dataset: Option<&crate::data::DatasetName>, reconstructs: bool) -> Self {
        match dataset {
            _ if !reconstructs => ImageScore::Mean,
            Some(d) if !d.is_mvtec() => ImageScore::Mean,
            _ => PHOTO_DEFAULT,
        }
    }

    /// True for `mean` (the paper's score, and what records leave unwritten).
    pub fn is_mean(&self) -> bool {
        *self == ImageScore::Mean
    }

    /// Checks the parameters: a blur `sigma` finite, >= 0 and at most [`MAX_SIGMA`]; a
    /// fraction `q` in (0, 1]. The error names the score and the bad value.
    pub fn validate(&self) -> anyhow::Result<()> {
        match *self {
            ImageScore::Mean => Ok(()),
            ImageScore::Max { sigma } => {
                anyhow::ensure!(
                    sigma.is_finite() && (0.0..=MAX_SIGMA).contains(&sigma),
                    "image score {self}: the blur s must be a number of pixels >= 0 and at most \
                     {MAX_SIGMA}, got {sigma}"
                );
                Ok(())
            }
            ImageScore::TopK { q } => {
                anyhow::ensure!(
                    q.is_finite() && q > 0.0 && q <= 1.0,
                    "image score {self}: the fraction q must be a number with 0 < q <= 1 (the \
                     share of pixels averaged), got {q}"
                );
                Ok(())
            }
        }
    }

    /// A file-name-safe form (`mean`, `max_s4`, `topk_0.01`).
    pub fn slug(&self) -> String {
        match *self {
            ImageScore::Mean => "mean".into(),
            ImageScore::Max { sigma } => format!("max_s{sigma}"),
            ImageScore::TopK { q } => format!("topk_{q}"),
        }
    }
}

impl fmt::Display for ImageScore {
    /// The canonical text: `mean`, `max(s=4)` (the blur always written), `topk(0.01)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ImageScore::Mean => f.write_str("mean"),
            ImageScore::Max { sigma } => write!(f, "max(s={sigma})"),
            ImageScore::TopK { q } => write!(f, "topk({q})"),
        }
    }
}

impl FromStr for ImageScore {
    type Err = anyhow::Error;

    /// Reads `mean`, `max`, `max(s=S)` (also `max(sigma=S)`), `topk(Q)` (also `topk(q=Q)`),
    /// case and spaces ignored, and checks the values ([`ImageScore::validate`]); errors name
    /// the text and what is expected.
    fn from_str(text: &str) -> anyhow::Result<Self> {
        let t: String = text
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase();
        let (name, arg) = match t.split_once('(') {
            Some((name, rest)) => match rest.strip_suffix(')') {
                Some(arg) => (name, Some(arg)),
                None => anyhow::bail!("unknown image score '{text}': missing ')'; {EXPECTED}"),
            },
            None => (t.as_str(), None),
        };
        let number = |arg: &str, keys: &[&str]| -> anyhow::Result<f64> {
            let value = match arg.split_once('=') {
                Some((k, v)) if keys.contains(&k) => v,
                Some((k, _)) => anyhow::bail!(
                    "image score '{text}': unknown parameter '{k}' (expected {}); {EXPECTED}",
                    keys.join(" or ")
                ),
                None => arg,
            };
            value.parse::<f64>().map_err(|_| {
                anyhow::anyhow!("image score '{text}': '{value}' is not a number; {EXPECTED}")
            })
        };
        let score = match (name, arg) {
            ("mean", None) => ImageScore::Mean,
            ("max", None) => ImageScore::MAX,
            ("max", Some(a)) => ImageScore::Max {
                sigma: number(a, &["s", "sigma"])?,
            },
            ("topk", Some(a)) => ImageScore::TopK {
                q: number(a, &["q"])?,
            },
            ("topk", None) => {
                anyhow::bail!("image score '{text}': topk needs its fraction, e.g. topk(0.01)")
            }
            _ => anyhow::bail!("unknown image score '{text}': {EXPECTED}"),
        };
        score
            .validate()
            .map_err(|e| anyhow::anyhow!("{e} (written '{text}')"))?;
        Ok(score)
    }
}

impl Serialize for ImageScore {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ImageScore {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(|e: anyhow::Error| serde::de::Error::custom(e))
    }
}

/// The number of pixels `topk(q)` averages over a map of `n` pixels: `k = ceil(q n)`, at
/// least 1 and at most `n`. A product within `1e-9` (relative) of a whole number counts as
/// that number, so that `topk(0.07)` of 100 pixels is 7 although `0.07 * 100` is
/// `7.000000000000001` in binary floating point.
pub fn top_k_count(q: f64, n: usize) -> usize {
    let x = q * n as f64;
    let k = if (x - x.round()).abs() <= 1e-9 * x.abs().max(1.0) {
        x.round()
    } else {
        x.ceil()
    };
    (k.max(1.0) as usize).min(n.max(1))
}

/// The Gaussian kernel of SciPy's `gaussian_filter` (`truncate` = [`TRUNCATE`]): radius
/// `r = floor(4 sigma + 0.5)`, weights `exp(-x² / (2 sigma²))` for `x = -r..=r`, normalised to
/// sum 1. `sigma` must be positive.
pub fn gaussian_kernel(sigma: f64) -> Vec<f64> {
    let radius = (TRUNCATE * sigma + 0.5).floor() as i64;
    let s2 = sigma * sigma;
    let phi: Vec<f64> = (-radius..=radius)
        .map(|x| (-0.5 / s2 * (x * x) as f64).exp())
        .collect();
    let sum: f64 = phi.iter().sum();
    phi.into_iter().map(|p| p / sum).collect()
}

/// Index `i` (possibly outside `0..n`) mirrored into `0..n` the way SciPy's `mode='reflect'`
/// extends a line: `d c b a | a b c d | d c b a` (the edge pixel repeated), periodic with
/// period `2n` for reaches beyond one reflection.
pub fn reflect_index(i: i64, n: usize) -> usize {
    let n = n as i64;
    let m = i.rem_euclid(2 * n);
    (if m >= n { 2 * n - 1 - m } else { m }) as usize
}

/// Gaussian blur of an `h x w` map (row-major) with standard deviation `sigma` pixels, as
/// `scipy.ndimage.gaussian_filter(map.astype(float64), sigma, mode='reflect', truncate=4.0)`
/// computes it: separable, along the rows' axis (0) first, then along the columns' (1), with
/// the image reflected at its edges ([`reflect_index`]), in `f64`. `sigma = 0` returns the
/// map unchanged.
///
/// # Panics
/// When `map.len() != h * w`.
pub fn gaussian_blur(map: &[f32], h: usize, w: usize, sigma: f64) -> Vec<f64> {
    assert_eq!(map.len(), h * w, "a {h}x{w} map has {} values", map.len());
    let mut out: Vec<f64> = map.iter().map(|&v| f64::from(v)).collect();
    if sigma <= 0.0 || map.is_empty() {
        return out;
    }
    let kernel = gaussian_kernel(sigma);
    let r = (kernel.len() / 2) as i64;
    // Along axis 0 (down each column).
    let mut line = Vec::with_capacity(h + 2 * r as usize);
    for x in 0..w {
        line.clear();
        line.extend((-r..h as i64 + r).map(|y| out[reflect_index(y, h) * w + x]));
        for y in 0..h {
            out[y * w + x] = dot(&line[y..y + kernel.len()], &kernel);
        }
    }
    // Along axis 1 (along each row).
    let mut line = Vec::with_capacity(w + 2 * r as usize);
    for y in 0..h {
        let row = &mut out[y * w..(y + 1) * w];
        line.clear();
        line.extend((-r..w as i64 + r).map(|x| row[reflect_index(x, w)]));
        for (x, v) in row.iter_mut().enumerate() {
            *v = dot(&line[x..x + kernel.len()], &kernel);
        }
    }
    out
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The score `kind` of one `h x w` error map (row-major; the squared error averaged over
/// channels): its mean, the maximum of its blur ([`gaussian_blur`]), or the mean of its
/// [`top_k_count`] largest values; computed in `f64`.
///
/// # Panics
/// When `map.len() != h * w` or the map is empty.
pub fn score_from_map(map: &[f32], h: usize, w: usize, kind: &ImageScore) -> f64 {
    assert!(
        map.len() == h * w && !map.is_empty(),
        "a {h}x{w} map has {} values",
        map.len()
    );
    let n = map.len();
    match *kind {
        ImageScore::Mean => map.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64,
        ImageScore::Max { sigma } => gaussian_blur(map, h, w, sigma)
            .into_iter()
            .fold(f64::NEG_INFINITY, f64::max),
        ImageScore::TopK { q } => {
            let k = top_k_count(q, n);
            let mut v: Vec<f32> = map.to_vec();
            // The k largest in front (any order among them), then their mean.
            if k < n {
                v.select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a));
            }
            v[..k].iter().map(|&x| f64::from(x)).sum::<f64>() / k as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_parse_print_and_round_trip() {
        for (text, want, canon) in [
            ("mean", ImageScore::Mean, "mean"),
            (" MEAN ", ImageScore::Mean, "mean"),
            ("max", ImageScore::Max { sigma: 4.0 }, "max(s=4)"),
            ("max(s=4)", ImageScore::Max { sigma: 4.0 }, "max(s=4)"),
            (
                "max(sigma = 1.5)",
                ImageScore::Max { sigma: 1.5 },
                "max(s=1.5)",
            ),
            ("max(s=0)", ImageScore::Max { sigma: 0.0 }, "max(s=0)"),
            ("max(2)", ImageScore::Max { sigma: 2.0 }, "max(s=2)"),
            ("topk(0.01)", ImageScore::TopK { q: 0.01 }, "topk(0.01)"),
            ("topk(q=1)", ImageScore::TopK { q: 1.0 }, "topk(1)"),
        ] {
            let got: ImageScore = text.parse().unwrap();
            assert_eq!(got, want, "{text}");
            assert_eq!(got.to_string(), canon);
            assert_eq!(canon.parse::<ImageScore>().unwrap(), want);
            let json = serde_json::to_string(&got).unwrap();
            assert_eq!(json, format!("\"{canon}\""));
            assert_eq!(serde_json::from_str::<ImageScore>(&json).unwrap(), want);
        }
        assert_eq!(ImageScore::default(), ImageScore::Mean);
        assert_eq!(ImageScore::MAX.slug(), "max_s4");
    }

    #[test]
    fn bad_scores_are_refused_naming_the_value() {
        for (text, says) in [
            ("topk(0)", "got 0"),
            ("topk(1.5)", "got 1.5"),
            ("topk(-0.1)", "got -0.1"),
            ("topk(nan)", "got NaN"),
            ("max(s=-1)", "got -1"),
            ("max(s=inf)", "got inf"),
            ("max(s=1e9)", "got 1000000000"),
            ("median", "unknown image score 'median'"),
            ("max(s=x)", "'x' is not a number"),
            ("max(q=2)", "unknown parameter 'q'"),
            ("topk", "needs its fraction"),
            ("max(s=2", "missing ')'"),
            ("", "unknown image score ''"),
        ] {
            let e = format!("{:#}", text.parse::<ImageScore>().unwrap_err());
            assert!(e.contains(says), "{text}: {e}");
            assert!(e.contains(text), "{text}: the error names the text: {e}");
        }
        assert!(serde_json::from_str::<ImageScore>("\"topk(0)\"").is_err());
        assert!(ImageScore::Max { sigma: -2.0 }.validate().is_err());
        assert!(ImageScore::TopK { q: 0.5 }.validate().is_ok());
    }

    #[test]
    fn top_k_counts_round_up_with_whole_products_exact() {
        assert_eq!(top_k_count(0.01, 100), 1);
        assert_eq!(top_k_count(0.07, 100), 7); // 0.07 * 100 = 7.000000000000001
        assert_eq!(top_k_count(0.015, 100), 2); // 1.5 -> 2
        assert_eq!(top_k_count(0.001, 100), 1); // at least one pixel
        assert_eq!(top_k_count(1.0, 784), 784);
        assert_eq!(top_k_count(0.1, 784), 79); // 78.4 -> 79
    }

    #[test]
    fn scores_of_hand_computed_maps() {
        // A 3x4 map, values by hand.
        #[rustfmt::skip]
        let map = [
            0.0, 1.0, 2.0, 3.0,
            4.0, 9.0, 5.0, 5.0,
            0.5, 5.0, 0.0, 1.0f32,
        ];
        let (h, w) = (3, 4);
        // Mean: 35.5 / 12.
        assert_eq!(score_from_map(&map, h, w, &ImageScore::Mean), 35.5 / 12.0);
        // Max without blur: the largest pixel.
        assert_eq!(
            score_from_map(&map, h, w, &ImageScore::Max { sigma: 0.0 }),
            9.0
        );
        // topk: k = ceil(q * 12). q = 0.25 -> 3 pixels: 9, 5, 5 (three 5s: ties at the
        // boundary, any two of them give the same mean).
        assert_eq!(
            score_from_map(&map, h, w, &ImageScore::TopK { q: 0.25 }),
            19.0 / 3.0
        );
        // q = 0.3 -> ceil(3.6) = 4: 9, 5, 5, 5.
        assert_eq!(
            score_from_map(&map, h, w, &ImageScore::TopK { q: 0.3 }),
            6.0
        );
        // q = 1/12 -> 1 pixel: the max; q = 1 -> every pixel: the mean.
        assert_eq!(
            score_from_map(&map, h, w, &ImageScore::TopK { q: 1.0 / 12.0 }),
            9.0
        );
        assert_eq!(
            score_from_map(&map, h, w, &ImageScore::TopK { q: 1.0 }),
            35.5 / 12.0
        );
        // A constant map blurs to itself: max = the constant (up to rounding of the weights).
        let flat = [0.25f32; 20];
        let m = score_from_map(&flat, 4, 5, &ImageScore::Max { sigma: 1.0 });
        assert!((m - 0.25).abs() < 1e-15, "{m}");
    }

    #[test]
    fn blur_of_a_point_is_the_outer_product_of_the_kernel() {
        // One bright pixel far from the edges: the blur is the kernel's outer product, so the
        // maximum of max(s=1) is k0^2, k0 = 1 / sum_{x=-4..4} exp(-x^2/2).
        let (h, w) = (11, 11);
        let mut map = vec![0f32; h * w];
        map[5 * w + 5] = 1.0;
        let k0 = 1.0
            / (-4..=4)
                .map(|x: i32| (-0.5 * (x * x) as f64).exp())
                .sum::<f64>();
        let got = score_from_map(&map, h, w, &ImageScore::Max { sigma: 1.0 });
        assert!((got - k0 * k0).abs() < 1e-15, "{got} vs {}", k0 * k0);
        let blurred = gaussian_blur(&map, h, w, 1.0);
        let k1 = k0 * (-0.5f64).exp();
        assert!((blurred[5 * w + 6] - k0 * k1).abs() < 1e-15);
        // The blur keeps the total (reflection loses nothing at the edges).
        let total: f64 = blurred.iter().sum();
        assert!((total - 1.0).abs() < 1e-12, "{total}");
        assert_eq!(gaussian_kernel(1.0).len(), 9);
        assert_eq!(gaussian_kernel(4.0).len(), 33);
        assert_eq!(gaussian_kernel(0.1).len(), 1); // floor(0.4 + 0.5) = 0: radius 0
    }

    #[test]
    fn reflection_repeats_the_edge() {
        // d c b a | a b c d | d c b a, then periodic.
        let got: Vec<usize> = (-5..9).map(|i| reflect_index(i, 4)).collect();
        assert_eq!(got, [3, 3, 2, 1, 0, 0, 1, 2, 3, 3, 2, 1, 0, 0]);
        assert_eq!(reflect_index(-3, 1), 0);
    }

    #[test]
    fn blur_and_scores_match_scipy() {
        // Fixture: scripts/fixtures/gaussian_scipy.py (scipy.ndimage.gaussian_filter with
        // mode='reflect', truncate=4.0 on the f32 maps cast to float64; SciPy 1.17.1).
        let text = include_str!("../tests/fixtures/gaussian_scipy.json");
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        let cases = v["cases"].as_array().unwrap();
        assert_eq!(cases.len(), 7);
        for c in cases {
            let (h, w) = (
                c["h"].as_u64().unwrap() as usize,
                c["w"].as_u64().unwrap() as usize,
            );
            let sigma = c["sigma"].as_f64().unwrap();
            let map: Vec<f32> = c["map"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect();
            let want: Vec<f64> = c["blurred"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            let got = gaussian_blur(&map, h, w, sigma);
            for (i, (g, e)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (g - e).abs() <= 1e-13,
                    "{h}x{w} s={sigma} pixel {i}: {g} vs {e}"
                );
            }
            let max = score_from_map(&map, h, w, &ImageScore::Max { sigma });
            assert!((max - c["max"].as_f64().unwrap()).abs() <= 1e-13);
            for (q, want) in c["topk"].as_object().unwrap() {
                let q: f64 = q.parse().unwrap();
                let got = score_from_map(&map, h, w, &ImageScore::TopK { q });
                assert!(
                    (got - want.as_f64().unwrap()).abs() <= 1e-13,
                    "topk({q}): {got}"
                );
            }
        }
    }
}
