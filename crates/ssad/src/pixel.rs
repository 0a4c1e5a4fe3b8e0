//! Pixel-level evaluation (MVTec AD-style data with ground-truth masks): the per-pixel squared
//! reconstruction error map of each test image, brought to its mask's resolution, scored
//! against the masks with pixel AUROC and AUPRO (ssad-stats), for all defects together and
//! for each defect type. The same maps, at the model's resolution, make the map-based image
//! scores ([`image_scores`]: `max(s=S)`, `topk(q)` of [`ssad_core::image_score`]).

use anyhow::Context;
use serde::{Deserialize, Serialize};
use ssad_core::data::PixelTruth;
use ssad_core::{Batch, Detector, ImageScore};
use ssad_stats::{pixel_metrics, PixelMap, AUPRO_MAX_FPR};

/// Pixel-level results of one run on one testbed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PixelRecord {
    /// Pixel AUROC over every pixel of every test image.
    pub auroc: f64,
    /// AUPRO up to `max_fpr` (normalised: 1 = perfect).
    pub aupro: f64,
    /// The FPR limit of `aupro` (0.3, as in the MVTec AD evaluation).
    pub max_fpr: f64,
    /// Per defect type: the good test images plus that type's images.
    pub per_anomaly: Vec<PixelPair>,
}

/// Pixel-level results for one defect type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PixelPair {
    /// The defect type (test folder name).
    pub anomaly: String,
    /// Pixel AUROC.
    pub auroc: f64,
    /// AUPRO up to the record's `max_fpr`.
    pub aupro: f64,
}

/// The per-pixel squared reconstruction error of each image, averaged over channels:
/// `images.len()` maps of `H x W`, row-major, one after another.
pub fn error_maps(detector: &dyn Detector, images: &Batch) -> anyhow::Result<Vec<f32>> {
    let recon = detector.reconstruct(images)?;
    Ok(squared_error_maps(images, &recon))
}

/// Images reconstructed at once when error maps are made for image scores: the
/// reconstructions and maps held at a time are those of one such chunk.
pub const MAP_CHUNK: usize = 256;

/// The image scores `kind` of error `maps` (`N` maps of `h x w`, one after another, as
/// [`error_maps`] makes them): [`ssad_core::image_score::score_from_map`] of each, as `f32`
/// (the precision of score files). Parallel over the images.
pub fn scores_from_maps(maps: &[f32], h: usize, w: usize, kind: &ImageScore) -> Vec<f32> {
    use rayon::prelude::*;
    maps.par_chunks(h * w)
        .map(|m| ssad_core::image_score::score_from_map(m, h, w, kind) as f32)
        .collect()
}

/// The scores of `images` by each image score of `kinds`, in that order. `mean` is the
/// detector's own [`Detector::score`] (the paper's score, bit for bit what earlier versions
/// wrote); the others come from the error maps of [`error_maps`] (squared error averaged over
/// channels, at the model's resolution), made once for all of them, [`MAP_CHUNK`] images at a
/// time. A detector that does not reconstruct can only give `mean`: the error names the score.
pub fn image_scores(
    detector: &dyn Detector,
    images: &Batch,
    kinds: &[ImageScore],
) -> anyhow::Result<Vec<Vec<f32>>> {
    let mut out: Vec<Vec<f32>> = vec![Vec::with_capacity(images.len()); kinds.len()];
    if kinds.iter().any(ImageScore::is_mean) {
        let mean = detector.score(images)?;
        for (o, k) in out.iter_mut().zip(kinds) {
            if k.is_mean() {
                o.clone_from(&mean);
            }
        }
    }
    if kinds.iter().all(ImageScore::is_mean) {
        return Ok(out);
    }
    let (h, w) = (images.shape.height, images.shape.width);
    for chunk in images.data.chunks(MAP_CHUNK * images.shape.numel().max(1)) {
        let part = Batch {
            shape: images.shape,
            data: chunk.to_vec(),
        };
        let maps = error_maps(detector, &part).with_context(|| {
            let k = kinds
                .iter()
                .find(|k| !k.is_mean())
                .copied()
                .unwrap_or_default();
            format!(
                "image score {k} needs the per-pixel error map of a reconstruction, which the {} \
                 detector does not make: use the image score mean",
                detector.kind()
            )
        })?;
        for (o, k) in out.iter_mut().zip(kinds) {
            if !k.is_mean() {
                o.extend(scores_from_maps(&maps, h, w, k));
            }
        }
    }
    Ok(out)
}

/// The scores of `images` by one image score `kind` (see [`image_scores`]).
pub fn image_scores_of(
    detector: &dyn Detector,
    images: &Batch,
    kind: &ImageScore,
) -> anyhow::Result<Vec<f32>> {
    Ok(image_scores(detector, images, std::slice::from_ref(kind))?
        .pop()
        .unwrap_or_default())
}

/// Per-pixel squared difference of `a` and `b` averaged over channels (`N x H x W`).
pub fn squared_error_maps(a: &Batch, b: &Batch) -> Vec<f32> {
    (0..a.len())
        .flat_map(|i| squared_error_map(a.image(i), b.image(i), a.shape))
        .collect()
}

/// The squared error map of one image: per pixel, the mean over channels of `(x - y)^2`
/// (`height * width` values, row-major).
pub fn squared_error_map(x: &[f32], y: &[f32], shape: ssad_core::ImageShape) -> Vec<f32> {
    let (plane, c) = (shape.plane(), shape.channels);
    let mut map = vec![0f32; plane];
    for ch in 0..c {
        let (xc, yc) = (&x[ch * plane..][..plane], &y[ch * plane..][..plane]);
        for ((m, p), q) in map.iter_mut().zip(xc).zip(yc) {
            *m += (p - q) * (p - q);
        }
    }
    map.iter_mut().for_each(|m| *m /= c as f32);
    map
}

/// Bilinear resampling of one `h x w` map to `out_h x out_w` with half-pixel centres and
/// edge clamping (PyTorch's `interpolate(mode="bilinear", align_corners=False)` without
/// antialiasing): how a model's error map is brought up to its mask's resolution.
pub fn upsample_bilinear(map: &[f32], h: usize, w: usize, out_h: usize, out_w: usize) -> Vec<f32> {
    if (h, w) == (out_h, out_w) {
        return map.to_vec();
    }
    // Source coordinate of each output index along one axis: (lower index, weight of upper).
    let axis = |n_in: usize, n_out: usize| -> Vec<(usize, usize, f32)> {
        let scale = n_in as f64 / n_out as f64;
        (0..n_out)
            .map(|o| {
                let src = ((o as f64 + 0.5) * scale - 0.5).max(0.0);
                let lo = (src.floor() as usize).min(n_in - 1);
                let hi = (lo + 1).min(n_in - 1);
                (lo, hi, (src - lo as f64) as f32)
            })
            .collect()
    };
    let (ys, xs) = (axis(h, out_h), axis(w, out_w));
    let mut out = Vec::with_capacity(out_h * out_w);
    for &(y0, y1, fy) in &ys {
        for &(x0, x1, fx) in &xs {
            let top = map[y0 * w + x0] * (1.0 - fx) + map[y0 * w + x1] * fx;
            let bottom = map[y1 * w + x0] * (1.0 - fx) + map[y1 * w + x1] * fx;
            out.push(top * (1.0 - fy) + bottom * fy);
        }
    }
    out
}

/// Scores the error `maps` (`N x side x side`) of a testbed's images against their masks:
/// all images together, and per defect group (good images plus that group's). `groups` and
/// `group_names` are the testbed's; `normal_group` holds the good images.
pub fn evaluate(
    maps: &[f32],
    side: usize,
    truth: &PixelTruth,
    groups: &[u16],
    group_names: &[String],
    normal_group: u16,
) -> anyhow::Result<PixelRecord> {
    let n = groups.len();
    anyhow::ensure!(
        truth.masks.len() == n && truth.native_sizes.len() == n && maps.len() == n * side * side,
        "pixel evaluation: {} maps of {side}x{side}, {} masks, {} groups",
        maps.len() / (side * side).max(1),
        truth.masks.len(),
        n
    );
    // Each map at its image's native size, with its mask (all false for good images).
    let (upsampled, masks): (Vec<Vec<f32>>, Vec<Vec<bool>>) = {
        use rayon::prelude::*;
        (0..n)
            .into_par_iter()
            .map(|i| {
                let (h, w) = truth.native_sizes[i];
                let map =
                    upsample_bilinear(&maps[i * side * side..][..side * side], side, side, h, w);
                let mask = match &truth.masks[i] {
                    Some(m) => m.pixels.iter().map(|&p| p != 0).collect(),
                    None => vec![false; h * w],
                };
                (map, mask)
            })
            .unzip()
    };
    let view = |keep: &dyn Fn(usize) -> bool| -> Vec<PixelMap<'_>> {
        (0..n)
            .filter(|&i| keep(i))
            .map(|i| PixelMap {
                width: truth.native_sizes[i].1,
                height: truth.native_sizes[i].0,
                scores: &upsampled[i],
                mask: &masks[i],
            })
            .collect()
    };
    let all = pixel_metrics(&view(&|_| true), AUPRO_MAX_FPR)
        .context("pixel metrics over all test images")?;
    let mut per_anomaly = Vec::new();
    for (g, name) in group_names.iter().enumerate() {
        let g = g as u16;
        if g == normal_group || !groups.contains(&g) {
            continue;
        }
        let m = pixel_metrics(
            &view(&|i| groups[i] == g || groups[i] == normal_group),
            AUPRO_MAX_FPR,
        )
        .with_context(|| format!("pixel metrics of defect type {name}"))?;
        per_anomaly.push(PixelPair {
            anomaly: name.clone(),
            auroc: m.auroc,
            aupro: m.aupro,
        });
    }
    Ok(PixelRecord {
        auroc: all.auroc,
        aupro: all.aupro,
        max_fpr: AUPRO_MAX_FPR,
        per_anomaly,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ssad_core::ImageShape;

    #[test]
    fn image_scores_come_from_the_pixel_metrics_maps_in_chunks() {
        use ssad_core::model::{ModelConfig, ModelKind};
        // An untrained ConvAE on 300 random RGB images (more than one MAP_CHUNK): the scores
        // against maps computed here by hand from one whole-batch reconstruction.
        let shape = ImageShape::new(3, 16, 16);
        let model = ModelConfig {
            width: 4,
            embedding: 8,
            ..ModelConfig::of_kind(ModelKind::ConvAe)
        };
        let det = ssad_core::DetectorFactory::build(
            &ssad_torch::TorchFactory,
            &ssad_core::DetectorSpec::autoencoder(model),
            shape,
            ssad_core::Device::Cpu,
        )
        .unwrap();
        let det = det.as_ref();
        let n = MAP_CHUNK + 44;
        let mut state = 1u64;
        let data: Vec<f32> = (0..n * shape.numel())
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (state >> 40) as f32 / (1u64 << 24) as f32
            })
            .collect();
        let images = Batch { shape, data };
        let kinds: Vec<ImageScore> = ["mean", "max(s=0)", "max(s=1.5)", "topk(0.1)"]
            .iter()
            .map(|k| k.parse().unwrap())
            .collect();
        let got = image_scores(det, &images, &kinds).unwrap();
        let recon = det.reconstruct(&images).unwrap();
        let plane = 16 * 16;
        assert!(got.iter().all(|g| g.len() == n));
        for (i, y) in (0..n).map(|i| (i, recon.image(i))) {
            let x = images.image(i);
            let map: Vec<f32> = (0..plane)
                .map(|p| {
                    (0..3)
                        .map(|c| (x[c * plane + p] - y[c * plane + p]).powi(2))
                        .sum::<f32>()
                        / 3.0
                })
                .collect();
            // mean: the detector's own score, the mean of the same map up to float rounding.
            let mean = map.iter().map(|&v| f64::from(v)).sum::<f64>() / plane as f64;
            assert!(
                (f64::from(got[0][i]) - mean).abs() <= 1e-5 * mean,
                "image {i}"
            );
            // max(s=0): the largest pixel.
            let max = map.iter().copied().fold(f32::MIN, f32::max);
            assert_eq!(got[1][i], max, "image {i}");
            let blurred = ssad_core::image_score::score_from_map(&map, 16, 16, &kinds[2]);
            assert_eq!(got[2][i], blurred as f32, "image {i}");
            // topk(0.1): ceil(25.6) = 26 largest pixels.
            let mut sorted = map.clone();
            sorted.sort_by(|a, b| b.total_cmp(a));
            let top = sorted[..26].iter().map(|&v| f64::from(v)).sum::<f64>() / 26.0;
            assert_eq!(got[3][i], top as f32, "image {i}");
        }
        assert_eq!(image_scores_of(det, &images, &kinds[1]).unwrap(), got[1]);
    }

    #[test]
    fn upsampling_matches_pytorch_bilinear() {
        // torch.nn.functional.interpolate(torch.tensor([[[[0., 1.], [2., 3.]]]]), size=(4, 4),
        // mode="bilinear", align_corners=False) (torch 2.13):
        let want = [
            0.0, 0.25, 0.75, 1.0, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2.0, 2.25, 2.75, 3.0,
        ];
        let got = upsample_bilinear(&[0.0, 1.0, 2.0, 3.0], 2, 2, 4, 4);
        assert_eq!(got, want);
        // A 3x4 map (v = k^1.5, k = 0..11) to 7x5, both axes fractional; torch:
        // interpolate(torch.arange(12.).reshape(1,1,3,4)**1.5, size=(7,5), mode="bilinear",
        // align_corners=False). fp32 interpolation of values < 34: agreement to 1e-5.
        let src: Vec<f32> = (0..12).map(|k| (k as f32).powf(1.5)).collect();
        let want = [
            0.0,
            0.7000000476837158,
            1.9142135381698608,
            3.5387444496154785,
            5.196152210235596,
            1.1428571939468384,
            2.0608911514282227,
            3.489131450653076,
            5.296628952026367,
            7.0995965003967285,
            4.5714287757873535,
            6.143564701080322,
            8.213885307312012,
            10.570281982421875,
            12.809928894042969,
            8.0,
            10.226238250732422,
            12.938638687133789,
            15.843935012817383,
            18.520259857177734,
            14.268893241882324,
            16.85280418395996,
            19.95553207397461,
            23.231164932250977,
            26.218524932861328,
            20.53778648376465,
            23.4793701171875,
            26.97242546081543,
            30.618396759033203,
            33.916786193847656,
            22.627416610717773,
            25.6882266998291,
            29.31138801574707,
            33.080806732177734,
            36.482872009277344,
        ];
        let got = upsample_bilinear(&src, 3, 4, 7, 5);
        for (g, w) in got.iter().zip(want) {
            assert!((*g as f64 - w).abs() < 1e-5, "{g} vs {w}");
        }
        // A constant map stays constant at any size; identity at the same size.
        let c = upsample_bilinear(&[0.5; 9], 3, 3, 7, 5);
        assert!(c.iter().all(|&v| v == 0.5) && c.len() == 35);
        assert_eq!(upsample_bilinear(&[1.0, 2.0], 1, 2, 1, 2), vec![1.0, 2.0]);
    }

    #[test]
    fn error_maps_average_channels() {
        let shape = ImageShape::new(2, 1, 2);
        let a = Batch {
            shape,
            data: vec![1.0, 0.0, 0.5, 0.5],
        };
        let b = Batch::zeros(shape, 1);
        // Pixel 0: (1 + 0.25) / 2; pixel 1: (0 + 0.25) / 2.
        assert_eq!(squared_error_maps(&a, &b), vec![0.625, 0.125]);
    }

    #[test]
    fn evaluation_per_defect_and_overall() {
        use ssad_core::data::Mask;
        // Three 2x2 images: good (group 0), defect "a" (group 1) with its top-left pixel bad,
        // defect "b" (group 2) with its bottom row bad. The maps score exactly the defect
        // pixels highest, except image b whose bottom-right pixel scores low.
        let maps = vec![
            0.1, 0.2, 0.1, 0.2, // good
            0.9, 0.1, 0.1, 0.1, // a
            0.1, 0.1, 0.8, 0.15, // b
        ];
        let mask = |p: Vec<u8>| {
            Some(Mask {
                height: 2,
                width: 2,
                pixels: p,
            })
        };
        let truth = PixelTruth {
            masks: vec![None, mask(vec![1, 0, 0, 0]), mask(vec![0, 0, 1, 1])],
            native_sizes: vec![(2, 2); 3],
        };
        let names: Vec<String> = ["good", "a", "b"].iter().map(|s| s.to_string()).collect();
        let r = evaluate(&maps, 2, &truth, &[0, 1, 2], &names, 0).unwrap();
        // Overall: 3 anomalous pixels (0.9, 0.8, 0.15) vs 9 normal (0.1 x6, 0.2 x2, 0.1 ...):
        // normal scores 0.1,0.2,0.1,0.2,0.1,0.1,0.1,0.1,0.1. 0.9 and 0.8 beat all 9; 0.15 beats
        // the seven 0.1s and loses to the two 0.2s: AUC = (9 + 9 + 7) / 27.
        assert!((r.auroc - 25.0 / 27.0).abs() < 1e-12, "{}", r.auroc);
        assert_eq!(r.per_anomaly.len(), 2);
        assert_eq!(r.per_anomaly[0].anomaly, "a");
        // Good + a: the one bad pixel (0.9) beats all 7 normal pixels.
        assert_eq!(r.per_anomaly[0].auroc, 1.0);
        assert_eq!(r.per_anomaly[0].aupro, 1.0);
        // Good + b: 0.8 beats all 6 normal pixels, 0.15 beats the four 0.1s: (6 + 4) / 12.
        assert!((r.per_anomaly[1].auroc - 10.0 / 12.0).abs() < 1e-12);
    }

    #[test]
    fn known_answers_perfect_and_constant_detectors() {
        use ssad_core::data::Mask;
        // Four 4x4 images: two good, one "a" with a 2x2 defect, one "b" with a 1x3 defect. The
        // maps are at the masks' own size, so no resampling blurs the known answers.
        let side = 4;
        let a: Vec<u8> = (0..16)
            .map(|i| u8::from(matches!(i, 5 | 6 | 9 | 10)))
            .collect();
        let b: Vec<u8> = (0..16).map(|i| u8::from(matches!(i, 12..=14))).collect();
        let mask = |p: &Vec<u8>| {
            Some(Mask {
                height: side,
                width: side,
                pixels: p.clone(),
            })
        };
        let truth = PixelTruth {
            masks: vec![None, None, mask(&a), mask(&b)],
            native_sizes: vec![(side, side); 4],
        };
        let names: Vec<String> = ["good", "a", "b"].iter().map(|s| s.to_string()).collect();
        let groups = [0, 0, 1, 2];
        // A perfect detector: the map is the mask. Every anomalous pixel outranks every
        // normal one, so AUROC = 1, and at the threshold between them every region is fully
        // covered at FPR 0: AUPRO = 1.
        let perfect: Vec<f32> = [vec![0u8; 16], vec![0u8; 16], a.clone(), b.clone()]
            .concat()
            .into_iter()
            .map(f32::from)
            .collect();
        let r = evaluate(&perfect, side, &truth, &groups, &names, 0).unwrap();
        assert_eq!((r.auroc, r.aupro), (1.0, 1.0));
        for p in &r.per_anomaly {
            assert_eq!((p.auroc, p.aupro), (1.0, 1.0), "{}", p.anomaly);
        }
        // A constant detector: all pixels tie, so the ROC and PRO curves are the one segment
        // from (0, 0) to (1, 1): AUROC = 1/2, and the PRO curve up to FPR 0.3 is PRO = FPR,
        // area 0.3^2 / 2, normalised by 0.3: AUPRO = 0.15, the chance value.
        let constant = vec![0.25f32; 4 * 16];
        let r = evaluate(&constant, side, &truth, &groups, &names, 0).unwrap();
        assert!((r.auroc - 0.5).abs() < 1e-12, "{}", r.auroc);
        assert!((r.aupro - 0.15).abs() < 1e-12, "{}", r.aupro);
        for p in &r.per_anomaly {
            assert!((p.auroc - 0.5).abs() < 1e-12, "{}: {}", p.anomaly, p.auroc);
            assert!((p.aupro - 0.15).abs() < 1e-12, "{}: {}", p.anomaly, p.aupro);
        }
        // Inverted (the defects score lowest): AUROC 0 and AUPRO 0.
        let inverted: Vec<f32> = perfect.iter().map(|v| 1.0 - v).collect();
        let r = evaluate(&inverted, side, &truth, &groups, &names, 0).unwrap();
        assert_eq!(r.auroc, 0.0);
        assert!(r.aupro.abs() < 1e-12, "{}", r.aupro);
    }
}
