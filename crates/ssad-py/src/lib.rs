//! ssad-py: the native module `ssad._native` of the `ssad` Python package (built by maturin
//! from `crates/ssad-py/pyproject.toml`), and the array-level functions it wraps.
//!
//! The Python package runs ssad's own Rust code on NumPy arrays: the augmentation catalogue
//! (`ssad-augment`), the statistics (`ssad-stats`), the dataset loaders and the heat maps of
//! reconstruction errors (`ssad-core`, [`heat_maps`]). This
//! crate holds what the bindings need beyond those crates, as plain Rust over slices, so it is
//! tested by `cargo test` without a Python interpreter; the PyO3 bindings themselves are behind
//! the `python` feature (on only in maturin builds) and tested by the package's pytest suite.
//!
//! Augmented images equal the training loop's: image `i` of a batch is augmented with the
//! draws of [`ssad_core::sample_rng`]`(seed, epoch, indices[i])`, where `indices[i]` is the
//! image's index in the training set, as `prepare_batch` in `ssad-torch` does.
//!
//! Parallel work runs on [`in_process_pool`], a rayon pool owned by the current process, never
//! on rayon's global pool: a forked child (a PyTorch `DataLoader` worker, `os.fork`) inherits
//! the parent's pool without its threads, and a job sent there would wait forever.

use rayon::prelude::*;
use ssad_core::augment::{augment_samples, Augment};
use ssad_core::ImageShape;
use std::fmt;
use std::sync::atomic::{AtomicPtr, Ordering};

#[cfg(feature = "python")]
mod python;

/// Bad arguments to [`augment_images`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArrayError {
    /// The data length is not a whole number of images.
    NotWholeImages {
        /// Number of values.
        len: usize,
        /// Values per image.
        numel: usize,
    },
    /// Not one index per image.
    IndexCount {
        /// Number of images.
        images: usize,
        /// Number of indices.
        indices: usize,
    },
    /// Images and reconstructions of different sizes.
    ReconstructionCount {
        /// Number of image values.
        images: usize,
        /// Number of reconstruction values.
        reconstructions: usize,
    },
}

impl fmt::Display for ArrayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArrayError::NotWholeImages { len, numel } => write!(
                f,
                "{len} values are not a whole number of images of {numel} values each"
            ),
            ArrayError::IndexCount { images, indices } => write!(
                f,
                "{indices} indices for {images} images: need exactly one dataset index per image"
            ),
            ArrayError::ReconstructionCount {
                images,
                reconstructions,
            } => write!(
                f,
                "{reconstructions} reconstruction values for {images} image values: need one \
                 reconstruction of the same shape per image"
            ),
        }
    }
}

impl std::error::Error for ArrayError {}

/// A rayon pool and the process that built it.
struct ProcessPool {
    pid: u32,
    pool: rayon::ThreadPool,
}

/// The pool of this process (null before the first parallel call). Pools are never freed: a
/// pool built by a parent process is left behind in its forked children (its threads do not
/// exist there), and one built here lives as long as the process.
static POOL: AtomicPtr<ProcessPool> = AtomicPtr::new(std::ptr::null_mut());

/// The rayon pool of the current process, built on first use in each process (its size:
/// `RAYON_NUM_THREADS`, else the number of CPUs). After a `fork` the child sees a pool built
/// by another process id and builds its own, so forked children never wait on threads that
/// only existed in their parent.
pub fn process_pool() -> &'static rayon::ThreadPool {
    let pid = std::process::id();
    loop {
        let current = POOL.load(Ordering::Acquire);
        // SAFETY: a non-null POOL points to a leaked `Box<ProcessPool>`, never freed.
        if let Some(p) = unsafe { current.as_ref() } {
            if p.pid == pid {
                return &p.pool;
            }
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .thread_name(|i| format!("ssad-py-{i}"))
            .build()
            .expect("ssad: cannot start the worker threads of its thread pool");
        let fresh = Box::into_raw(Box::new(ProcessPool { pid, pool }));
        match POOL.compare_exchange(current, fresh, Ordering::AcqRel, Ordering::Acquire) {
            // SAFETY: `fresh` was just leaked and is now published; it is never freed. The
            // pool it replaced (if any) belongs to a parent process and is leaked.
            Ok(_) => return unsafe { &(*fresh).pool },
            // Another thread of this process published a pool first: drop ours (never
            // published, so nothing else refers to it) and use that one.
            // SAFETY: `fresh` came from `Box::into_raw` above and was not shared.
            Err(_) => drop(unsafe { Box::from_raw(fresh) }),
        }
    }
}

/// Runs `f` on [`process_pool`]: rayon's parallel iterators inside it use this process's
/// threads (see the crate docs on `fork`).
pub fn in_process_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    process_pool().install(f)
}

/// `u8` pixels as `f32` in [0, 1], `v / 255` (as [`ssad_core::ImageSet::batch`] converts them),
/// in parallel.
pub fn unit_f32(pixels: &[u8]) -> Vec<f32> {
    let mut out = vec![0.0f32; pixels.len()];
    out.par_chunks_mut(1 << 16)
        .zip(pixels.par_chunks(1 << 16))
        .for_each(|(o, p)| {
            for (o, &p) in o.iter_mut().zip(p) {
                *o = p as f32 / 255.0;
            }
        });
    out
}

/// Which training-set index each image of a batch has.
#[derive(Clone, Copy, Debug)]
pub enum SampleIndices<'a> {
    /// Image `i` is sample `first + i` (a batch of consecutive images).
    From(u64),
    /// Image `i` is sample `indices[i]` (e.g. a shuffled training batch).
    List(&'a [u64]),
}

/// Augments the images of `data` (images of `shape`, back to back, values in [0, 1]) in place
/// and in parallel, exactly as ssad's training loop augments them at `epoch` (0-based) of a
/// run seeded with `seed`: image `i` gets the draws of `sample_rng(seed, epoch, index_i)`.
pub fn augment_images(
    aug: &dyn Augment,
    data: &mut [f32],
    shape: ImageShape,
    seed: u64,
    epoch: u64,
    indices: SampleIndices<'_>,
) -> Result<(), ArrayError> {
    let numel = shape.numel();
    if numel == 0 || !data.len().is_multiple_of(numel) {
        return Err(ArrayError::NotWholeImages {
            len: data.len(),
            numel,
        });
    }
    let images = data.len() / numel;
    match indices {
        SampleIndices::From(first) => {
            augment_samples(aug, data, shape, seed, epoch, |i| first + i as u64)
        }
        SampleIndices::List(list) => {
            if list.len() != images {
                return Err(ArrayError::IndexCount {
                    images,
                    indices: list.len(),
                });
            }
            augment_samples(aug, data, shape, seed, epoch, |i| list[i]);
        }
    }
    Ok(())
}

/// Checks that `images` and `recon` are whole images of `shape` and equally long; returns the
/// number of images.
fn image_pairs(images: &[f32], recon: &[f32], shape: ImageShape) -> Result<usize, ArrayError> {
    let numel = shape.numel();
    if numel == 0 || !images.len().is_multiple_of(numel) {
        return Err(ArrayError::NotWholeImages {
            len: images.len(),
            numel,
        });
    }
    if recon.len() != images.len() {
        return Err(ArrayError::ReconstructionCount {
            images: images.len(),
            reconstructions: recon.len(),
        });
    }
    Ok(images.len() / numel)
}

/// The per-pixel errors ([`ssad_core::heatmap::pixel_errors`]: RMS over channels of
/// `image - reconstruction`) of images of `shape` back to back, in parallel: `N x H x W`.
pub fn pixel_error_maps(
    images: &[f32],
    recon: &[f32],
    shape: ImageShape,
) -> Result<Vec<f32>, ArrayError> {
    image_pairs(images, recon, shape)?;
    let numel = shape.numel();
    Ok(images
        .par_chunks(numel)
        .zip(recon.par_chunks(numel))
        .flat_map_iter(|(x, r)| ssad_core::heatmap::pixel_errors(x, r, shape))
        .collect())
}

/// The heat maps of images of `shape` and their reconstructions, back to back, at one `scale`
/// ([`ssad_core::heatmap::heat_map`], the convention of `ssad detect` and the report), in
/// parallel: `N x H x W x 3` RGB bytes, channels last (what image viewers and matplotlib
/// take).
pub fn heat_maps(
    images: &[f32],
    recon: &[f32],
    shape: ImageShape,
    scale: f32,
) -> Result<Vec<u8>, ArrayError> {
    image_pairs(images, recon, shape)?;
    let numel = shape.numel();
    Ok(images
        .par_chunks(numel)
        .zip(recon.par_chunks(numel))
        .flat_map_iter(|(x, r)| {
            ssad_core::heatmap::heat_map(x, r, shape, scale)
                .into_iter()
                .flatten()
        })
        .collect())
}

/// The JSON text of `value` (the native module hands structured results to Python as JSON, the
/// same objects `ssad stats` prints).
pub fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("ssad's result types serialise to JSON")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ssad_core::{augment_batch, sample_rng, Batch};

    #[test]
    fn unit_scaling_is_v_over_255() {
        let px: Vec<u8> = (0..=255).collect();
        let f = unit_f32(&px);
        assert_eq!(f[0], 0.0);
        assert_eq!(f[255], 1.0);
        assert_eq!(f[51], 0.2); // 51 / 255 = 0.2 exactly as f32 division rounds
        assert_eq!(f[128], 128.0f32 / 255.0);
    }

    #[test]
    fn listed_indices_give_the_training_loop_draws() {
        let shape = ImageShape::new(1, 8, 8);
        let spec = ssad_augment::parse("cutout(area=0.25)+noise(std=0.1)").unwrap();
        let base: Vec<f32> = (0..5 * 64).map(|v| (v % 97) as f32 / 97.0).collect();
        // Whole set, consecutive indices 0..5, epoch 3.
        let mut whole = Batch {
            shape,
            data: base.clone(),
        };
        augment_batch(&spec, &mut whole, 11, 3, 0);
        // Images 4 and 1 of the set, as a shuffled training batch holds them.
        let mut batch: Vec<f32> = [&base[4 * 64..5 * 64], &base[64..128]].concat();
        augment_images(
            &spec,
            &mut batch,
            shape,
            11,
            3,
            SampleIndices::List(&[4, 1]),
        )
        .unwrap();
        assert_eq!(&batch[..64], whole.image(4));
        assert_eq!(&batch[64..], whole.image(1));
        // By hand: one image with its own stream.
        let mut one = base[64..128].to_vec();
        spec.apply(&mut one, shape, &mut sample_rng(11, 3, 1));
        assert_eq!(&batch[64..], &one[..]);
        // Consecutive indices from 2.
        let mut tail = base[2 * 64..].to_vec();
        augment_images(&spec, &mut tail, shape, 11, 3, SampleIndices::From(2)).unwrap();
        assert_eq!(&tail[..], &whole.data[2 * 64..]);
    }

    #[test]
    fn the_process_pool_is_built_once_and_runs_parallel_work() {
        let a = process_pool() as *const rayon::ThreadPool;
        let b = std::thread::spawn(|| process_pool() as *const rayon::ThreadPool as usize)
            .join()
            .unwrap();
        assert_eq!(a as usize, b);
        let px: Vec<u8> = (0..=255).cycle().take(300_000).collect();
        let inside = in_process_pool(|| (rayon::current_thread_index(), unit_f32(&px)));
        assert!(inside.0.is_some(), "install runs on a worker of the pool");
        assert_eq!(inside.1, unit_f32(&px));
    }

    /// Two hand-made 1 x 1 x 3 gray pairs at scale 0.5: zero error is black, half the scale
    /// (255, 128, 0), twice the scale clipped to white; the second image is the first mirrored.
    #[test]
    fn heat_maps_of_hand_made_pairs() {
        let shape = ImageShape::new(1, 1, 3);
        let x = [0.3, 0.5, 1.0, 1.0, 0.5, 0.3];
        let r = [0.3, 0.25, 0.0, 0.0, 0.25, 0.3];
        let rgb = heat_maps(&x, &r, shape, 0.5).unwrap();
        let (black, orange, white) = ([0u8, 0, 0], [255u8, 128, 0], [255u8, 255, 255]);
        let expected: Vec<u8> = [black, orange, white, white, orange, black].concat();
        assert_eq!(rgb, expected);
        let e = pixel_error_maps(&x, &r, shape).unwrap();
        assert_eq!(e, [0.0, 0.25, 1.0, 1.0, 0.25, 0.0]);
        let err = heat_maps(&x, &r[..3], shape, 0.5).unwrap_err();
        assert_eq!(
            err.to_string(),
            "3 reconstruction values for 6 image values: need one reconstruction of the same \
             shape per image"
        );
        assert!(matches!(
            pixel_error_maps(&x[..5], &r[..5], shape),
            Err(ArrayError::NotWholeImages { len: 5, numel: 3 })
        ));
    }

    #[test]
    fn bad_lengths_are_named() {
        let spec = ssad_augment::parse("flip").unwrap();
        let shape = ImageShape::new(1, 2, 2);
        let mut data = vec![0.0; 9];
        let e = augment_images(&spec, &mut data, shape, 0, 0, SampleIndices::From(0));
        assert_eq!(
            e.unwrap_err().to_string(),
            "9 values are not a whole number of images of 4 values each"
        );
        let mut data = vec![0.0; 8];
        let e = augment_images(&spec, &mut data, shape, 0, 0, SampleIndices::List(&[0]));
        assert_eq!(
            e.unwrap_err().to_string(),
            "1 indices for 2 images: need exactly one dataset index per image"
        );
    }
}
