//! The augmentation interface and its reproducible, thread-count-independent batch driver.
//!
//! The catalogue of concrete augmentations lives in the `ssad-augment` crate; this module holds
//! only the contract every augmentation (built-in or user-defined) implements, so detectors
//! can take any augmentation without depending on the catalogue.

use crate::images::{Batch, ImageShape};
use rand::SeedableRng;
use rayon::prelude::*;

/// Random number generator handed to an augmentation for one sample.
pub type SampleRng = rand_chacha::ChaCha8Rng;

/// A random transformation of one image, applied in place.
///
/// Implement this to add an augmentation of your own; it then works everywhere a built-in does
/// (training, previews, controlled testbeds).
pub trait Augment: Send + Sync + std::fmt::Debug {
    /// Transforms `image` (`shape`, channels first, values in [0, 1]) in place, drawing all
    /// randomness from `rng`.
    fn apply(&self, image: &mut [f32], shape: ImageShape, rng: &mut SampleRng);

    /// The spec string that names this augmentation in configs and results (e.g. `cutout`).
    fn spec(&self) -> String;

    /// True when this is the identity (lets trainers skip the copy).
    fn is_identity(&self) -> bool {
        false
    }
}

/// The RNG for sample `index` at `epoch` of a run seeded with `seed`.
///
/// Each sample gets its own stream, so results do not depend on how samples are split across
/// threads or batches.
pub fn sample_rng(seed: u64, epoch: u64, index: u64) -> SampleRng {
    let key = splitmix64(splitmix64(splitmix64(seed) ^ epoch) ^ index);
    SampleRng::seed_from_u64(key)
}

/// SplitMix64 finaliser: a fast, well-mixed hash of one `u64` used to derive stream keys.
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Applies `aug` to every image of `batch` in parallel; image `i` of the batch is sample
/// `first_index + i` of the epoch, so its random draws are fixed by (seed, epoch, sample).
pub fn augment_batch(
    aug: &dyn Augment,
    batch: &mut Batch,
    seed: u64,
    epoch: u64,
    first_index: u64,
) {
    let shape = batch.shape;
    augment_samples(aug, &mut batch.data, shape, seed, epoch, |i| {
        first_index + i as u64
    });
}

/// Applies `aug` in parallel to the images of `data` (images of `shape`, back to back); image
/// `i` of `data` is sample `index(i)` of the epoch (its index in the training set), so its
/// random draws come from [`sample_rng`]`(seed, epoch, index(i))`, as in training: they do not
/// depend on the order of the images, the batch size or the number of threads.
pub fn augment_samples(
    aug: &dyn Augment,
    data: &mut [f32],
    shape: ImageShape,
    seed: u64,
    epoch: u64,
    index: impl Fn(usize) -> u64 + Sync,
) {
    if aug.is_identity() {
        return;
    }
    data.par_chunks_mut(shape.numel().max(1))
        .enumerate()
        .for_each(|(i, img)| {
            let mut rng = sample_rng(seed, epoch, index(i));
            aug.apply(img, shape, &mut rng);
        });
}

/// The identity augmentation (the vanilla autoencoder's "no augmentation").
#[derive(Clone, Copy, Debug, Default)]
pub struct Identity;

impl Augment for Identity {
    fn apply(&self, _image: &mut [f32], _shape: ImageShape, _rng: &mut SampleRng) {}
    fn spec(&self) -> String {
        "none".into()
    }
    fn is_identity(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[derive(Debug)]
    struct AddNoise;
    impl Augment for AddNoise {
        fn apply(&self, image: &mut [f32], _shape: ImageShape, rng: &mut SampleRng) {
            for v in image {
                *v += rng.random::<f32>();
            }
        }
        fn spec(&self) -> String {
            "addnoise".into()
        }
    }

    #[test]
    fn batch_results_do_not_depend_on_thread_count_or_split() {
        let shape = ImageShape::new(1, 4, 4);
        let mut whole = Batch::zeros(shape, 64);
        let pool1 = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        pool1.install(|| augment_batch(&AddNoise, &mut whole, 7, 3, 0));
        // Same samples, augmented in two halves on 2 threads.
        let mut a = Batch::zeros(shape, 32);
        let mut b = Batch::zeros(shape, 32);
        let pool2 = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        pool2.install(|| {
            augment_batch(&AddNoise, &mut a, 7, 3, 0);
            augment_batch(&AddNoise, &mut b, 7, 3, 32);
        });
        a.extend(&b);
        assert_eq!(whole, a);
        // A different epoch draws differently.
        let mut c = Batch::zeros(shape, 64);
        augment_batch(&AddNoise, &mut c, 7, 4, 0);
        assert_ne!(whole, c);
    }

    #[test]
    fn samples_take_their_draws_from_their_own_index() {
        let shape = ImageShape::new(1, 2, 3);
        // Images 5 and 2 of a set, in that order, at epoch 1.
        let mut data = vec![0.0f32; 2 * shape.numel()];
        augment_samples(&AddNoise, &mut data, shape, 9, 1, |i| [5, 2][i]);
        let mut whole = Batch::zeros(shape, 6);
        augment_batch(&AddNoise, &mut whole, 9, 1, 0);
        assert_eq!(&data[..6], whole.image(5));
        assert_eq!(&data[6..], whole.image(2));
    }

    #[test]
    fn identity_leaves_batch_unchanged() {
        let shape = ImageShape::new(1, 2, 2);
        let mut b = Batch {
            shape,
            data: vec![0.1, 0.2, 0.3, 0.4],
        };
        augment_batch(&Identity, &mut b, 1, 1, 1);
        assert_eq!(b.data, vec![0.1, 0.2, 0.3, 0.4]);
    }
}
