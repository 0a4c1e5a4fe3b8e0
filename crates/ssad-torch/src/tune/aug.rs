//! [`TunableAug`]: one augmentation family whose continuous parameters are tensors, applied to
//! a batch inside autograd. The exact semantics of each family are in the module docs of
//! [`crate::tune`].

use super::photometric::{self, JitterXi};
use super::range::RangeMap;
use anyhow::{ensure, Context, Result};
use rand::Rng;
use rand::RngCore;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use ssad_augment::functional as f;
use ssad_augment::ops;
use ssad_augment::spec::CutoutSize;
use ssad_core::augment::{sample_rng, SampleRng};
use ssad_core::ImageShape;
use std::fmt;
use tch::{Device, Kind, Tensor};

/// Default soft-edge temperature of the box families (`cutout`, `cutpaste`), in pixels.
pub const DEFAULT_TEMPERATURE: f64 = 0.5;

/// A family of differentiable augmentations (one catalogue entry with continuous parameters).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// `cutout(area, aspect)`: erase one soft-edged box to 0.
    Cutout,
    /// `rotate(angle)`: rotate by `angle` degrees through an affine sampling grid.
    Rotate,
    /// `noise(std)`: add `std * N(0, 1)` to every value.
    Noise,
    /// `blur(sigma)`: Gaussian blur with a kernel built from `sigma`.
    Blur,
    /// `cutpaste(area)`: paste a colour-jittered patch of area fraction `area` elsewhere.
    CutPaste,
    /// `jitter(s)`: colour jitter of strength `s`.
    Jitter,
}

impl Family {
    /// Every family.
    pub const ALL: [Family; 6] = [
        Family::Cutout,
        Family::Rotate,
        Family::Noise,
        Family::Blur,
        Family::CutPaste,
        Family::Jitter,
    ];

    /// The catalogue name (`cutout`, `rotate`, `noise`, `blur`, `cutpaste`, `jitter`).
    pub fn name(self) -> &'static str {
        match self {
            Family::Cutout => "cutout",
            Family::Rotate => "rotate",
            Family::Noise => "noise",
            Family::Blur => "blur",
            Family::CutPaste => "cutpaste",
            Family::Jitter => "jitter",
        }
    }

    /// The family named `name`, if any.
    pub fn from_name(name: &str) -> Option<Family> {
        Family::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The parameter keys this family can tune (`cutout`: `area`, `aspect`), from the
    /// catalogue's table [`ssad_augment::TUNABLE`].
    pub fn keys(self) -> &'static [&'static str] {
        // The table's keys as static slices (`keys_are_the_catalogue_tables` checks them).
        let keys: &'static [&'static str] = match self {
            Family::Cutout => &["area", "aspect"],
            Family::Rotate => &["angle"],
            Family::Noise => &["std"],
            Family::Blur => &["sigma"],
            Family::CutPaste => &["area"],
            Family::Jitter => &["s"],
        };
        keys
    }

    /// This family's entry in [`ssad_augment::TUNABLE`].
    pub fn table(self) -> &'static ssad_augment::TunableFamily {
        ssad_augment::tunable_family(self.name()).expect("every engine family is in TUNABLE")
    }

    /// The default range of parameter `key` (see the module docs of [`crate::tune`]).
    pub fn default_range(self, key: &str) -> Option<RangeMap> {
        let lin = |lo, hi| Some(RangeMap::Linear { lo, hi });
        match (self, key) {
            (Family::Cutout, "area") => lin(0.0, 1.0),
            (Family::Cutout, "aspect") => Some(RangeMap::Log {
                lo: ops::CUTOUT_RATIO.0,
                hi: ops::CUTOUT_RATIO.1,
            }),
            (Family::Rotate, "angle") => lin(-180.0, 180.0),
            (Family::Noise, "std") => lin(0.0, 1.0),
            (Family::Blur, "sigma") => lin(ops::BLUR_SIGMA.0, ops::BLUR_SIGMA.1),
            (Family::CutPaste, "area") => lin(ops::CUTPASTE_AREA.0, ops::CUTPASTE_AREA.1),
            (Family::Jitter, "s") => lin(0.0, 2.5),
            _ => None,
        }
    }

    /// The start value of parameter `key` when a spec does not give one
    /// ([`ssad_augment::TUNABLE`]'s).
    pub fn default_start(self, key: &str) -> Option<f64> {
        self.table().default_start(key)
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One tuned parameter: its key, range map and unconstrained variable.
#[derive(Debug)]
struct TunedParam {
    key: &'static str,
    map: RangeMap,
    /// Scalar `f64` tensor on the device, `requires_grad`.
    raw: Tensor,
}

/// An augmentation family with tunable continuous parameters, differentiable in them.
///
/// Built from a spec such as `cutout(area=0.3)` (the values are the start values; see
/// [`TunableAug::new`]). [`TunableAug::params`] are the unconstrained leaves an optimiser
/// moves; [`TunableAug::apply`] augments a batch `N x C x H x W` (values in [0, 1]) on the
/// batch's device with per-image draws fixed by `(seed, epoch, sample index)`, like the
/// catalogue (`ssad_core::augment::sample_rng`).
#[derive(Debug)]
pub struct TunableAug {
    family: Family,
    params: Vec<TunedParam>,
    temperature: f64,
    device: Device,
}

/// Splits `name(k=v, ...)` into the name and its (key, value) pairs.
fn parse_spec(spec: &str) -> Result<(String, Vec<(String, f64)>)> {
    let text = spec.trim();
    let (name, args) = match text.find('(') {
        None => (text, ""),
        Some(open) => {
            let rest = text[open + 1..].trim_end();
            let inner = rest
                .strip_suffix(')')
                .with_context(|| format!("missing ')' in tunable spec '{spec}'"))?;
            (text[..open].trim(), inner)
        }
    };
    ensure!(!name.is_empty(), "empty tunable augmentation spec");
    ensure!(
        !name.contains('+'),
        "tunable spec '{spec}': one family only (compositions are not tunable)"
    );
    let mut params = Vec::new();
    for item in args.split(',').filter(|s| !s.trim().is_empty()) {
        let (k, v) = item
            .split_once('=')
            .with_context(|| format!("expected key=value in '{spec}', got '{}'", item.trim()))?;
        let value: f64 = v
            .trim()
            .parse()
            .ok()
            .filter(|x: &f64| x.is_finite())
            .with_context(|| format!("value '{}' in '{spec}' is not a finite number", v.trim()))?;
        params.push((k.trim().to_string(), value));
    }
    Ok((name.to_string(), params))
}

impl TunableAug {
    /// Builds the family of `spec` with its start values on `device`.
    ///
    /// `spec` is `name(key=start, ...)`: `cutout(area=0.3)` tunes the area of a square
    /// (aspect fixed at 1, the catalogue's `cutout(area=c)`); `cutout(area=0.3,aspect=1)`
    /// tunes both; `rotate(angle=30)`, `noise(std=0.1)`, `blur(sigma=1)`,
    /// `cutpaste(area=0.1)`, `jitter(s=0.5)`. A family's key left out starts at
    /// [`Family::default_start`] (except `cutout`'s `aspect`, which is then not tuned).
    /// Start values must lie strictly inside [`Family::default_range`].
    pub fn new(spec: &str, device: Device) -> Result<TunableAug> {
        let (name, given) = parse_spec(spec)?;
        let family = Family::from_name(&name).with_context(|| {
            format!(
                "'{name}' has no tunable form; tunable families: {}",
                Family::ALL.map(|f| f.name()).join(", ")
            )
        })?;
        for (i, (k, _)) in given.iter().enumerate() {
            ensure!(
                family.keys().contains(&k.as_str()),
                "{name} has no tunable parameter '{k}'; it tunes: {}",
                family.keys().join(", ")
            );
            ensure!(
                !given[..i].iter().any(|(k2, _)| k2 == k),
                "parameter '{k}' of '{name}' is given more than once"
            );
        }
        let mut starts = Vec::new();
        for &key in family.keys() {
            match given.iter().find(|(k, _)| k == key) {
                Some((_, v)) => starts.push((key, *v)),
                None if family == Family::Cutout && key == "aspect" => {}
                None => starts.push((key, family.default_start(key).expect("default start"))),
            }
        }
        Self::with_start(family, &starts, device)
    }

    /// Builds `family` tuning exactly the keys of `starts` (with those start values) on
    /// `device`, each in its [`Family::default_range`].
    pub fn with_start(family: Family, starts: &[(&str, f64)], device: Device) -> Result<Self> {
        let mut params = Vec::new();
        for &key in family.keys() {
            if let Some(&(_, v)) = starts.iter().find(|(k, _)| *k == key) {
                let map = family.default_range(key).expect("range of a family key");
                let u = map
                    .unconstrained_of(v)
                    .with_context(|| format!("{family}({key}={v})"))?;
                params.push(TunedParam {
                    key,
                    map,
                    raw: leaf(u, device),
                });
            }
        }
        for (k, _) in starts {
            ensure!(
                family.keys().contains(k),
                "{family} has no tunable parameter '{k}'; it tunes: {}",
                family.keys().join(", ")
            );
        }
        ensure!(
            family != Family::Cutout || params.iter().any(|p| p.key == "area"),
            "cutout needs an area to tune"
        );
        ensure!(!params.is_empty(), "{family}: no parameter to tune");
        Ok(TunableAug {
            family,
            params,
            temperature: DEFAULT_TEMPERATURE,
            device,
        })
    }

    /// Replaces the range of `key`, keeping its current value (which must lie inside).
    pub fn with_range(mut self, key: &str, map: RangeMap) -> Result<Self> {
        map.check()?;
        let device = self.device;
        let p = self
            .params
            .iter_mut()
            .find(|p| p.key == key)
            .with_context(|| format!("'{key}' is not tuned"))?;
        let v = p.map.value_of(raw_value(&p.raw));
        p.raw = leaf(map.unconstrained_of(v)?, device);
        p.map = map;
        Ok(self)
    }

    /// Sets the soft-edge temperature (pixels; `0` = the hard limit). See the module docs.
    pub fn with_temperature(mut self, temperature: f64) -> Result<Self> {
        self.set_temperature(temperature)?;
        Ok(self)
    }

    /// Sets the soft-edge temperature (pixels, `>= 0`; `0` = the hard limit).
    pub fn set_temperature(&mut self, temperature: f64) -> Result<()> {
        ensure!(
            temperature.is_finite() && temperature >= 0.0,
            "temperature must be finite and >= 0, got {temperature}"
        );
        self.temperature = temperature;
        Ok(())
    }

    /// The soft-edge temperature in pixels.
    pub fn temperature(&self) -> f64 {
        self.temperature
    }

    /// The family.
    pub fn family(&self) -> Family {
        self.family
    }

    /// The device the parameters live on.
    pub fn device(&self) -> Device {
        self.device
    }

    /// The tuned keys, in [`Family::keys`] order.
    pub fn keys(&self) -> Vec<&'static str> {
        self.params.iter().map(|p| p.key).collect()
    }

    /// The unconstrained leaves (scalar `f64`, `requires_grad`), in [`TunableAug::keys`]
    /// order: what an optimiser updates (they share storage with this augmentation).
    pub fn params(&self) -> Vec<Tensor> {
        self.params.iter().map(|p| p.raw.shallow_clone()).collect()
    }

    /// The range map of `key`.
    pub fn range(&self, key: &str) -> Option<RangeMap> {
        self.params.iter().find(|p| p.key == key).map(|p| p.map)
    }

    /// The current value of `key` in the catalogue's units (`None`: not tuned).
    pub fn value(&self, key: &str) -> Option<f64> {
        self.params
            .iter()
            .find(|p| p.key == key)
            .map(|p| p.map.value_of(raw_value(&p.raw)))
    }

    /// Every tuned (key, value), in [`TunableAug::keys`] order.
    pub fn values(&self) -> Vec<(&'static str, f64)> {
        self.params
            .iter()
            .map(|p| (p.key, p.map.value_of(raw_value(&p.raw))))
            .collect()
    }

    /// The value of `key` as a differentiable scalar `f64` tensor (`None`: not tuned).
    pub fn value_tensor(&self, key: &str) -> Option<Tensor> {
        self.params
            .iter()
            .find(|p| p.key == key)
            .map(|p| p.map.to_value(&p.raw))
    }

    /// Sets the value of `key` (must lie strictly inside its range), e.g. to restart a run.
    pub fn set_value(&mut self, key: &str, v: f64) -> Result<()> {
        let p = self
            .params
            .iter_mut()
            .find(|p| p.key == key)
            .with_context(|| format!("'{key}' is not tuned"))?;
        let u = p.map.unconstrained_of(v)?;
        tch::no_grad(|| {
            let _ = p.raw.fill_(u);
        });
        Ok(())
    }

    /// The spec with the current values, e.g. `cutout(area=0.2312)` (parses back with
    /// [`TunableAug::new`]).
    pub fn spec(&self) -> String {
        let args: Vec<String> = self
            .values()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!("{}({})", self.family, args.join(","))
    }

    /// The catalogue spec (`ssad_augment::parse`) that applies the current values with the
    /// catalogue's own code, where the catalogue can express them: `cutout(area=a)` (square),
    /// `noise(std=s)`, `jitter(s=s)`, `rotate(angle=a)`; `None` for the others (the
    /// catalogue's `blur` and `cutpaste` draw their parameter).
    pub fn catalogue_spec(&self) -> Option<String> {
        let v = |k: &str| self.value(k);
        match self.family {
            Family::Cutout if v("aspect").is_none() => Some(format!("cutout(area={})", v("area")?)),
            Family::Noise => Some(format!("noise(std={})", v("std")?)),
            Family::Jitter => Some(format!("jitter(s={})", v("s")?)),
            Family::Rotate => Some(format!("rotate(angle={})", v("angle")?)),
            _ => None,
        }
    }

    /// Augments the batch `x` (`N x C x H x W`, float kind, values in [0, 1]); image `i` is
    /// sample `first_index + i` of `epoch` (its draws come from
    /// `sample_rng(seed, epoch, first_index + i)`, as `ssad_core::augment_batch` does).
    /// Differentiable in [`TunableAug::params`]; same kind and device as `x`.
    pub fn apply(&self, x: &Tensor, seed: u64, epoch: u64, first_index: u64) -> Result<Tensor> {
        let n = x.size().first().copied().unwrap_or(0).max(0) as u64;
        let idx: Vec<u64> = (0..n).map(|i| first_index + i).collect();
        self.apply_samples(x, seed, epoch, &idx)
    }

    /// [`TunableAug::apply`] with an explicit sample index per image (a shuffled batch: image
    /// `i` draws from `sample_rng(seed, epoch, indices[i])`).
    pub fn apply_samples(
        &self,
        x: &Tensor,
        seed: u64,
        epoch: u64,
        indices: &[u64],
    ) -> Result<Tensor> {
        let dims = x.size();
        ensure!(
            dims.len() == 4,
            "a batch must be N x C x H x W, got {dims:?}"
        );
        ensure!(
            matches!(x.kind(), Kind::Float | Kind::Double),
            "a batch must be f32 or f64, got {:?}",
            x.kind()
        );
        ensure!(
            dims[0] as usize == indices.len(),
            "{} images but {} sample indices",
            dims[0],
            indices.len()
        );
        let shape = ImageShape::new(dims[1] as usize, dims[2] as usize, dims[3] as usize);
        let mut rngs: Vec<SampleRng> = indices
            .iter()
            .map(|&i| sample_rng(seed, epoch, i))
            .collect();
        let get = |k: &str| self.value_tensor(k).expect("tuned key");
        Ok(match self.family {
            Family::Cutout => self.cutout(x, shape, &mut rngs),
            Family::Rotate => rotate(x, shape, &get("angle"), self.temperature == 0.0),
            Family::Noise => noise(x, shape, &get("std"), &mut rngs),
            Family::Blur => blur(x, shape, &get("sigma")),
            Family::CutPaste => self.cutpaste(x, shape, &mut rngs)?,
            Family::Jitter => {
                let xi: Vec<JitterXi> = rngs.iter_mut().map(photometric::draw_xi).collect();
                photometric::jitter(x, shape, &get("s"), &xi)
            }
        })
    }

    fn cutout(&self, x: &Tensor, shape: ImageShape, rngs: &mut [SampleRng]) -> Tensor {
        let (h, w) = (shape.height, shape.width);
        let area = self.value_tensor("area").expect("cutout area");
        let a = raw_to_f64(&area);
        let aspect = self.value_tensor("aspect");
        let hw = (h * w) as f64;
        // Continuous extents: h = sqrt(area H W aspect), w = sqrt(area H W / aspect).
        let (ext_h, ext_w) = match &aspect {
            None => {
                let side = (&area * hw).sqrt();
                (side.shallow_clone(), side)
            }
            Some(r) => ((&area * hw * r).sqrt(), (&area * hw / r).sqrt()),
        };
        let r = aspect.as_ref().map(raw_to_f64);
        let mut cy = Vec::with_capacity(rngs.len());
        let mut cx = Vec::with_capacity(rngs.len());
        let mut present = Vec::with_capacity(rngs.len());
        for rng in rngs.iter_mut() {
            let b = match r {
                None => {
                    let side = ops::cutout_side(CutoutSize::Area(a), h, w).expect("area size");
                    Some(ops::sample_square(rng, h, w, side))
                }
                Some(r) => ops::sample_erasing(rng, h, w, (a, a), (r, r)),
            };
            match b {
                Some(b) => {
                    cy.push(b.top as f64 + b.height as f64 / 2.0);
                    cx.push(b.left as f64 + b.width as f64 / 2.0);
                    present.push(1.0);
                }
                None => {
                    cy.push(0.0);
                    cx.push(0.0);
                    present.push(0.0);
                }
            }
        }
        let dev = x.device();
        let my = centred_edges(&cy, h, &ext_h, self.temperature, dev);
        let mx = centred_edges(&cx, w, &ext_w, self.temperature, dev);
        let pres = Tensor::from_slice(&present).to_device(dev).view([-1, 1, 1]);
        let m = (my.unsqueeze(2) * mx.unsqueeze(1) * pres)
            .unsqueeze(1)
            .to_kind(x.kind());
        x * (m.ones_like() - m)
    }

    fn cutpaste(&self, x: &Tensor, shape: ImageShape, rngs: &mut [SampleRng]) -> Result<Tensor> {
        let (h, w) = (shape.height, shape.width);
        let area = self.value_tensor("area").expect("cutpaste area");
        let a = raw_to_f64(&area);
        let host: Vec<f32> = Vec::<f32>::try_from(
            x.detach()
                .to_kind(Kind::Float)
                .to_device(Device::Cpu)
                .contiguous()
                .view(-1),
        )?;
        let numel = shape.numel();
        let mut canvas = host.clone();
        let mut aspects = Vec::with_capacity(rngs.len());
        let mut tops = Vec::with_capacity(rngs.len());
        let mut lefts = Vec::with_capacity(rngs.len());
        for (i, rng) in rngs.iter_mut().enumerate() {
            let d = sample_cutpaste_fixed(rng, h, w, a);
            let img = &host[i * numel..(i + 1) * numel];
            let mut patch = f::extract(img, shape, d.source);
            let pshape = ImageShape::new(shape.channels, d.source.height, d.source.width);
            ops::JitterRanges::uniform(0.1)
                .sample(rng)
                .apply(&mut patch, pshape);
            let out = &mut canvas[i * numel..(i + 1) * numel];
            let dx = d.target_left as isize - d.source.left as isize;
            let dy = d.target_top as isize - d.source.top as isize;
            f::translate(out, shape, dx, dy);
            f::paste(
                out,
                shape,
                &patch,
                pshape,
                d.target_top as isize,
                d.target_left as isize,
                None,
            );
            aspects.push(d.aspect);
            tops.push(d.target_top as f64);
            lefts.push(d.target_left as f64);
        }
        let dev = x.device();
        let content = Tensor::from_slice(&canvas)
            .view(x.size().as_slice())
            .to_device(dev)
            .to_kind(x.kind());
        let aspect = Tensor::from_slice(&aspects).to_device(dev);
        let hw = (h * w) as f64;
        // Continuous extents: h = sqrt(area H W / aspect), w = sqrt(area H W * aspect).
        let ext_h = (&area * hw / &aspect).sqrt();
        let ext_w = (&area * hw * &aspect).sqrt();
        let my = corner_edges(&tops, h, &ext_h, self.temperature, dev);
        let mx = corner_edges(&lefts, w, &ext_w, self.temperature, dev);
        let m = (my.unsqueeze(2) * mx.unsqueeze(1))
            .unsqueeze(1)
            .to_kind(x.kind());
        Ok(x * (m.ones_like() - &m) + content * m)
    }
}

/// A scalar `f64` leaf with `requires_grad` on `device`.
fn leaf(u: f64, device: Device) -> Tensor {
    Tensor::from_slice(&[u])
        .to_device(device)
        .view([])
        .set_requires_grad(true)
}

fn raw_value(t: &Tensor) -> f64 {
    t.detach().to_kind(Kind::Double).double_value(&[])
}

fn raw_to_f64(t: &Tensor) -> f64 {
    raw_value(t)
}

/// Soft step of the signed distance `t` (pixels) inside an edge: `sigmoid(t / tau)`, or the
/// Heaviside step `t >= 0` at `tau = 0`.
fn soft_step(t: &Tensor, tau: f64) -> Tensor {
    if tau > 0.0 {
        (t / tau).sigmoid()
    } else {
        t.ge(0.0).to_kind(Kind::Double)
    }
}

/// Per image `n` and pixel `i` (centre `i + 0.5`): the soft membership of a box of extent
/// `ext` (scalar or `N`) centred at `centres[n]`: `step(ext / 2 - |i + 0.5 - c|)`; `N x len`.
fn centred_edges(centres: &[f64], len: usize, ext: &Tensor, tau: f64, dev: Device) -> Tensor {
    let p = Tensor::arange(len as i64, (Kind::Double, dev)) + 0.5;
    let c = Tensor::from_slice(centres).to_device(dev).view([-1, 1]);
    let dist = (p.view([1, -1]) - c).abs();
    let half = (ext / 2.0).view([-1, 1]);
    soft_step(&(half - dist), tau)
}

/// Per image `n` and pixel `i`: the soft membership of the interval
/// `[start[n], start[n] + ext[n] - 1/2]` of pixel centres `i + 0.5` (exactly `floor(ext)`
/// pixels from `start` at the hard limit); `N x len`.
fn corner_edges(starts: &[f64], len: usize, ext: &Tensor, tau: f64, dev: Device) -> Tensor {
    let p = (Tensor::arange(len as i64, (Kind::Double, dev)) + 0.5).view([1, -1]);
    let s = Tensor::from_slice(starts).to_device(dev).view([-1, 1]);
    let lower = soft_step(&(&p - &s), tau);
    let upper = soft_step(&(&s + (ext.view([-1, 1]) - 0.5) - &p), tau);
    lower * upper
}

/// The rotation of METHOD.md's `rotate` by `angle` degrees counter-clockwise about the centre,
/// zero fill: torchvision's inverse affine grid (as `ssad_augment::functional::rotate_nearest`
/// builds it, in the batch's kind) sampled bilinearly, or with nearest sampling when `hard`.
fn rotate(x: &Tensor, shape: ImageShape, angle: &Tensor, hard: bool) -> Tensor {
    let (h, w) = (shape.height as i64, shape.width as i64);
    let dev = x.device();
    let kind = x.kind();
    let rot = angle * (-std::f64::consts::PI / 180.0);
    let (cos, sin) = (rot.cos().to_kind(kind), rot.sin().to_kind(kind));
    let (sx, sy) = (0.5 * w as f64, 0.5 * h as f64);
    let c0 = &cos / sx;
    let c1 = &sin / sx;
    let c3 = -&sin / sy;
    let c4 = &cos / sy;
    let bx = (Tensor::arange(w, (kind, dev)) - (w as f64 * 0.5) + 0.5).view([1, -1]);
    let by = (Tensor::arange(h, (kind, dev)) - (h as f64 * 0.5) + 0.5).view([-1, 1]);
    let gx = &bx * &c0 + &by * &c1;
    let gy = &bx * &c3 + &by * &c4;
    let grid = Tensor::stack(&[gx, gy], 2)
        .unsqueeze(0)
        .expand([x.size()[0], h, w, 2], true);
    x.grid_sampler_2d(&grid, if hard { 1 } else { 0 }, 0, false)
}

/// `x + std * eps` with `eps` the catalogue's own standard-normal draws for each image (the
/// Xoshiro256++ stream that `noise` seeds from the sample stream, through
/// `ssad_augment::normal::add_noise`).
fn noise(x: &Tensor, shape: ImageShape, std: &Tensor, rngs: &mut [SampleRng]) -> Tensor {
    let numel = shape.numel();
    let mut eps = vec![0f32; numel * rngs.len()];
    for (e, rng) in eps.chunks_exact_mut(numel.max(1)).zip(rngs.iter_mut()) {
        let mut bulk = Xoshiro256PlusPlus::seed_from_u64(rng.next_u64());
        ssad_augment::normal::add_noise(&mut bulk, e, 1.0);
    }
    let eps = Tensor::from_slice(&eps)
        .view(x.size().as_slice())
        .to_device(x.device())
        .to_kind(x.kind());
    x + eps * std.to_kind(x.kind())
}

/// Gaussian blur with kernel size `2 floor(floor(W / 10) / 2) + 1` (shrunk to fit), weights
/// `exp(-t^2 / (2 sigma^2))` normalised, reflect padding, separable (rows then columns).
fn blur(x: &Tensor, shape: ImageShape, sigma: &Tensor) -> Tensor {
    let ks = f::blur_kernel_size(shape.width);
    let half = (ks / 2).min(shape.height.min(shape.width).saturating_sub(1)) as i64;
    if half == 0 {
        return x.shallow_clone();
    }
    let kind = x.kind();
    let c = shape.channels as i64;
    let t = Tensor::arange(2 * half + 1, (kind, x.device())) - half as f64;
    let z = t / sigma.to_kind(kind);
    let pdf = (&z * &z * -0.5).exp();
    let k = &pdf / pdf.sum(kind);
    let kx = k.view([1, 1, 1, -1]).expand([c, 1, 1, 2 * half + 1], true);
    let ky = k.view([1, 1, -1, 1]).expand([c, 1, 2 * half + 1, 1], true);
    let padded = x.reflection_pad2d([half, half, half, half]);
    padded
        .conv2d(&kx, None::<Tensor>, [1, 1], [0, 0], [1, 1], c)
        .conv2d(&ky, None::<Tensor>, [1, 1], [0, 0], [1, 1], c)
}

/// One `cutpaste` draw with a fixed area (see [`sample_cutpaste_fixed`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CutPasteFixedDraw {
    /// Patch aspect (width / height): U(0.3, 1) or U(1, 3.3) with equal odds.
    pub aspect: f64,
    /// Where the patch is cut from.
    pub source: f::PixelBox,
    /// Row of the paste position.
    pub target_top: usize,
    /// Column of the paste position.
    pub target_left: usize,
}

/// The patch size of `cutpaste` for an area fraction and aspect on an `H x W` image:
/// `h = int(sqrt(area H W / aspect))`, `w = int(sqrt(area H W * aspect))`, clamped to
/// `[1, H]` and `[1, W]` (the catalogue's `ssad_augment::ops::sample_cutpaste` rule).
pub fn cutpaste_patch_size(area: f64, aspect: f64, height: usize, width: usize) -> (usize, usize) {
    let a = area * (height * width) as f64;
    let h = ((a / aspect).sqrt() as usize).clamp(1, height);
    let w = ((a * aspect).sqrt() as usize).clamp(1, width);
    (h, w)
}

/// The draws of `ssad_augment::ops::sample_cutpaste` with the area fixed at `area` (no area
/// draw): aspect (a coin, then U(0.3, 1) or U(1, 3.3)), then source and target positions
/// `int(U(0, H - h))`, `int(U(0, W - w))`.
pub fn sample_cutpaste_fixed<R: Rng + ?Sized>(
    rng: &mut R,
    height: usize,
    width: usize,
    area: f64,
) -> CutPasteFixedDraw {
    let uniform = |rng: &mut R, lo: f64, hi: f64| lo + (hi - lo) * rng.random::<f64>();
    let aspect = if rng.random::<f64>() < 0.5 {
        uniform(rng, 0.3, 1.0)
    } else {
        uniform(rng, 1.0, 3.3)
    };
    let (h, w) = cutpaste_patch_size(area, aspect, height, width);
    let top = uniform(rng, 0.0, (height - h) as f64) as usize;
    let left = uniform(rng, 0.0, (width - w) as f64) as usize;
    let target_top = uniform(rng, 0.0, (height - h) as f64) as usize;
    let target_left = uniform(rng, 0.0, (width - w) as f64) as usize;
    CutPasteFixedDraw {
        aspect,
        source: f::PixelBox {
            top,
            left,
            height: h,
            width: w,
        },
        target_top,
        target_left,
    }
}

#[cfg(test)]
mod tests {
    use super::Family;

    #[test]
    fn keys_are_the_catalogue_tables() {
        for f in Family::ALL {
            assert_eq!(f.keys(), f.table().keys().as_slice(), "{f}");
        }
        assert_eq!(ssad_augment::TUNABLE.len(), Family::ALL.len());
    }
}
