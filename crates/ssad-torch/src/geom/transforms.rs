//! The transformations a GEOM classifier learns to recognise: the 72 deterministic GEOM
//! transformations, or a list of random augmentation specs.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use ssad_augment::functional::{hflip, rot90, translate};
use ssad_augment::AugSpec;
use ssad_core::augment::{sample_rng, splitmix64, Augment};
use ssad_core::model::TransformSet;
use ssad_core::ImageShape;

/// Number of GEOM transformations: 2 flips x 3 x-shifts x 3 y-shifts x 4 rotations.
pub const GEOM_TRANSFORMS: usize = 72;

/// One of the 72 GEOM transformations, applied in this order: horizontal flip, translation by
/// `(shift_x, shift_y) * round(W/4 or H/4)` pixels with zero fill (8 pixels at 32x32), then
/// `quarter_turns` counter-clockwise quarter turns.
///
/// Index `k` enumerates (flip, x-shift, y-shift, rotation) with the rotation fastest, shifts
/// in the order 0, -1, +1, as Golan and El-Yaniv's `itertools.product((False, True),
/// (0, -8, 8), (0, -8, 8), range(4))`. Zero fill (not their reflect padding) keeps the set
/// consistent with the `geom` augmentation of METHOD.md, whose draws are uniform over exactly
/// these 72 transformations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GeomTransform {
    /// Mirror left to right first.
    pub hflip: bool,
    /// -1 (left), 0 or +1 (right) quarter-widths.
    pub shift_x: i8,
    /// -1 (up), 0 or +1 (down) quarter-heights.
    pub shift_y: i8,
    /// Counter-clockwise quarter turns, 0-3.
    pub quarter_turns: u8,
}

impl GeomTransform {
    /// The `k`-th transformation (`k < 72`).
    pub fn from_index(k: usize) -> Self {
        assert!(
            k < GEOM_TRANSFORMS,
            "GEOM transformation index {k} is not below 72"
        );
        const SHIFTS: [i8; 3] = [0, -1, 1];
        Self {
            hflip: k / 36 == 1,
            shift_x: SHIFTS[(k / 12) % 3],
            shift_y: SHIFTS[(k / 4) % 3],
            quarter_turns: (k % 4) as u8,
        }
    }

    /// Index of this transformation in [`GeomTransform::from_index`]'s order.
    pub fn index(&self) -> usize {
        let s = |v: i8| match v {
            0 => 0,
            -1 => 1,
            _ => 2,
        };
        usize::from(self.hflip) * 36
            + s(self.shift_x) * 12
            + s(self.shift_y) * 4
            + self.quarter_turns as usize % 4
    }

    /// Applies the transformation to one `shape` image in place.
    pub fn apply(&self, image: &mut [f32], shape: ImageShape) {
        if self.hflip {
            hflip(image, shape);
        }
        let qx = (shape.width as f64 * 0.25).round() as isize;
        let qy = (shape.height as f64 * 0.25).round() as isize;
        if self.shift_x != 0 || self.shift_y != 0 {
            translate(
                image,
                shape,
                self.shift_x as isize * qx,
                self.shift_y as isize * qy,
            );
        }
        rot90(image, shape, self.quarter_turns as i32);
    }

    /// Short name, e.g. `flip-x-1-y+1-r2` or `id-x0-y0-r0`.
    pub fn name(&self) -> String {
        format!(
            "{}-x{:+}-y{:+}-r{}",
            if self.hflip { "flip" } else { "id" },
            self.shift_x,
            self.shift_y,
            self.quarter_turns
        )
        .replace("+0", "0")
    }
}

/// A transformation set with every member resolved (never [`TransformSet::FromAug`]).
#[derive(Clone, Debug)]
pub(crate) enum Resolved {
    /// The 72 GEOM transformations.
    Geom,
    /// The 4 quarter turns.
    Rotations,
    /// Random augmentations, one per class.
    Specs(Vec<AugSpec>),
}

/// Salt separating scoring draws from training draws.
const SCORE_SALT: u64 = 0x4745_4f4d_5343_4f52;

impl Resolved {
    /// Resolves `set`; `aug` is the augmentation handed to `fit` (used by `FromAug`).
    pub(crate) fn new(set: &TransformSet, aug: &dyn Augment) -> anyhow::Result<Self> {
        Ok(match set {
            TransformSet::Geom => Resolved::Geom,
            TransformSet::Rotations => Resolved::Rotations,
            TransformSet::Specs(list) => Resolved::Specs(
                list.iter()
                    .map(|s| {
                        ssad_augment::parse(s)
                            .map_err(|e| anyhow::anyhow!("GEOM transformation '{s}': {e}"))
                    })
                    .collect::<anyhow::Result<_>>()?,
            ),
            TransformSet::FromAug => {
                let spec = aug.spec();
                if spec == "geom" {
                    Resolved::Geom
                } else if spec == "rotate" {
                    Resolved::Rotations
                } else if aug.is_identity() {
                    Resolved::Specs(vec![AugSpec::none()])
                } else {
                    let parsed = ssad_augment::parse(&spec).map_err(|e| {
                        anyhow::anyhow!(
                            "GEOM with transforms = \"aug\" needs a catalogue augmentation, but \
                             '{spec}' does not parse: {e}"
                        )
                    })?;
                    Resolved::Specs(vec![AugSpec::none(), parsed])
                }
            }
        })
    }

    /// The set as a config value (for the sidecar).
    pub(crate) fn as_set(&self) -> TransformSet {
        match self {
            Resolved::Geom => TransformSet::Geom,
            Resolved::Rotations => TransformSet::Rotations,
            Resolved::Specs(l) => TransformSet::Specs(l.iter().map(|s| s.to_string()).collect()),
        }
    }

    /// Number of transformations K (classes of the classifier).
    pub(crate) fn len(&self) -> usize {
        match self {
            Resolved::Geom => GEOM_TRANSFORMS,
            Resolved::Rotations => 4,
            Resolved::Specs(l) => l.len(),
        }
    }

    /// Name of transformation `k`.
    pub(crate) fn name(&self, k: usize) -> String {
        match self {
            Resolved::Geom => GeomTransform::from_index(k).name(),
            Resolved::Rotations => format!("r{k}"),
            Resolved::Specs(l) => l[k].to_string(),
        }
    }

    /// Applies transformation `k` to one image, drawing any randomness from `key`'s stream.
    fn apply_one(&self, k: usize, image: &mut [f32], shape: ImageShape, key: (u64, u64, u64)) {
        match self {
            Resolved::Geom => GeomTransform::from_index(k).apply(image, shape),
            Resolved::Rotations => rot90(image, shape, k as i32),
            Resolved::Specs(l) => {
                if !l[k].is_identity() {
                    let mut rng = sample_rng(key.0, key.1, key.2);
                    l[k].apply(image, shape, &mut rng);
                }
            }
        }
    }

    /// Training: applies `labels[i]` to image `i` of `data`, the draws of image `i` keyed by
    /// (seed, epoch, `sample_ids[i]`).
    pub(crate) fn apply_training(
        &self,
        data: &mut [f32],
        shape: ImageShape,
        labels: &[usize],
        sample_ids: &[usize],
        seed: u64,
        epoch: usize,
    ) {
        data.par_chunks_mut(shape.numel())
            .zip(labels.par_iter().zip(sample_ids.par_iter()))
            .for_each(|(img, (&k, &id))| {
                self.apply_one(k, img, shape, (seed, epoch as u64, id as u64))
            });
    }

    /// Scoring: a copy of `images` with transformation `k` applied to each; random draws are
    /// keyed by (`seed`, `k`, a hash of the image's values), so an image gets the same draws
    /// wherever it sits in a batch.
    pub(crate) fn apply_scoring(
        &self,
        images: &[f32],
        shape: ImageShape,
        k: usize,
        seed: u64,
    ) -> Vec<f32> {
        let mut out = images.to_vec();
        let random = matches!(self, Resolved::Specs(_));
        out.par_chunks_mut(shape.numel()).for_each(|img| {
            // Only random transformations need the (costlier) content hash.
            let id = if random { content_hash(img) } else { 0 };
            self.apply_one(k, img, shape, (splitmix64(seed ^ SCORE_SALT), k as u64, id))
        });
        out
    }
}

/// A 64-bit hash of an image's values (their bit patterns), for content-keyed random draws.
pub(crate) fn content_hash(image: &[f32]) -> u64 {
    image.iter().fold(0x6a09_e667_f3bc_c908, |h, v| {
        splitmix64(h ^ v.to_bits() as u64)
    })
}

/// The transformation labels of image `index` at `epoch`: `m` labels spread over the `k`
/// transformations as evenly as possible (each `m / k` times, plus `m % k` distinct random
/// ones), in random order.
pub(crate) fn draw_labels(seed: u64, epoch: usize, index: usize, m: usize, k: usize) -> Vec<usize> {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    const LABEL_SALT: u64 = 0x4c41_4245_4c53_2121;
    let key = splitmix64(splitmix64(splitmix64(seed ^ LABEL_SALT) ^ epoch as u64) ^ index as u64);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(key);
    let mut labels: Vec<usize> = (0..m / k).flat_map(|_| 0..k).collect();
    let mut rest: Vec<usize> = (0..k).collect();
    rest.shuffle(&mut rng);
    labels.extend_from_slice(&rest[..m % k]);
    labels.shuffle(&mut rng);
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_round_trip_and_follow_golan_order() {
        for k in 0..GEOM_TRANSFORMS {
            assert_eq!(GeomTransform::from_index(k).index(), k);
        }
        let t = GeomTransform::from_index(0);
        assert_eq!(
            (t.hflip, t.shift_x, t.shift_y, t.quarter_turns),
            (false, 0, 0, 0)
        );
        // product((F, T), (0, -8, 8), (0, -8, 8), range(4)): index 1*36 + 2*12 + 1*4 + 3.
        let t = GeomTransform::from_index(67);
        assert_eq!(
            (t.hflip, t.shift_x, t.shift_y, t.quarter_turns),
            (true, 1, -1, 3)
        );
        assert_eq!(t.name(), "flip-x+1-y-1-r3");
        assert_eq!(GeomTransform::from_index(0).name(), "id-x0-y0-r0");
    }

    #[test]
    fn labels_are_balanced_and_reproducible() {
        let a = draw_labels(3, 1, 5, 150, 72);
        let mut counts = [0usize; 72];
        a.iter().for_each(|&l| counts[l] += 1);
        // 150 = 2 * 72 + 6: every class twice, six classes three times.
        assert_eq!(counts.iter().filter(|&&c| c == 2).count(), 66);
        assert_eq!(counts.iter().filter(|&&c| c == 3).count(), 6);
        assert_eq!(a, draw_labels(3, 1, 5, 150, 72));
        assert_ne!(a, draw_labels(3, 2, 5, 150, 72));
        let one = draw_labels(0, 0, 0, 1, 72);
        assert_eq!(one.len(), 1);
        // Over many images a single draw is uniform: each of 4 classes ~ 1/4.
        let mut c4 = [0usize; 4];
        (0..4000).for_each(|i| c4[draw_labels(9, 0, i, 1, 4)[0]] += 1);
        assert!(c4.iter().all(|&c| (900..1100).contains(&c)), "{c4:?}");
    }

    #[test]
    fn scoring_draws_follow_the_image_not_its_position() {
        let shape = ImageShape::new(1, 32, 32);
        let set = Resolved::Specs(vec![
            AugSpec::none(),
            ssad_augment::parse("cutpaste").unwrap(),
        ]);
        let a: Vec<f32> = (0..1024).map(|i| (i % 7) as f32 / 7.0).collect();
        let b: Vec<f32> = (0..1024).map(|i| (i % 5) as f32 / 5.0).collect();
        let ab = [a.clone(), b.clone()].concat();
        let ba = [b.clone(), a.clone()].concat();
        let out_ab = set.apply_scoring(&ab, shape, 1, 4);
        let out_ba = set.apply_scoring(&ba, shape, 1, 4);
        assert_eq!(out_ab[..1024], out_ba[1024..]);
        assert_ne!(out_ab[..1024], a[..], "cutpaste changed nothing");
        assert_eq!(
            set.apply_scoring(&ab, shape, 0, 4),
            ab,
            "class 0 is the identity"
        );
        assert_ne!(
            set.apply_scoring(&ab, shape, 1, 5),
            out_ab,
            "seed is ignored"
        );
    }
}
