//! Pixel-level metrics of anomaly maps against ground-truth masks (anomaly
//! segmentation): pixel ROC AUC and AUPRO, the area under the per-region
//! overlap curve of the MVTec AD evaluation (Bergmann et al., "The MVTec
//! Anomaly Detection Dataset", IJCV 2021).
//!
//! Hand-written: the PRO curve is computed by Python code only (the MVTec AD
//! evaluation scripts, anomalib, pyaupro); no maintained Rust crate has it.
//! Region labelling is a 30-line flood fill here: the Rust labelling crates
//! either bring an image stack (imageproc) or return pixel lists rather
//! than scipy's raster-ordered label image (lutz). The pixel AUC reuses the
//! crate's exact Mann-Whitney count ([`crate::metrics::roc_auc`] itself
//! takes `f64` slices, which would mean a second, 8-byte copy of 1e8 scores).
//!
//! Both metrics come from one sort of all pixels by score (descending, in
//! the order of [`f32::total_cmp`], `-0.0` joined to `0.0`) and one sweep
//! over the groups of equal scores:
//! - the ROC AUC counts, per group, the Mann-Whitney wins in integers (exact;
//!   a tie between an anomalous and a normal pixel counts one half) with the
//!   accumulator behind [`crate::metrics::roc_auc`];
//! - the PRO curve gains one point at the end of each group: every normal
//!   pixel adds `1 / n_normal` to the FPR, every pixel of region `r` adds
//!   `1 / (n_regions |r|)` to the PRO; the trapezoid area is accumulated on
//!   the fly up to the FPR limit, so the curve (up to one point per pixel) is
//!   never stored.
//!
//! Memory: the sort key of a pixel is one `u64`: the score's order key in
//! the high 32 bits, and in the low 32 bits the size of the pixel's region
//! (0 for a normal pixel; for the AUC alone, 1 for any anomalous pixel). That
//! is 8 bytes per pixel against the input's 5 (an `f32` score and a `bool`),
//! sorted in place (`sort_unstable`), plus the labels of one image at a time
//! while the keys are built. The alternatives cost more: sorting `u32` pixel
//! indices (4 bytes) compares through random reads of the scores, several
//! times slower on 1e8 pixels, and needs the mask and a per-pixel region
//! label (4 more bytes, kept for every image) at sweep time; `(f32, u32)`
//! pairs holding a global region id need the same 8 bytes plus a table. With
//! the region size in the key the sweep reads the keys once, in order, and
//! the weight of a pixel is `1 / size` with no lookup.
//!
//! Accuracy: the AUC is the exact rational rounded once (while the counts
//! stay below 2^53). The PRO sums (up to one term per pixel) and the area
//! are compensated (Neumaier) sums of positive terms, so their relative
//! error stays a few units in the last place, independent of the number of
//! pixels.

use crate::metrics::{MannWhitney, MetricError};
use serde::Serialize;

/// One image's per-pixel anomaly scores and its ground-truth mask, row-major,
/// same size (`width * height` each); mask `true` marks an anomalous pixel.
#[derive(Clone, Copy, Debug)]
pub struct PixelMap<'a> {
    /// Number of columns.
    pub width: usize,
    /// Number of rows.
    pub height: usize,
    /// Anomaly score of each pixel (higher = more anomalous), row-major.
    pub scores: &'a [f32],
    /// Ground truth of each pixel (`true` = anomalous), row-major.
    pub mask: &'a [bool],
}

/// The FPR limit of the MVTec AD evaluation's AUPRO.
pub const AUPRO_MAX_FPR: f64 = 0.3;

/// Pixel ROC AUC and AUPRO of one set of maps, from one sort.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PixelMetrics {
    /// Pixel-level ROC AUC (see [`pixel_auroc`]).
    pub auroc: f64,
    /// AUPRO up to `max_fpr`, normalized to [0, 1] (see [`aupro`]).
    pub aupro: f64,
    /// The FPR limit of `aupro`.
    pub max_fpr: f64,
}

/// Pixel-level ROC AUC over every pixel of every image (normal pixel = mask
/// false). Ties count one half (identical to scikit-learn's `roc_auc_score`
/// on the flattened pixels).
///
/// Errors when a map's scores or mask do not hold `width * height` values,
/// when a score is NaN or infinite, or when there is no anomalous or no
/// normal pixel.
pub fn pixel_auroc(maps: &[PixelMap]) -> Result<f64, MetricError> {
    let totals = validate(maps)?;
    let (keys, _) = sorted_keys(maps, &totals, false);
    Ok(sweep(&keys, &totals, true, None).0)
}

/// AUPRO as in the MVTec AD evaluation: the area under the PRO-vs-FPR curve
/// from FPR 0 to `max_fpr`, divided by `max_fpr` (a perfect map scores 1).
///
/// Ground-truth regions are the connected components of each mask
/// (8-connectivity, see [`label_regions`]). At each threshold `t`:
/// PRO(t) is the mean over all regions of all images of the fraction of the
/// region's pixels with score `>= t`; FPR(t) is the fraction of all normal
/// pixels (in every image, images without anomalies included) with score
/// `>= t`. The curve has one point per distinct score (tied pixels never
/// split) and starts at (0, 0); it is integrated with the trapezoid rule,
/// its point at exactly `max_fpr` linearly interpolated. Use
/// [`AUPRO_MAX_FPR`] for the usual limit.
///
/// Errors as [`pixel_auroc`], and when `max_fpr` is not in (0, 1] or an
/// image has more than `u32::MAX` pixels.
pub fn aupro(maps: &[PixelMap], max_fpr: f64) -> Result<f64, MetricError> {
    check_max_fpr(max_fpr)?;
    let totals = validate(maps)?;
    let (keys, n_regions) = sorted_keys(maps, &totals, true);
    Ok(sweep(&keys, &totals, false, Some((max_fpr, n_regions))).1)
}

/// [`pixel_auroc`] and [`aupro`] together with one sort of the pixels (the
/// sort dominates the cost of either).
pub fn pixel_metrics(maps: &[PixelMap], max_fpr: f64) -> Result<PixelMetrics, MetricError> {
    check_max_fpr(max_fpr)?;
    let totals = validate(maps)?;
    let (keys, n_regions) = sorted_keys(maps, &totals, true);
    let (auroc, aupro) = sweep(&keys, &totals, true, Some((max_fpr, n_regions)));
    Ok(PixelMetrics {
        auroc,
        aupro,
        max_fpr,
    })
}

/// Connected components of a binary mask (row-major, `width * height`) with
/// 8-connectivity, as `scipy.ndimage.label` with a 3x3 structure of ones:
/// a label per pixel (0 = background, 1..=n the regions, numbered in raster
/// order of their first pixel) and n. The regions of AUPRO.
///
/// # Panics
/// When `mask.len() != width * height`, or with more than `u32::MAX` regions.
pub fn label_regions(mask: &[bool], width: usize, height: usize) -> (Vec<u32>, usize) {
    assert_eq!(
        Some(mask.len()),
        width.checked_mul(height),
        "label_regions: a {width}x{height} mask needs width*height values"
    );
    let mut labels = vec![0u32; mask.len()];
    let mut n: u32 = 0;
    // Flood fill from the first unlabelled pixel of each region in raster
    // order; a pixel is labelled when pushed, so it is pushed at most once.
    let mut stack: Vec<usize> = Vec::new();
    for start in 0..mask.len() {
        if !mask[start] || labels[start] != 0 {
            continue;
        }
        n = n.checked_add(1).expect("more than u32::MAX regions");
        labels[start] = n;
        stack.push(start);
        while let Some(p) = stack.pop() {
            let (y, x) = (p / width, p % width);
            for ny in y.saturating_sub(1)..=(y + 1).min(height - 1) {
                for nx in x.saturating_sub(1)..=(x + 1).min(width - 1) {
                    let q = ny * width + nx;
                    if mask[q] && labels[q] == 0 {
                        labels[q] = n;
                        stack.push(q);
                    }
                }
            }
        }
    }
    (labels, n as usize)
}

/// Rejects an FPR limit outside (0, 1] (NaN included).
fn check_max_fpr(max_fpr: f64) -> Result<(), MetricError> {
    if max_fpr > 0.0 && max_fpr <= 1.0 {
        Ok(())
    } else {
        Err(MetricError::InvalidMaxFpr { max_fpr })
    }
}

/// Pixel counts of a valid set of maps.
struct Totals {
    pixels: usize,
    anomalous: usize,
}

/// Checks every map's size, that all scores are finite and that both classes
/// occur; counts the pixels.
fn validate(maps: &[PixelMap]) -> Result<Totals, MetricError> {
    for (image, m) in maps.iter().enumerate() {
        let pixels = m.width.checked_mul(m.height);
        if pixels.is_none_or(|p| p > u32::MAX as usize) {
            return Err(MetricError::PixelMapTooLarge {
                image,
                width: m.width,
                height: m.height,
            });
        }
        if Some(m.scores.len()) != pixels || Some(m.mask.len()) != pixels {
            return Err(MetricError::PixelMapSize {
                image,
                width: m.width,
                height: m.height,
                scores: m.scores.len(),
                mask: m.mask.len(),
            });
        }
    }
    let mut first_bad: Option<(usize, usize, f32)> = None;
    let mut bad = 0usize;
    let (mut pixels, mut anomalous) = (0usize, 0usize);
    for (image, m) in maps.iter().enumerate() {
        pixels += m.scores.len();
        anomalous += m.mask.iter().filter(|&&a| a).count();
        let mut non_finite = m.scores.iter().enumerate().filter(|(_, s)| !s.is_finite());
        if let Some((i, &s)) = non_finite.next() {
            first_bad.get_or_insert((image, i, s));
            bad += 1 + non_finite.count();
        }
    }
    if let Some((image, i, value)) = first_bad {
        let width = maps[image].width;
        return Err(MetricError::NonFinitePixel {
            count: bad,
            image,
            x: i % width,
            y: i / width,
            value,
        });
    }
    if pixels == 0 {
        return Err(MetricError::Empty);
    }
    if anomalous == 0 || anomalous == pixels {
        return Err(MetricError::PixelSingleClass {
            pixels,
            images: maps.len(),
            anomalous: anomalous == pixels,
        });
    }
    Ok(Totals { pixels, anomalous })
}

/// Order key of a finite score: ascending keys = descending scores in the
/// order of [`f32::total_cmp`], with `-0.0` given the key of `0.0` (equal
/// scores, one tie group, as `==` and scikit-learn have it).
fn descending_key(score: f32) -> u32 {
    let score = if score == 0.0 { 0.0 } else { score };
    let bits = score.to_bits();
    // Unsigned order = total order: negatives (sign bit set) reversed by
    // flipping every bit, below the positives (sign bit set on).
    let ascending = if bits >> 31 == 1 {
        !bits
    } else {
        bits | 1 << 31
    };
    !ascending
}

/// One `u64` per pixel of all maps, sorted ascending (= scores descending):
/// the score key in the high 32 bits; in the low 32 bits 0 for a normal
/// pixel and, for an anomalous one, the size of its region (`regions`) or 1.
/// Also returns the number of regions over all maps (0 without `regions`).
fn sorted_keys(maps: &[PixelMap], totals: &Totals, regions: bool) -> (Vec<u64>, usize) {
    let mut keys: Vec<u64> = Vec::with_capacity(totals.pixels);
    let mut n_regions = 0;
    let key = |s: f32, low: u32| u64::from(descending_key(s)) << 32 | u64::from(low);
    for m in maps {
        if regions {
            let (labels, n) = label_regions(m.mask, m.width, m.height);
            // Region sizes fit u32: validate caps an image at u32::MAX pixels.
            let mut sizes = vec![0u32; n + 1];
            for &l in &labels {
                sizes[l as usize] += 1;
            }
            sizes[0] = 0;
            n_regions += n;
            keys.extend(
                m.scores
                    .iter()
                    .zip(&labels)
                    .map(|(&s, &l)| key(s, sizes[l as usize])),
            );
        } else {
            keys.extend(
                m.scores
                    .iter()
                    .zip(m.mask)
                    .map(|(&s, &a)| key(s, u32::from(a))),
            );
        }
    }
    // A sort of plain u64 keys has one result whatever the algorithm: the parallel sort
    // (rayon) gives the same bits on any thread count.
    {
        use rayon::slice::ParallelSliceMut;
        keys.par_sort_unstable();
    }
    (keys, n_regions)
}

/// Neumaier's compensated sum: the error of a sum of positive terms stays
/// about one rounding, independent of the number of terms.
#[derive(Debug, Clone, Copy, Default)]
struct CompensatedSum {
    sum: f64,
    compensation: f64,
}

impl CompensatedSum {
    fn add(&mut self, x: f64) {
        let t = self.sum + x;
        if self.sum.abs() >= x.abs() {
            self.compensation += (self.sum - t) + x;
        } else {
            self.compensation += (x - t) + self.sum;
        }
        self.sum = t;
    }

    fn value(&self) -> f64 {
        self.sum + self.compensation
    }
}

/// The trapezoid area under the PRO curve up to an FPR limit, fed one curve
/// point at a time. Internally FPR is a count of normal pixels and PRO the
/// sum of `1 / |r|` (both scaled out at the end), so the main segments are
/// integer widths times sums.
struct ProArea {
    max_fpr: f64,
    n_normal: usize,
    prev_fp: usize,
    prev_pro: f64,
    area: CompensatedSum,
    done: bool,
}

impl ProArea {
    fn new(max_fpr: f64, n_normal: usize) -> Self {
        ProArea {
            max_fpr,
            n_normal,
            prev_fp: 0,
            prev_pro: 0.0,
            area: CompensatedSum::default(),
            done: false,
        }
    }

    /// Adds the segment to the point (`fp` normal pixels, PRO sum `pro`).
    fn point(&mut self, fp: usize, pro: f64) {
        if self.done {
            return;
        }
        let n = self.n_normal as f64;
        let fpr = fp as f64 / n;
        if fpr <= self.max_fpr {
            self.area
                .add((fp - self.prev_fp) as f64 * (self.prev_pro + pro));
            self.prev_fp = fp;
            self.prev_pro = pro;
            // Later points at this FPR add vertical segments only.
            self.done = fpr == self.max_fpr;
        } else {
            // The segment crosses the limit: interpolate its point there.
            let dx = self.max_fpr * n - self.prev_fp as f64;
            let w = dx / (fp - self.prev_fp) as f64;
            let pro_at_limit = self.prev_pro + (pro - self.prev_pro) * w;
            self.area.add(dx * (self.prev_pro + pro_at_limit));
            self.done = true;
        }
    }

    /// The normalized area once the curve has passed the limit.
    fn value(&self, n_regions: f64) -> f64 {
        debug_assert!(self.done);
        let v = self.area.value() / (2.0 * self.n_normal as f64 * n_regions) / self.max_fpr;
        // The exact value is in [0, 1]; rounding can step a few ulp over 1
        // on a perfect map.
        debug_assert!(v <= 1.0 + 1e-12, "AUPRO {v} > 1");
        v.min(1.0)
    }
}

/// One pass over the sorted keys: the ROC AUC (when `auroc`) and the AUPRO
/// (when `pro` gives the FPR limit and the number of regions; the keys then
/// carry region sizes). Returns NaN for a metric not asked for.
fn sweep(keys: &[u64], totals: &Totals, auroc: bool, pro: Option<(f64, usize)>) -> (f64, f64) {
    let n_normal = totals.pixels - totals.anomalous;
    let mut mw = MannWhitney::new(totals.anomalous, n_normal);
    let mut pro_area = pro.map(|(max_fpr, _)| ProArea::new(max_fpr, n_normal));
    let n_regions = pro.map_or(0, |(_, n)| n) as f64;
    let mut pro_sum = CompensatedSum::default();
    let mut fp = 0usize;
    let mut i = 0;
    while i < keys.len() {
        let score = keys[i] >> 32;
        let (mut anomalies, mut normals) = (0usize, 0usize);
        let mut j = i;
        while j < keys.len() && keys[j] >> 32 == score {
            let size = keys[j] as u32;
            if size == 0 {
                normals += 1;
            } else {
                anomalies += 1;
                if pro_area.is_some() {
                    pro_sum.add(1.0 / f64::from(size));
                }
            }
            j += 1;
        }
        i = j;
        mw.add_group(anomalies, normals);
        fp += normals;
        if let Some(area) = &mut pro_area {
            area.point(fp, pro_sum.value());
            if area.done && !auroc {
                break;
            }
        }
    }
    let auc = if auroc { mw.auc() } else { f64::NAN };
    let aupro = pro_area.map_or(f64::NAN, |a| a.value(n_regions));
    (auc, aupro)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::roc_auc;

    /// Tolerance of AUPRO against exact rationals: the compensated sums keep
    /// the result within about 15 units of 2^-53 (3.3e-15) of the exact
    /// value (see the module doc); 1e-14 leaves a margin of 3.
    const EXACT_TOL: f64 = 1e-14;

    fn map<'a>(width: usize, height: usize, scores: &'a [f32], mask: &'a [bool]) -> PixelMap<'a> {
        PixelMap {
            width,
            height,
            scores,
            mask,
        }
    }

    fn bools(bits: &[u8]) -> Vec<bool> {
        bits.iter().map(|&b| b == 1).collect()
    }

    fn sixteenths(v: &[u8]) -> Vec<f32> {
        v.iter().map(|&k| f32::from(k) / 16.0).collect()
    }

    fn assert_close(got: f64, want: f64, tol: f64) {
        assert!((got - want).abs() <= tol, "got {got}, want {want}");
    }

    #[test]
    fn one_region_4x4_by_hand() {
        // Region = the 2x2 block at rows 1-2, columns 1-2 (pixels 5, 6, 9, 10).
        // Scores (x16) make the descending order A A N A N N A N N N N N N N N N
        // (A = anomalous), every score distinct.
        let scores = sixteenths(&[13, 11, 10, 8, 7, 15, 14, 6, 5, 12, 9, 4, 3, 2, 1, 0]);
        let mask = bools(&[0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0]);
        let maps = [map(4, 4, &scores, &mask)];
        // AUROC: the anomalies have 12, 12, 11 and 9 of the 12 normals below
        // them: 44 / 48 = 11/12.
        assert_eq!(pixel_auroc(&maps).unwrap(), 11.0 / 12.0);
        // One region, so PRO = TPR. Curve (FPR in twelfths): (0,0) (0,1/4)
        // (0,1/2) (1,1/2) (1,3/4) (2,3/4) (3,3/4) (3,1) (4,1) ... (12,1).
        // Area to 0.3 = 3.6/12: 1/12 * 1/2 + 2/12 * 3/4 + (0.3 - 3/12) * 1
        // = 1/24 + 1/8 + 1/20 = 13/60; / 0.3 = 13/18.
        assert_close(aupro(&maps, AUPRO_MAX_FPR).unwrap(), 13.0 / 18.0, EXACT_TOL);
        // To FPR 1 the area adds 9/12 at PRO 1: 1/6 + 3/4 = 11/12, the AUROC
        // (a single region makes the PRO curve the ROC curve).
        assert_close(aupro(&maps, 1.0).unwrap(), 11.0 / 12.0, EXACT_TOL);
    }

    #[test]
    fn regions_weigh_equally() {
        // 5x4: region A = pixel 0 (size 1), region B = pixels 17, 18, 19
        // (row 3, columns 2-4; size 3). Scores: A 1.0; B 0.75, 0.5, 0.125;
        // one normal (pixel 10) 0.625; the other 15 normals 0. n_normal = 16.
        let mut scores = vec![0.0f32; 20];
        let mut mask = vec![false; 20];
        for (i, s) in [(0, 1.0), (17, 0.75), (18, 0.5), (19, 0.125)] {
            scores[i] = s;
            mask[i] = true;
        }
        scores[10] = 0.625;
        let maps = [map(5, 4, &scores, &mask)];
        // PRO weighs regions, not pixels: after 1.0 (A) PRO = (1 + 0)/2 = 1/2
        // (the pixel TPR would be 1/4); after 0.75 (1 + 1/3)/2 = 2/3; the
        // normal at 0.625 moves FPR to 1/16; 0.5 and 0.125 lift PRO to 5/6
        // and 1 at FPR 1/16; the 15 zeros end at (1, 1).
        // Area to 0.3: 1/16 * 2/3 + (0.3 - 1/16) * 1 = 1/24 + 19/80 = 67/240;
        // / 0.3 = 67/72. (Pixel-weighted: 1/16 * 1/2 + 19/80 -> 43/48.)
        assert_close(aupro(&maps, 0.3).unwrap(), 67.0 / 72.0, EXACT_TOL);
        // AUROC: 16 + 16 + 15 + 15 normals below the anomalies: 62/64.
        assert_eq!(pixel_auroc(&maps).unwrap(), 31.0 / 32.0);
    }

    #[test]
    fn ties_across_classes_and_a_good_image() {
        // Image 1, 3x2: row 0 anomalous (one region of 3), scores 0.5 0.5
        // 0.25; row 1 normal, scores 0.5 0.25 0. Image 2, 2x2, no anomaly:
        // scores 0.5 0 0 0. n_normal = 3 + 4 = 7.
        let s1 = [0.5f32, 0.5, 0.25, 0.5, 0.25, 0.0];
        let m1 = bools(&[1, 1, 1, 0, 0, 0]);
        let s2 = [0.5f32, 0.0, 0.0, 0.0];
        let m2 = [false; 4];
        let both = [map(3, 2, &s1, &m1), map(2, 2, &s2, &m2)];
        // Groups: 0.5 holds 2 anomalous and 2 normal pixels -> one point
        // (2/7, 2/3) straight from (0, 0); 0.25: 1 and 1 -> (3/7, 1);
        // 0: 4 normals -> (1, 1).
        // 0.3 lies on the segment (2/7, 2/3)-(3/7, 1) of slope 7/3: PRO at
        // 0.3 = 2/3 + 7/3 * 1/70 = 7/10. Area = 2/7 * 1/3 + 1/70 * (2/3 +
        // 7/10)/2 = 2/21 + 41/4200 = 441/4200; / 0.3 = 0.35.
        assert_close(aupro(&both, 0.3).unwrap(), 0.35, EXACT_TOL);
        // To FPR 1: 2/21 + 1/7 * 5/6 + 4/7 = 11/14 = the AUROC (one region).
        assert_close(aupro(&both, 1.0).unwrap(), 11.0 / 14.0, EXACT_TOL);
        // AUROC: the two anomalies at 0.5 have 5 normals below and 2 tied
        // (6 each); the one at 0.25 has 4 below and 1 tied (4.5): 16.5/21.
        assert_eq!(pixel_auroc(&both).unwrap(), 11.0 / 14.0);
        // The good image's normals count: without it n_normal = 3 and the
        // first point is (1/3, 2/3), past 0.3: PRO(0.3) = 0.6, area 0.09,
        // AUPRO 0.3 instead of 0.35.
        assert_close(aupro(&both[..1], 0.3).unwrap(), 0.3, EXACT_TOL);
    }

    #[test]
    fn signed_zeros_tie() {
        // 0.0 (anomalous) and -0.0 (normal) are one score: one point (1, 1)
        // from (0, 0), area 1/2. Split by total_cmp (0.0 above -0.0) the
        // curve would be perfect (1.0).
        let scores = [0.0f32, -0.0];
        let mask = [true, false];
        let maps = [map(2, 1, &scores, &mask)];
        assert_eq!(pixel_auroc(&maps).unwrap(), 0.5);
        assert_close(aupro(&maps, 1.0).unwrap(), 0.5, EXACT_TOL);
    }

    #[test]
    fn diagonal_neighbours_are_one_region() {
        assert_eq!(
            label_regions(&bools(&[1, 0, 0, 1]), 2, 2),
            (vec![1, 0, 0, 1], 1)
        );
        assert_eq!(
            label_regions(&bools(&[0, 1, 1, 0]), 2, 2),
            (vec![0, 1, 1, 0], 1)
        );
        assert_eq!(label_regions(&bools(&[1, 0, 1]), 3, 1), (vec![1, 0, 2], 2));
        // Numbered in raster order of the first pixel:
        //   . . X
        //   X . X
        //   X . .
        assert_eq!(
            label_regions(&bools(&[0, 0, 1, 1, 0, 1, 1, 0, 0]), 3, 3),
            (vec![0, 0, 1, 2, 0, 1, 2, 0, 0], 2)
        );
        // A U whose arms only meet on the last row: one region.
        assert_eq!(
            label_regions(&bools(&[1, 0, 1, 1, 0, 1, 1, 1, 1]), 3, 3),
            (vec![1, 0, 1, 1, 0, 1, 1, 1, 1], 1)
        );
        assert_eq!(label_regions(&[], 0, 0), (vec![], 0));

        // AUPRO sees the 8-connected region: 3x3, mask pixels 0, 1 (row 0)
        // and 5 (row 1, column 2, diagonal to pixel 1). Scores: pixel 5 1.0,
        // pixels 0 and 1 0.25, the 6 normals 0.5.
        let mask = bools(&[1, 1, 0, 0, 0, 1, 0, 0, 0]);
        let mut scores = [0.5f32; 9];
        scores[5] = 1.0;
        scores[0] = 0.25;
        scores[1] = 0.25;
        let maps = [map(3, 3, &scores, &mask)];
        // One region of 3: (0, 1/3), (1, 1/3), (1, 1): AUPRO to 1 = 1/3.
        // With 4-connectivity (regions of 2 and 1) PRO would be 1/2 at FPR
        // 0 and the area 1/2.
        assert_close(aupro(&maps, 1.0).unwrap(), 1.0 / 3.0, EXACT_TOL);
    }

    #[test]
    fn perfect_and_reversed_maps() {
        // Two regions of sizes 2 and 1 scored above every normal pixel.
        let mask = bools(&[1, 1, 0, 0, 0, 0, 0, 0, 1]);
        let good: Vec<f32> = mask.iter().map(|&a| if a { 0.9 } else { 0.1 }).collect();
        let bad: Vec<f32> = mask.iter().map(|&a| if a { 0.1 } else { 0.9 }).collect();
        let good = [map(3, 3, &good, &mask)];
        let bad = [map(3, 3, &bad, &mask)];
        for max_fpr in [0.3, 0.01, 1.0] {
            assert_eq!(aupro(&good, max_fpr).unwrap(), 1.0);
            assert_eq!(aupro(&bad, max_fpr).unwrap(), 0.0);
        }
        assert_eq!(pixel_auroc(&good).unwrap(), 1.0);
        assert_eq!(pixel_auroc(&bad).unwrap(), 0.0);
    }

    #[test]
    fn key_order_is_total_cmp_with_zeros_joined() {
        let values = [
            f32::NEG_INFINITY,
            f32::MIN,
            -1.0,
            -f32::MIN_POSITIVE,
            -1e-45,
            -0.0,
            0.0,
            1e-45,
            f32::MIN_POSITIVE,
            0.5,
            1.0,
            f32::MAX,
            f32::INFINITY,
        ];
        for a in values {
            for b in values {
                let want = if a == 0.0 && b == 0.0 {
                    std::cmp::Ordering::Equal
                } else {
                    b.total_cmp(&a)
                };
                assert_eq!(descending_key(a).cmp(&descending_key(b)), want, "{a} {b}");
            }
        }
    }

    #[test]
    fn errors_name_the_problem() {
        let scores = [0.1f32, 0.2, 0.3, 0.4];
        let normal = [false; 4];
        let e = pixel_auroc(&[map(2, 2, &scores, &normal)]).unwrap_err();
        assert_eq!(
            e,
            MetricError::PixelSingleClass {
                pixels: 4,
                images: 1,
                anomalous: false
            }
        );
        let msg = e.to_string();
        assert!(
            msg.contains("all 4 pixels") && msg.contains("normal (mask false)"),
            "{msg}"
        );
        let anomalous = [true; 4];
        let msg = aupro(&[map(2, 2, &scores, &anomalous)], 0.3)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("all 4 pixels") && msg.contains("are anomalous (mask true)"),
            "{msg}"
        );

        let mask = [true, false, false, false];
        let e = aupro(&[map(2, 2, &scores, &mask), map(3, 2, &scores, &mask)], 0.3).unwrap_err();
        assert_eq!(
            e,
            MetricError::PixelMapSize {
                image: 1,
                width: 3,
                height: 2,
                scores: 4,
                mask: 4
            }
        );
        let msg = e.to_string();
        assert!(
            msg.contains("pixel map 1 is 3x2 but has 4 scores and 4 mask values"),
            "{msg}"
        );
        let e = pixel_auroc(&[map(2, 2, &scores, &mask[..3])]).unwrap_err();
        assert!(e.to_string().contains("4 scores and 3 mask values"), "{e}");

        let e = pixel_auroc(&[map(1 << 16, 1 << 16, &[], &[])]).unwrap_err();
        assert!(
            e.to_string()
                .contains("pixel map 0 is 65536x65536: at most 4294967295 pixels"),
            "{e}"
        );
        let e = pixel_auroc(&[map(usize::MAX, 2, &[], &[])]).unwrap_err();
        assert!(matches!(e, MetricError::PixelMapTooLarge { .. }), "{e}");

        let with_nan = [0.1f32, 0.2, f32::NAN, f32::INFINITY];
        let e = aupro(
            &[map(2, 2, &scores, &mask), map(2, 2, &with_nan, &mask)],
            0.3,
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("2 pixel scores are NaN or infinite (first in map 1 at x=0, y=1: NaN)"),
            "{msg}"
        );

        assert_eq!(pixel_auroc(&[]), Err(MetricError::Empty));
        assert_eq!(pixel_auroc(&[map(0, 3, &[], &[])]), Err(MetricError::Empty));
        for bad in [0.0, -0.1, 1.5, f64::NAN] {
            let e = aupro(&[map(2, 2, &scores, &mask)], bad).unwrap_err();
            assert!(e
                .to_string()
                .starts_with("max_fpr of AUPRO must be in (0, 1]"));
            assert!(pixel_metrics(&[map(2, 2, &scores, &mask)], bad).is_err());
        }
    }

    /// Numerical Recipes' 32-bit LCG.
    fn lcg(state: &mut u32) -> u32 {
        *state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        *state
    }

    /// Owned maps for the larger tests: 6-bit scores (many ties), anomalies
    /// shifted up by 16/64, masks of rectangles and diagonal strokes.
    struct Owned {
        width: usize,
        height: usize,
        scores: Vec<f32>,
        mask: Vec<bool>,
    }

    impl Owned {
        fn view(&self) -> PixelMap<'_> {
            map(self.width, self.height, &self.scores, &self.mask)
        }
    }

    fn random_maps(sizes: &[(usize, usize)], seed: u32) -> Vec<Owned> {
        let mut state = seed;
        sizes
            .iter()
            .map(|&(width, height)| {
                let mut mask = vec![false; width * height];
                let blobs = lcg(&mut state) % 6;
                for _ in 0..blobs {
                    let x0 = lcg(&mut state) as usize % width;
                    let y0 = lcg(&mut state) as usize % height;
                    let len = 1 + lcg(&mut state) as usize % 40;
                    if lcg(&mut state).is_multiple_of(2) {
                        for y in y0..(y0 + len).min(height) {
                            for x in x0..(x0 + len / 2 + 1).min(width) {
                                mask[y * width + x] = true;
                            }
                        }
                    } else {
                        for k in 0..len.min(width - x0).min(height - y0) {
                            mask[(y0 + k) * width + x0 + k] = true;
                        }
                    }
                }
                let scores = mask
                    .iter()
                    .map(|&a| {
                        let noise = (lcg(&mut state) >> 26) + if a { 16 } else { 0 };
                        noise as f32 / 64.0
                    })
                    .collect();
                Owned {
                    width,
                    height,
                    scores,
                    mask,
                }
            })
            .collect()
    }

    /// The PRO curve straight from the definition: for every distinct score,
    /// count the normal pixels and every region's pixels at or above it.
    /// O(thresholds * pixels), plain f64.
    fn brute_force_curve(maps: &[PixelMap]) -> Vec<(f64, f64)> {
        let labelled: Vec<(Vec<u32>, usize)> = maps
            .iter()
            .map(|m| label_regions(m.mask, m.width, m.height))
            .collect();
        let n_regions: usize = labelled.iter().map(|l| l.1).sum();
        let mut sizes = vec![0usize; n_regions];
        let mut offset = 0;
        for (labels, n) in &labelled {
            for &l in labels.iter().filter(|&&l| l > 0) {
                sizes[offset + l as usize - 1] += 1;
            }
            offset += n;
        }
        let n_normal = maps
            .iter()
            .map(|m| m.mask.iter().filter(|&&a| !a).count())
            .sum::<usize>() as f64;
        let mut thresholds: Vec<f32> = maps.iter().flat_map(|m| m.scores.iter().copied()).collect();
        thresholds.sort_by(|a, b| b.total_cmp(a));
        thresholds.dedup();
        let mut curve = vec![(0.0, 0.0)];
        for t in thresholds {
            let mut fp = 0usize;
            let mut hits = vec![0usize; n_regions];
            let mut offset = 0;
            for (m, (labels, n)) in maps.iter().zip(&labelled) {
                for (&s, &l) in m.scores.iter().zip(labels) {
                    if s >= t {
                        if l == 0 {
                            fp += 1;
                        } else {
                            hits[offset + l as usize - 1] += 1;
                        }
                    }
                }
                offset += n;
            }
            let pro: f64 = hits
                .iter()
                .zip(&sizes)
                .map(|(&h, &s)| h as f64 / s as f64)
                .sum::<f64>()
                / n_regions as f64;
            curve.push((fp as f64 / n_normal, pro));
        }
        curve
    }

    /// Trapezoid area of `curve` from FPR 0 to `max_fpr` (interpolated
    /// there), divided by `max_fpr`; plain f64.
    fn brute_force_aupro(curve: &[(f64, f64)], max_fpr: f64) -> f64 {
        let mut area = 0.0;
        for w in curve.windows(2) {
            let ((x0, y0), (x1, y1)) = (w[0], w[1]);
            if x1 <= max_fpr {
                area += (x1 - x0) * (y0 + y1) / 2.0;
            } else {
                if x0 < max_fpr {
                    let y = y0 + (y1 - y0) * (max_fpr - x0) / (x1 - x0);
                    area += (max_fpr - x0) * (y0 + y) / 2.0;
                }
                break;
            }
        }
        area / max_fpr
    }

    #[test]
    fn agrees_with_the_definition_on_random_maps() {
        // 630k pixels in 4 maps (one may have no anomaly), 80 score levels.
        let owned = random_maps(&[(512, 512), (300, 200), (640, 480), (64, 48)], 7);
        let maps: Vec<PixelMap> = owned.iter().map(Owned::view).collect();
        let n_normal = maps
            .iter()
            .map(|m| m.mask.iter().filter(|&&a| !a).count())
            .sum::<usize>();
        // Limits: the usual one, small and large ones, and one hit exactly by
        // a curve point (the FPR after the highest score group with normals).
        let mut hit = None;
        let mut sorted: Vec<(f32, bool)> = maps
            .iter()
            .flat_map(|m| m.scores.iter().copied().zip(m.mask.iter().copied()))
            .collect();
        sorted.sort_by(|a, b| b.0.total_cmp(&a.0));
        for g in sorted.chunk_by(|a, b| a.0 == b.0) {
            let above = sorted.iter().filter(|p| p.0 >= g[0].0 && !p.1).count();
            if above > 0 {
                hit = Some(above as f64 / n_normal as f64);
                break;
            }
        }
        let hit = hit.unwrap();
        // The brute force sums its <= 81 trapezoids and each PRO of up to
        // ~20 regions naively: relative error below ~100 units of 2^-53
        // (2.2e-14); 1e-13 covers it.
        let curve = brute_force_curve(&maps);
        for max_fpr in [AUPRO_MAX_FPR, 0.001, 0.05, 0.5, 1.0, hit] {
            let got = aupro(&maps, max_fpr).unwrap();
            assert_close(got, brute_force_aupro(&curve, max_fpr), 1e-13);
        }
        let both = pixel_metrics(&maps, 0.05).unwrap();
        assert_eq!(both.aupro, aupro(&maps, 0.05).unwrap());
        assert_eq!(both.max_fpr, 0.05);
        // The pixel AUC equals the crate's ROC AUC on an f64 copy, bit for bit
        // (both round the same exact Mann-Whitney ratio once).
        let (flat_scores, flat_labels): (Vec<f64>, Vec<bool>) =
            sorted.iter().map(|&(s, a)| (f64::from(s), a)).unzip();
        let want = roc_auc(&flat_scores, &flat_labels).unwrap();
        assert_eq!(pixel_auroc(&maps).unwrap(), want);
        assert_eq!(both.auroc, want);
        let regions: usize = maps
            .iter()
            .map(|m| label_regions(m.mask, m.width, m.height).1)
            .sum();
        assert!(regions >= 5, "{regions} regions");
    }

    #[test]
    fn invariant_under_image_order_and_monotone_rescaling() {
        let owned = random_maps(&[(40, 30), (33, 17), (64, 8)], 99);
        let maps: Vec<PixelMap> = owned.iter().map(Owned::view).collect();
        let reference = pixel_metrics(&maps, 0.3).unwrap();
        let reversed: Vec<PixelMap> = maps.iter().rev().copied().collect();
        let m = pixel_metrics(&reversed, 0.3).unwrap();
        assert_eq!(m.auroc, reference.auroc);
        assert_close(m.aupro, reference.aupro, EXACT_TOL);
        // x4 - 3 is exact on these k/64 scores and strictly increasing.
        let rescaled: Vec<Vec<f32>> = owned
            .iter()
            .map(|o| o.scores.iter().map(|s| s * 4.0 - 3.0).collect())
            .collect();
        let maps2: Vec<PixelMap> = owned
            .iter()
            .zip(&rescaled)
            .map(|(o, s)| map(o.width, o.height, s, &o.mask))
            .collect();
        let m = pixel_metrics(&maps2, 0.3).unwrap();
        assert_eq!(m.auroc, reference.auroc);
        assert_eq!(m.aupro, reference.aupro);
    }

    /// Repeating every map k times changes no curve point (counts scale by
    /// k, regions repeat), so both metrics must stay, however many pixels.
    fn check_replicated(width: usize, height: usize, copies: usize) {
        let owned = random_maps(&[(width, height)], 2024);
        let one = [owned[0].view()];
        let base = pixel_metrics(&one, AUPRO_MAX_FPR).unwrap();
        let many = vec![owned[0].view(); copies];
        let start = std::time::Instant::now();
        let m = pixel_metrics(&many, AUPRO_MAX_FPR).unwrap();
        eprintln!(
            "{copies} x {width}x{height} = {} pixels: {:?} ({m:?})",
            copies * width * height,
            start.elapsed()
        );
        // AUROC: the same rational, rounded once: equal. AUPRO: sums of
        // k times more terms, compensated: within a few ulp.
        assert_eq!(m.auroc, base.auroc);
        assert_close(m.aupro, base.aupro, EXACT_TOL);
        assert!(base.aupro > 0.1 && base.aupro < 0.99, "{base:?}");
    }

    #[test]
    fn replicated_maps_4e6_pixels() {
        check_replicated(512, 512, 16);
    }

    /// 1e8 pixels (100 maps of 1024x1024): about 1 GB for the sort keys.
    /// `cargo test -p ssad-stats --release -- --ignored replicated_maps_1e8`
    #[test]
    #[ignore = "1e8 pixels, ~1 GB and seconds in release"]
    fn replicated_maps_1e8_pixels() {
        check_replicated(1024, 1024, 100);
    }
}
