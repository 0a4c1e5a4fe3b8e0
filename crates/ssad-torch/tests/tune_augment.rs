//! The differentiable augmentations of `ssad_torch::tune` against the catalogue
//! (`ssad-augment`) at the hard limit, their statistics, and their gradients against central
//! finite differences in `f64`.

use ssad_augment::{functional as f, ops, parse};
use ssad_core::augment::sample_rng;
use ssad_core::{augment_batch, Batch, ImageShape};
use ssad_torch::tune::{cutpaste_patch_size, sample_cutpaste_fixed, Family, RangeMap, TunableAug};
use tch::{Device, Kind, Tensor};

const CPU: Device = Device::Cpu;

/// A deterministic test batch in [0, 1] (smooth structure plus a hash pattern).
fn images(n: usize, shape: ImageShape) -> Vec<f32> {
    (0..n * shape.numel())
        .map(|i| {
            let h = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
            0.5 + 0.3 * ((i as f32) * 0.07).sin() + 0.2 * ((h % 1000) as f32 / 1000.0 - 0.5)
        })
        .collect()
}

fn tensor(data: &[f32], n: usize, shape: ImageShape) -> Tensor {
    Tensor::from_slice(data).view([
        n as i64,
        shape.channels as i64,
        shape.height as i64,
        shape.width as i64,
    ])
}

fn to_vec(t: &Tensor) -> Vec<f32> {
    Vec::<f32>::try_from(t.detach().to_kind(Kind::Float).contiguous().view(-1)).unwrap()
}

fn catalogue(spec: &str, data: &[f32], shape: ImageShape, seed: u64, epoch: u64) -> Vec<f32> {
    let mut batch = Batch {
        shape,
        data: data.to_vec(),
    };
    augment_batch(&parse(spec).unwrap(), &mut batch, seed, epoch, 0);
    batch.data
}

fn max_abs(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(p, q)| (p - q).abs())
        .fold(0.0, f32::max)
}

/// Autograd derivative of `sum(w * aug(x))` in the first parameter's unconstrained variable
/// against the central difference with step `h`; returns (autograd, finite difference).
fn grad_check(aug: &TunableAug, x: &Tensor, w: &Tensor, h: f64) -> (f64, f64) {
    let p = aug.params().remove(0);
    let u0 = p.double_value(&[]);
    let loss = |aug: &TunableAug| (aug.apply(x, 3, 1, 0).unwrap() * w).sum(Kind::Double);
    let l = loss(aug);
    l.backward();
    let g = p.grad().double_value(&[]);
    let at = |u: f64| {
        tch::no_grad(|| {
            let _ = p.shallow_clone().fill_(u);
        });
        loss(aug).double_value(&[])
    };
    let fd = (at(u0 + h) - at(u0 - h)) / (2.0 * h);
    at(u0);
    (g, fd)
}

/// f64 batch and fixed random weights for the gradient checks.
fn f64_batch(n: usize, shape: ImageShape) -> (Tensor, Tensor) {
    let x = tensor(&images(n, shape), n, shape).to_kind(Kind::Double);
    let w = tensor(&images(n, shape), n, shape)
        .to_kind(Kind::Double)
        .flip([3])
        - 0.5;
    (x, w)
}

fn assert_grad(name: &str, g: f64, fd: f64) {
    eprintln!(
        "grad {name}: autograd {g:.12e} fd {fd:.12e} rel {:.2e}",
        (g - fd).abs() / fd.abs()
    );
    // Central differences with h = 1e-5 in f64: truncation O(h^2 f''') ~ 1e-9 relative,
    // rounding ~ 1e-16 |f| / h ~ 1e-9 for |f| ~ 1e2; 1e-6 relative leaves a wide margin and
    // catches any wrong factor or missing term.
    assert!(
        (g - fd).abs() <= 1e-6 * fd.abs().max(1.0),
        "{name}: autograd {g} vs finite difference {fd}"
    );
    assert!(g.abs() > 1e-6, "{name}: gradient vanishes ({g})");
}

#[test]
fn cutout_hard_limit_is_the_catalogue_square_bit_for_bit() {
    for (shape, area) in [
        (ImageShape::new(1, 32, 32), 0.3),
        (ImageShape::new(3, 32, 32), 0.05),
        (ImageShape::new(3, 28, 20), 0.17),
    ] {
        let n = 24;
        let data = images(n, shape);
        let aug = TunableAug::new(&format!("cutout(area={area})"), CPU)
            .unwrap()
            .with_temperature(0.0)
            .unwrap();
        let got = to_vec(&aug.apply(&tensor(&data, n, shape), 11, 2, 0).unwrap());
        let want = catalogue(&format!("cutout(area={area})"), &data, shape, 11, 2);
        assert_eq!(got, want, "{shape} area {area}");
        // The value goes through the logit and back: equal to the start up to 1 ulp or so.
        let spec = ssad_augment::parse(&aug.catalogue_spec().unwrap()).unwrap();
        assert_eq!(spec.steps().len(), 1);
        assert!((aug.value("area").unwrap() - area).abs() < 1e-15);
    }
}

#[test]
fn cutout_with_aspect_hard_limit_erases_the_catalogue_erasing_box() {
    let shape = ImageShape::new(1, 32, 32);
    let n = 32;
    let data = images(n, shape);
    let (area, aspect) = (0.12, 2.2);
    let aug = TunableAug::new(&format!("cutout(area={area},aspect={aspect})"), CPU)
        .unwrap()
        .with_temperature(0.0)
        .unwrap();
    assert!((aug.value("aspect").unwrap() - aspect).abs() < 1e-12);
    let got = to_vec(&aug.apply(&tensor(&data, n, shape), 5, 0, 0).unwrap());
    let mut want = data.clone();
    for (i, img) in want.chunks_exact_mut(shape.numel()).enumerate() {
        let mut rng = sample_rng(5, 0, i as u64);
        let b = ops::sample_erasing(&mut rng, 32, 32, (area, area), (aspect, aspect)).unwrap();
        // h = round(sqrt(0.12 * 1024 * 2.2)) = 16, w = round(sqrt(0.12 * 1024 / 2.2)) = 7.
        assert_eq!((b.height, b.width), (16, 7));
        f::erase(img, shape, b, 0.0);
    }
    assert_eq!(got, want);
}

#[test]
fn soft_cutout_erased_area_tracks_the_parameter() {
    // Erased mass of an all-ones image: sum over pixels of the soft mask. For a box away from
    // the edges, sum_i sigmoid((h/2 - |i + 1/2 - c|)/tau) = h up to terms of order
    // exp(-1/(2 tau)) per edge (about 0.14 pixel at tau = 0.25 is the worst case of a
    // half-integer offset; measured well below); the box may touch the image border, which
    // cuts at most the part of the soft edge outside (at most tau ln 2 pixels per edge).
    let shape = ImageShape::new(1, 32, 32);
    let n = 64;
    let x = Tensor::ones([n, 1, 32, 32], (Kind::Double, CPU));
    for area in [0.05, 0.2, 0.4] {
        let aug = TunableAug::new(&format!("cutout(area={area})"), CPU)
            .unwrap()
            .with_temperature(0.25)
            .unwrap();
        let out = aug.apply(&x, 1, 0, 0).unwrap();
        let erased = (x.ones_like() - out).sum(Kind::Double).double_value(&[]) / n as f64;
        let side = (area * 1024.0f64).sqrt();
        let rel = (erased - side * side).abs() / (side * side);
        eprintln!(
            "soft cutout area {area}: erased {erased:.3} vs {:.3}",
            side * side
        );
        assert!(
            rel < 0.03,
            "area {area}: erased {erased} vs {}",
            side * side
        );
        let _ = shape;
    }
}

#[test]
fn cutout_gradients_match_finite_differences() {
    let shape = ImageShape::new(2, 16, 16);
    let (x, w) = f64_batch(6, shape);
    let aug = TunableAug::new("cutout(area=0.2)", CPU).unwrap();
    let (g, fd) = grad_check(&aug, &x, &w, 1e-5);
    assert_grad("cutout area", g, fd);
    let aug = TunableAug::new("cutout(area=0.15,aspect=1.7)", CPU).unwrap();
    let (g, fd) = grad_check(&aug, &x, &w, 1e-5);
    assert_grad("cutout area (with aspect)", g, fd);
}

#[test]
fn rotate_matches_the_catalogue_rotations() {
    let shape = ImageShape::new(3, 32, 32);
    let n = 4;
    let data = images(n, shape);
    let x = tensor(&data, n, shape);
    // Bilinear at a quarter turn lands on pixel centres: the catalogue's rot90. The grid's
    // f32 cos(90 deg) = -4.4e-8 moves each sample by < 1e-6 pixel, so values agree to 1e-5.
    for (angle, k) in [(90.0, 1), (-90.0, -1), (179.999_999_9, 2)] {
        let aug = TunableAug::new(&format!("rotate(angle={angle})"), CPU).unwrap();
        let got = to_vec(&aug.apply(&x, 0, 0, 0).unwrap());
        let mut want = data.clone();
        for img in want.chunks_exact_mut(shape.numel()) {
            f::rot90(img, shape, k);
        }
        let d = max_abs(&got, &want);
        eprintln!("rotate bilinear {angle}: max diff vs rot90 {d:e}");
        assert!(d < 1e-5, "angle {angle}: max diff {d}");
    }
    // Nearest (hard limit) at any angle is the catalogue's rotate_nearest: the same f32 grid;
    // a pixel may differ only where a sample falls on a rounding tie.
    for angle in [30.0, -45.0, 123.4] {
        let aug = TunableAug::new(&format!("rotate(angle={angle})"), CPU)
            .unwrap()
            .with_temperature(0.0)
            .unwrap();
        let got = to_vec(&aug.apply(&x, 0, 0, 0).unwrap());
        let mut differ = 0;
        for (i, img) in data.chunks_exact(shape.numel()).enumerate() {
            let want = f::rotate_nearest(img, shape, angle, false).data;
            differ += want
                .iter()
                .zip(&got[i * shape.numel()..(i + 1) * shape.numel()])
                .filter(|(a, b)| a != b)
                .count();
        }
        // The catalogue's own `rotate(angle=a)`, the spec a tuned run reports, applies the
        // same rotation to every image (the angle comes back through the parameter's
        // unconstrained variable, equal to `a` up to a few ulps).
        let spec = aug.catalogue_spec().unwrap();
        assert!(spec.starts_with("rotate(angle="), "{spec}");
        let from_catalogue = catalogue(&spec, &data, shape, 0, 0);
        let differ_catalogue = from_catalogue
            .iter()
            .zip(&got)
            .filter(|(a, b)| a != b)
            .count();
        assert!(
            differ_catalogue * 200 <= data.len(),
            "angle {angle}: {differ_catalogue} values differ from the catalogue's {spec}"
        );
        eprintln!(
            "rotate nearest {angle}: {differ} of {} values differ",
            data.len()
        );
        assert!(
            differ * 200 <= data.len(),
            "angle {angle}: {differ} pixels differ"
        );
    }
}

#[test]
fn rotate_turns_an_oriented_blob_by_the_angle() {
    // Angle statistic: the principal axis of an anisotropic Gaussian blob (major axis along x)
    // after rotation, from its second moments. Counter-clockwise on screen (rows grow
    // downwards) is atan2(-2 mu_xy, mu_xx - mu_yy) / 2. Bilinear resampling blurs by < 1
    // pixel, leaving the axis direction; 1 degree covers the discretisation of a 64-pixel
    // blob with sigmas 12 and 4.
    let s = 64usize;
    let mut blob = vec![0f32; s * s];
    for r in 0..s {
        for c in 0..s {
            let (dx, dy) = (c as f32 + 0.5 - 32.0, r as f32 + 0.5 - 32.0);
            blob[r * s + c] = (-(dx * dx) / 288.0 - (dy * dy) / 32.0).exp();
        }
    }
    let shape = ImageShape::new(1, s, s);
    let x = tensor(&blob, 1, shape);
    for angle in [-60.0, 15.0, 40.0, 75.0] {
        let aug = TunableAug::new(&format!("rotate(angle={angle})"), CPU).unwrap();
        let out = to_vec(&aug.apply(&x, 0, 0, 0).unwrap());
        let (mut m, mut sxx, mut syy, mut sxy) = (0f64, 0f64, 0f64, 0f64);
        for r in 0..s {
            for c in 0..s {
                let v = out[r * s + c] as f64;
                let (dx, dy) = (c as f64 + 0.5 - 32.0, r as f64 + 0.5 - 32.0);
                m += v;
                sxx += v * dx * dx;
                syy += v * dy * dy;
                sxy += v * dx * dy;
            }
        }
        let est = 0.5 * (-2.0 * sxy / m).atan2((sxx - syy) / m);
        let est = est.to_degrees();
        eprintln!("rotate blob {angle}: measured {est:.4}");
        assert!((est - angle).abs() < 1.0, "angle {angle}: measured {est}");
    }
}

#[test]
fn rotate_gradient_matches_finite_differences() {
    let (x, w) = f64_batch(3, ImageShape::new(2, 12, 12));
    let aug = TunableAug::new("rotate(angle=25)", CPU).unwrap();
    let (g, fd) = grad_check(&aug, &x, &w, 1e-5);
    assert_grad("rotate angle", g, fd);
}

#[test]
fn noise_is_the_catalogue_noise_bit_for_bit() {
    let shape = ImageShape::new(3, 8, 8);
    let n = 10;
    let data = images(n, shape);
    for std in [0.05, 0.3] {
        let aug = TunableAug::new(&format!("noise(std={std})"), CPU).unwrap();
        let got = to_vec(&aug.apply(&tensor(&data, n, shape), 9, 4, 0).unwrap());
        assert_eq!(
            got,
            catalogue(&format!("noise(std={std})"), &data, shape, 9, 4)
        );
        // sigma statistic of the added noise: 1920 draws, standard error of the sample std
        // is std / sqrt(2 * 1920) = 1.6%; 5 standard errors.
        let d: Vec<f64> = got.iter().zip(&data).map(|(a, b)| (a - b) as f64).collect();
        let mean = d.iter().sum::<f64>() / d.len() as f64;
        let sd = (d.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / d.len() as f64).sqrt();
        eprintln!("noise std {std}: measured {sd:.5}");
        assert!((sd / std - 1.0).abs() < 0.08, "std {std}: measured {sd}");
    }
    let (x, w) = f64_batch(3, shape);
    let aug = TunableAug::new("noise(std=0.2)", CPU).unwrap();
    let (g, fd) = grad_check(&aug, &x, &w, 1e-5);
    assert_grad("noise std", g, fd);
}

#[test]
fn blur_matches_the_catalogue_kernel() {
    for shape in [ImageShape::new(3, 32, 32), ImageShape::new(1, 64, 48)] {
        let n = 3;
        let data = images(n, shape);
        for sigma in [0.3, 1.0, 1.9] {
            let aug = TunableAug::new(&format!("blur(sigma={sigma})"), CPU).unwrap();
            let got = to_vec(&aug.apply(&tensor(&data, n, shape), 0, 0, 0).unwrap());
            let mut want = data.clone();
            for img in want.chunks_exact_mut(shape.numel()) {
                let ks = f::blur_kernel_size(shape.width);
                f::gaussian_blur(img, shape, ks, sigma as f32);
            }
            // Weights sum to 1 and values lie in [0, 1]: a different f32 summation order
            // changes a result by a few ulp of 1 (6e-8 each); 1e-6 bounds it.
            let d = max_abs(&got, &want);
            eprintln!("blur {shape} sigma {sigma}: max diff {d:e}");
            assert!(d < 1e-6, "{shape} sigma {sigma}: {d}");
        }
    }
    let (x, w) = f64_batch(2, ImageShape::new(2, 40, 40));
    let aug = TunableAug::new("blur(sigma=0.8)", CPU).unwrap();
    let (g, fd) = grad_check(&aug, &x, &w, 1e-5);
    assert_grad("blur sigma", g, fd);
}

#[test]
fn cutpaste_patch_rule_is_the_catalogues() {
    // For each catalogue draw, the patch size rule with that draw's area and aspect gives the
    // catalogue's patch.
    for i in 0..2000u64 {
        let mut rng = sample_rng(17, 0, i);
        let d = ops::sample_cutpaste(&mut rng, 32, 32);
        let (h, w) = cutpaste_patch_size(d.area_fraction, d.aspect, 32, 32);
        assert_eq!((h, w), (d.source.height, d.source.width), "draw {i}");
    }
    // Aspect statistics of the fixed-area sampler (same rule as the catalogue's): half the
    // draws below 1, mean of the mixture (0.65 + 2.15) / 2 = 1.4; 4000 draws, standard
    // errors 0.008 and 0.011, tolerances of 5 standard errors.
    let mut below = 0;
    let mut sum = 0.0;
    for i in 0..4000u64 {
        let d = sample_cutpaste_fixed(&mut sample_rng(3, 0, i), 32, 32, 0.1);
        below += usize::from(d.aspect < 1.0);
        sum += d.aspect;
    }
    eprintln!(
        "cutpaste aspect: {below}/4000 below 1, mean {:.4}",
        sum / 4000.0
    );
    assert!((below as f64 / 4000.0 - 0.5).abs() < 0.04, "{below}");
    assert!((sum / 4000.0 - 1.4).abs() < 0.055, "{}", sum / 4000.0);
}

#[test]
fn cutpaste_hard_limit_is_the_catalogue_paste() {
    let shape = ImageShape::new(3, 32, 32);
    let n = 16;
    let data = images(n, shape);
    let area = 0.11;
    let aug = TunableAug::new(&format!("cutpaste(area={area})"), CPU)
        .unwrap()
        .with_temperature(0.0)
        .unwrap();
    let got = to_vec(&aug.apply(&tensor(&data, n, shape), 21, 3, 0).unwrap());
    let mut want = data.clone();
    let mut pasted = 0usize;
    for (i, img) in want.chunks_exact_mut(shape.numel()).enumerate() {
        let mut rng = sample_rng(21, 3, i as u64);
        let d = sample_cutpaste_fixed(&mut rng, 32, 32, area);
        let mut patch = f::extract(img, shape, d.source);
        let ps = ImageShape::new(3, d.source.height, d.source.width);
        ops::JitterRanges::uniform(0.1)
            .sample(&mut rng)
            .apply(&mut patch, ps);
        f::paste(
            img,
            shape,
            &patch,
            ps,
            d.target_top as isize,
            d.target_left as isize,
            None,
        );
        pasted += d.source.height * d.source.width;
    }
    assert_eq!(got, want);
    // Pasted area: int-floored sides, so on average a little below 0.11 * 1024 = 112.6.
    let mean = pasted as f64 / n as f64;
    eprintln!("cutpaste mean pasted area {mean}");
    assert!(mean > 80.0 && mean <= 112.7, "{mean}");
}

#[test]
fn cutpaste_gradient_matches_finite_differences() {
    let (x, w) = f64_batch(4, ImageShape::new(3, 16, 16));
    let aug = TunableAug::new("cutpaste(area=0.1)", CPU)
        .unwrap()
        .with_range("area", RangeMap::Linear { lo: 0.02, hi: 0.3 })
        .unwrap();
    assert!((aug.value("area").unwrap() - 0.1).abs() < 1e-12);
    let (g, fd) = grad_check(&aug, &x, &w, 1e-5);
    assert_grad("cutpaste area", g, fd);
}

#[test]
fn jitter_matches_the_catalogue_jitter() {
    for shape in [ImageShape::new(3, 12, 12), ImageShape::new(1, 12, 12)] {
        let n = 24;
        let data = images(n, shape);
        for s in [0.4, 1.0, 1.6] {
            let aug = TunableAug::new(&format!("jitter(s={s})"), CPU).unwrap();
            let got = to_vec(&aug.apply(&tensor(&data, n, shape), 8, 1, 0).unwrap());
            let want = catalogue(&format!("jitter(s={s})"), &data, shape, 8, 1);
            // The factors are identical (same draws, same f64 formula); the contrast mean is
            // summed in another order (a few ulp of 1) and the hue round trip's floor/mod in
            // another form; 1e-5 bounds the f32 propagation through four clamped blends.
            let d = max_abs(&got, &want);
            eprintln!("jitter {shape} s {s}: max diff {d:e}");
            assert!(d < 1e-5, "{shape} s {s}: {d}");
        }
    }
    for shape in [ImageShape::new(3, 8, 8), ImageShape::new(1, 8, 8)] {
        let (x, w) = f64_batch(4, shape);
        let aug = TunableAug::new("jitter(s=0.7)", CPU).unwrap();
        let (g, fd) = grad_check(&aug, &x, &w, 1e-5);
        assert_grad("jitter s", g, fd);
    }
}

#[test]
fn same_seed_same_bits_and_specs_round_trip() {
    let shape = ImageShape::new(3, 16, 16);
    let data = images(8, shape);
    let x = tensor(&data, 8, shape);
    for spec in [
        "cutout(area=0.2,aspect=0.7)",
        "cutpaste(area=0.1)",
        "noise(std=0.1)",
        "jitter(s=0.5)",
    ] {
        let aug = TunableAug::new(spec, CPU).unwrap();
        let a = to_vec(&aug.apply(&x, 4, 2, 100).unwrap());
        let b = to_vec(&aug.apply(&x, 4, 2, 100).unwrap());
        let c = to_vec(&aug.apply(&x, 5, 2, 100).unwrap());
        assert_eq!(a, b, "{spec}");
        assert_ne!(a, c, "{spec}");
        // A shuffled batch draws by sample index.
        let idx: Vec<u64> = (100..108).rev().collect();
        let rev = aug
            .apply_samples(&x.flip([0]), 4, 2, &idx)
            .unwrap()
            .flip([0]);
        assert_eq!(to_vec(&rev), a, "{spec}");
        let back = TunableAug::new(&aug.spec(), CPU).unwrap();
        assert_eq!(back.values(), aug.values(), "{spec}");
    }
    assert_eq!(TunableAug::new("cutout", CPU).unwrap().keys(), vec!["area"]);
    assert_eq!(TunableAug::new("blur", CPU).unwrap().family(), Family::Blur);
    for bad in [
        "crop(area=0.1)",
        "cutout(width=0.2)",
        "cutout(area=1.5)",
        "rotate(angle=200)",
    ] {
        assert!(TunableAug::new(bad, CPU).is_err(), "{bad}");
    }
}
