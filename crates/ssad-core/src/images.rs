//! In-memory image containers: a compact `u8` store for datasets and `f32` batches for models.
//!
//! Datasets stay as `u8` (4x smaller than `f32`); batches are converted to `f32` in [0, 1]
//! only when a model or an augmentation needs them.

use serde::{Deserialize, Serialize};

/// Shape of one image, channels first (`C x H x W`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ImageShape {
    /// Number of channels (1 = grayscale, 3 = RGB).
    pub channels: usize,
    /// Height in pixels.
    pub height: usize,
    /// Width in pixels.
    pub width: usize,
}

impl ImageShape {
    /// A shape from its three sizes.
    pub const fn new(channels: usize, height: usize, width: usize) -> Self {
        Self {
            channels,
            height,
            width,
        }
    }

    /// Number of values in one image (`C * H * W`).
    pub const fn numel(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Number of pixels in one channel plane (`H * W`).
    pub const fn plane(&self) -> usize {
        self.height * self.width
    }
}

impl std::fmt::Display for ImageShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}x{}", self.channels, self.height, self.width)
    }
}

/// A labelled set of images stored compactly as `u8`, channels first, one image after another.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageSet {
    /// Shape shared by every image.
    pub shape: ImageShape,
    /// `len() * shape.numel()` bytes, image-major, channels first.
    pub pixels: Vec<u8>,
    /// One class label per image (index into `class_names`).
    pub labels: Vec<u16>,
    /// Human-readable class names; `labels` index into this.
    pub class_names: Vec<String>,
}

impl ImageSet {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when the set holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Number of classes named by this set.
    pub fn num_classes(&self) -> usize {
        self.class_names.len()
    }

    /// The `u8` values of image `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.shape.numel();
        &self.pixels[i * n..(i + 1) * n]
    }

    /// Indices of the images whose label is `class`.
    pub fn indices_of_class(&self, class: u16) -> Vec<usize> {
        (0..self.len())
            .filter(|&i| self.labels[i] == class)
            .collect()
    }

    /// The training images `ssad` uses from this set: the images whose label is `class` (every
    /// image when `None`), and of those a seeded subsample of at most `limit` (all when `None`
    /// or when there are fewer), kept in dataset order (see [`seeded_subsample`]).
    pub fn training_subset(&self, class: Option<u16>, limit: Option<usize>, seed: u64) -> ImageSet {
        let idx = match class {
            Some(c) => self.indices_of_class(c),
            None => (0..self.len()).collect(),
        };
        self.select(&seeded_subsample(idx, limit, seed))
    }

    /// A new set holding the images at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> ImageSet {
        let n = self.shape.numel();
        let mut pixels = Vec::with_capacity(indices.len() * n);
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            pixels.extend_from_slice(self.image(i));
            labels.push(self.labels[i]);
        }
        ImageSet {
            shape: self.shape,
            pixels,
            labels,
            class_names: self.class_names.clone(),
        }
    }

    /// Converts the images at `indices` to an `f32` batch in [0, 1] (`v / 255`).
    pub fn batch(&self, indices: &[usize]) -> Batch {
        let n = self.shape.numel();
        let mut data = Vec::with_capacity(indices.len() * n);
        for &i in indices {
            data.extend(self.image(i).iter().map(|&v| v as f32 / 255.0));
        }
        Batch {
            shape: self.shape,
            data,
        }
    }

    /// Converts the whole set to an `f32` batch in [0, 1].
    pub fn to_batch(&self) -> Batch {
        Batch {
            shape: self.shape,
            data: self.pixels.iter().map(|&v| v as f32 / 255.0).collect(),
        }
    }

    /// Number of images per class, indexed by label.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.num_classes()];
        for &l in &self.labels {
            if let Some(c) = counts.get_mut(l as usize) {
                *c += 1;
            }
        }
        counts
    }
}

/// At most `limit` of `indices` (all when `None` or when there are fewer): a ChaCha8 shuffle
/// seeded with `seed`, truncated to `limit`, then sorted back into ascending order. The
/// training-set subsample of `ssad train --train-limit` (seeded with the training seed) and of
/// a study's `train_limit` (seeded with the normal class).
pub fn seeded_subsample(mut indices: Vec<usize>, limit: Option<usize>, seed: u64) -> Vec<usize> {
    if let Some(limit) = limit.filter(|&l| l < indices.len()) {
        use rand::seq::SliceRandom;
        use rand::SeedableRng;
        indices.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
        indices.truncate(limit);
        indices.sort_unstable();
    }
    indices
}

/// A batch of `f32` images (`N x C x H x W`, values normally in [0, 1]).
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    /// Shape of each image.
    pub shape: ImageShape,
    /// `len() * shape.numel()` values, image-major, channels first.
    pub data: Vec<f32>,
}

impl Batch {
    /// An all-zero batch of `n` images.
    pub fn zeros(shape: ImageShape, n: usize) -> Self {
        Self {
            shape,
            data: vec![0.0; n * shape.numel()],
        }
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.data.len() / self.shape.numel().max(1)
    }

    /// True when the batch holds no image.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The values of image `i`.
    pub fn image(&self, i: usize) -> &[f32] {
        let n = self.shape.numel();
        &self.data[i * n..(i + 1) * n]
    }

    /// The values of image `i`, mutable.
    pub fn image_mut(&mut self, i: usize) -> &mut [f32] {
        let n = self.shape.numel();
        &mut self.data[i * n..(i + 1) * n]
    }

    /// A new batch with the images at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Batch {
        let mut data = Vec::with_capacity(indices.len() * self.shape.numel());
        for &i in indices {
            data.extend_from_slice(self.image(i));
        }
        Batch {
            shape: self.shape,
            data,
        }
    }

    /// Appends all images of `other` (which must have the same shape).
    pub fn extend(&mut self, other: &Batch) {
        assert_eq!(
            self.shape, other.shape,
            "cannot concatenate batches of different shapes"
        );
        self.data.extend_from_slice(&other.data);
    }
}
