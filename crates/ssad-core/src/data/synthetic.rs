//! A synthetic dataset in the MVTec AD layout, for tests and the README figure: a woven
//! texture as the "good" product and three defect types drawn onto it, each with its exact
//! ground-truth mask. Deterministic: the same [`SyntheticMvtec`] writes the same bytes.
//!
//! Each image has its own random stream (ChaCha8 seeded from `seed`, stream = split, defect
//! type and index), so an image does not change when the counts of other images do.

use super::DataError;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::f64::consts::PI;
use std::path::{Path, PathBuf};

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntheticMvtec {
    /// Side length of every image (defects scale with it; 64 and 256 both work).
    pub size: usize,
    /// Number of `train/good` images.
    pub train: usize,
    /// Number of `test/good` images.
    pub test_good: usize,
    /// Number of test images of each defect type.
    pub per_defect: usize,
    /// Seed of every random draw.
    pub seed: u64,
}

impl Default for SyntheticMvtec {
    /// 64 x 64 images: 64 train, 16 good test, 8 of each defect type, seed 0.
    fn default() -> Self {
        Self {
            size: 64,
            train: 64,
            test_good: 16,
            per_defect: 8,
            seed: 0,
        }
    }
}

/// The defect types written, in order: "blob", "missing", "scratch".
pub const SYNTHETIC_DEFECTS: [&str; 3] = ["blob", "missing", "scratch"];

/// The dark background colour (seen between the threads, and in a "missing" hole).
const DARK: [f64; 3] = [45.0, 38.0, 32.0];
/// The colour of the threads' tops.
const LIGHT: [f64; 3] = [190.0, 170.0, 140.0];
/// The off colour of a "blob" (bright red-orange, far from the texture's browns).
const BLOB: [f64; 3] = [235.0, 95.0, 60.0];
/// The colour of a "scratch" (near black, darker than any part of the texture).
const SCRATCH: [f64; 3] = [8.0, 6.0, 5.0];
/// Largest pixel noise, in grey levels either way.
const NOISE: i32 = 5;

/// One defect's geometry, in pixel units (pixel centres at integer coordinates).
#[derive(Clone, Debug)]
enum Defect {
    /// A filled ellipse: centre, radii, rotation.
    Blob {
        cx: f64,
        cy: f64,
        rx: f64,
        ry: f64,
        angle: f64,
    },
    /// A rectangle `x0..x1, y0..y1` set to [`DARK`].
    Missing {
        x0: usize,
        y0: usize,
        x1: usize,
        y1: usize,
    },
    /// The pixels within `half_width` of the segment `(x0, y0)-(x1, y1)`.
    Scratch {
        x0: f64,
        y0: f64,
        x1: f64,
        y1: f64,
        half_width: f64,
    },
}

impl Defect {
    /// Whether pixel `(x, y)` is part of the defect.
    fn covers(&self, x: usize, y: usize) -> bool {
        let (px, py) = (x as f64, y as f64);
        match *self {
            Defect::Blob {
                cx,
                cy,
                rx,
                ry,
                angle,
            } => {
                let (dx, dy) = (px - cx, py - cy);
                let (c, s) = (angle.cos(), angle.sin());
                let (u, v) = ((dx * c + dy * s) / rx, (-dx * s + dy * c) / ry);
                u * u + v * v <= 1.0
            }
            Defect::Missing { x0, y0, x1, y1 } => (x0..x1).contains(&x) && (y0..y1).contains(&y),
            Defect::Scratch {
                x0,
                y0,
                x1,
                y1,
                half_width,
            } => {
                let (vx, vy) = (x1 - x0, y1 - y0);
                let t = (((px - x0) * vx + (py - y0) * vy) / (vx * vx + vy * vy)).clamp(0.0, 1.0);
                let (ex, ey) = (px - (x0 + t * vx), py - (y0 + t * vy));
                (ex * ex + ey * ey).sqrt() <= half_width
            }
        }
    }

    /// The colour the defect paints.
    fn colour(&self) -> [f64; 3] {
        match self {
            Defect::Blob { .. } => BLOB,
            Defect::Missing { .. } => DARK,
            Defect::Scratch { .. } => SCRATCH,
        }
    }
}

/// Everything drawn at random for one image: the texture's phase and brightness, the pixel
/// noise, and the defect (if any). Rendering it with and without its defect gives images that
/// differ exactly on the defect's mask.
#[derive(Clone, Debug)]
struct Draw {
    size: usize,
    phase: (f64, f64),
    brightness: f64,
    noise: Vec<i8>,
    defect: Option<Defect>,
}

/// A uniform draw in `lo..hi` (floats).
fn uniform(rng: &mut ChaCha8Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.random::<f64>()
}

impl Draw {
    /// Draws image `stream` of `spec`, with a defect of type `defect` (index into
    /// [`SYNTHETIC_DEFECTS`]) or none.
    fn new(spec: &SyntheticMvtec, stream: u64, defect: Option<usize>) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
        rng.set_stream(stream);
        let s = spec.size as f64;
        let period = period(spec.size);
        let phase = (
            uniform(&mut rng, 0.0, period / 4.0),
            uniform(&mut rng, 0.0, period / 4.0),
        );
        let brightness = uniform(&mut rng, 0.92, 1.08);
        // Sum of two uniforms: a mild triangular noise in -NOISE..=NOISE.
        let half = NOISE / 2;
        let noise = (0..spec.size * spec.size * 3)
            .map(|_| {
                (rng.random_range(-half..=half) + rng.random_range(-(NOISE - half)..=NOISE - half))
                    as i8
            })
            .collect();
        let defect = defect.map(|k| match SYNTHETIC_DEFECTS[k] {
            "blob" => {
                let rx = uniform(&mut rng, 0.06, 0.12) * s;
                let ry = uniform(&mut rng, 0.06, 0.12) * s;
                let r = rx.max(ry) + 1.0;
                Defect::Blob {
                    cx: uniform(&mut rng, r, s - 1.0 - r),
                    cy: uniform(&mut rng, r, s - 1.0 - r),
                    rx,
                    ry,
                    angle: uniform(&mut rng, 0.0, PI),
                }
            }
            "missing" => {
                let w = (uniform(&mut rng, 0.12, 0.25) * s).round().max(2.0) as usize;
                let h = (uniform(&mut rng, 0.12, 0.25) * s).round().max(2.0) as usize;
                let x0 = rng.random_range(1..spec.size - w);
                let y0 = rng.random_range(1..spec.size - h);
                Defect::Missing {
                    x0,
                    y0,
                    x1: x0 + w,
                    y1: y0 + h,
                }
            }
            _ => {
                // Scratch: 1-2 px wide at 64, scaled with the size.
                let len = uniform(&mut rng, 0.3, 0.6) * s;
                let angle = uniform(&mut rng, 0.0, PI);
                let (hx, hy) = (0.5 * len * angle.cos(), 0.5 * len * angle.sin());
                let margin = 2.0;
                let cx = uniform(&mut rng, margin + hx.abs(), s - 1.0 - margin - hx.abs());
                let cy = uniform(&mut rng, margin + hy.abs(), s - 1.0 - margin - hy.abs());
                Defect::Scratch {
                    x0: cx - hx,
                    y0: cy - hy,
                    x1: cx + hx,
                    y1: cy + hy,
                    half_width: 0.75 * s / 64.0,
                }
            }
        });
        Draw {
            size: spec.size,
            phase,
            brightness,
            noise,
            defect,
        }
    }

    /// The image as interleaved RGB bytes, with the defect when `with_defect`, and the mask
    /// (0 or 255 per pixel) of the defect.
    fn render(&self, with_defect: bool) -> (Vec<u8>, Vec<u8>) {
        let n = self.size;
        let period = period(n);
        let mut rgb = vec![0u8; n * n * 3];
        let mut mask = vec![0u8; n * n];
        for y in 0..n {
            for x in 0..n {
                let i = y * n + x;
                let defect = self.defect.as_ref().filter(|d| d.covers(x, y));
                let colour = match defect {
                    Some(d) => {
                        mask[i] = 255;
                        if with_defect {
                            Some(d.colour())
                        } else {
                            None
                        }
                    }
                    None => None,
                };
                let colour = colour.unwrap_or_else(|| {
                    let t = texture(x as f64 + self.phase.0, y as f64 + self.phase.1, period);
                    std::array::from_fn(|c| {
                        (DARK[c] + t * (LIGHT[c] - DARK[c]) * self.brightness).min(255.0)
                    })
                });
                for c in 0..3 {
                    let v = colour[c].round() as i32 + self.noise[i * 3 + c] as i32;
                    rgb[i * 3 + c] = v.clamp(0, 255) as u8;
                }
            }
        }
        (rgb, mask)
    }
}

/// The texture's period in pixels: 8 at 64 x 64 (8 threads across), scaled with the size.
fn period(size: usize) -> f64 {
    (size as f64 / 8.0).max(4.0)
}

/// The woven texture's brightness in `0..=1` at `(x, y)`: warp and weft threads crossing over
/// and under in a checkerboard of cells, each thread rounded across its width.
fn texture(x: f64, y: f64, period: f64) -> f64 {
    let half = period / 2.0;
    let (cx, cy) = ((x / half).floor() as i64, (y / half).floor() as i64);
    // Position across the thread in the cell, 0..1; a rounded profile peaking mid-thread.
    let (fx, fy) = (x / half - cx as f64, y / half - cy as f64);
    let (along_x, along_y) = ((PI * fx).sin(), (PI * fy).sin());
    let top = if (cx + cy).rem_euclid(2) == 0 {
        along_y // a horizontal (weft) thread on top: rounded across y
    } else {
        along_x // a vertical (warp) thread on top: rounded across x
    };
    (0.15 + 0.85 * top * top).clamp(0.0, 1.0)
}

/// Writes an interleaved RGB image.
fn save_rgb(path: &Path, size: usize, rgb: Vec<u8>) -> Result<(), DataError> {
    let im = image::RgbImage::from_raw(size as u32, size as u32, rgb).expect("size x size x 3");
    im.save(path)
        .map_err(|e| DataError::format(path, format!("cannot write PNG: {e}")))
}

/// Writes `dir/CATEGORY/{train/good, test/good, test/<defect>, ground_truth/<defect>/*_mask.png}`
/// as RGB PNGs (masks 8-bit, 0 / 255) and returns the category folder.
///
/// Files are written into a hidden folder beside it and renamed into place at the end, so a
/// failed run never leaves a partial category; an existing `dir/CATEGORY` is an error (remove
/// it first: the same spec writes the same bytes again).
pub fn write_synthetic_mvtec(
    dir: &Path,
    category: &str,
    spec: &SyntheticMvtec,
) -> Result<PathBuf, DataError> {
    use rayon::prelude::*;
    let target = dir.join(category);
    if spec.size < 16 {
        return Err(DataError::format(
            &target,
            format!(
                "synthetic size {} is too small: expected 16 or more",
                spec.size
            ),
        ));
    }
    if target.exists() {
        return Err(DataError::format(
            &target,
            "already exists: remove it to write the synthetic category again",
        ));
    }
    let tmp = dir.join(format!(".{category}.partial"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| DataError::io(&tmp, e))?;
    }
    // (folder, stream group, defect index, count)
    let mut groups: Vec<(PathBuf, u64, Option<usize>, usize)> = vec![
        (tmp.join("train/good"), 0, None, spec.train),
        (tmp.join("test/good"), 1, None, spec.test_good),
    ];
    for (k, d) in SYNTHETIC_DEFECTS.iter().enumerate() {
        groups.push((
            tmp.join("test").join(d),
            2 + k as u64,
            Some(k),
            spec.per_defect,
        ));
        std::fs::create_dir_all(tmp.join("ground_truth").join(d))
            .map_err(|e| DataError::io(&tmp, e))?;
    }
    let mut jobs = Vec::new();
    for (folder, group, defect, count) in &groups {
        std::fs::create_dir_all(folder).map_err(|e| DataError::io(folder, e))?;
        jobs.extend((0..*count).map(|i| (folder.clone(), *group, *defect, i)));
    }
    let written = jobs.par_iter().try_for_each(|(folder, group, defect, i)| {
        let draw = Draw::new(spec, (group << 32) | *i as u64, *defect);
        let (rgb, mask) = draw.render(true);
        save_rgb(&folder.join(format!("{i:03}.png")), spec.size, rgb)?;
        if let Some(k) = defect {
            let path = tmp
                .join("ground_truth")
                .join(SYNTHETIC_DEFECTS[*k])
                .join(format!("{i:03}_mask.png"));
            image::GrayImage::from_raw(spec.size as u32, spec.size as u32, mask)
                .expect("size x size")
                .save(&path)
                .map_err(|e| DataError::format(&path, format!("cannot write PNG: {e}")))?;
        }
        Ok(())
    });
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, &target).map_err(|e| DataError::io(&target, e))?;
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::mvtec::load_mvtec_category;
    use crate::data::FolderOptions;

    fn small(seed: u64) -> SyntheticMvtec {
        SyntheticMvtec {
            size: 64,
            train: 6,
            test_good: 3,
            per_defect: 2,
            seed,
        }
    }

    #[test]
    fn writes_the_layout_and_loads_back() {
        let d = tempfile::tempdir().unwrap();
        let spec = small(7);
        let c = write_synthetic_mvtec(d.path(), "weave", &spec).unwrap();
        assert_eq!(c, d.path().join("weave"));
        let count = |p: &str| std::fs::read_dir(c.join(p)).unwrap().count();
        assert_eq!(count("train/good"), 6);
        assert_eq!(count("test/good"), 3);
        for defect in SYNTHETIC_DEFECTS {
            assert_eq!(count(&format!("test/{defect}")), 2);
            assert_eq!(count(&format!("ground_truth/{defect}")), 2);
            assert!(c
                .join(format!("ground_truth/{defect}/001_mask.png"))
                .is_file());
        }
        assert!(!d.path().join(".weave.partial").exists());
        let cat = load_mvtec_category(
            &c,
            &FolderOptions {
                size: 64,
                allow_mixed_sizes: false,
                channels: None,
            },
        )
        .unwrap();
        assert_eq!(cat.name, "weave");
        assert_eq!(cat.train.shape, crate::ImageShape::new(3, 64, 64));
        assert_eq!(
            cat.test.class_names,
            vec!["good", "blob", "missing", "scratch"]
        );
        assert_eq!(cat.test.labels, vec![0, 0, 0, 1, 1, 2, 2, 3, 3]);
        assert!(cat.has_masks);
        // Loaded images and masks are what was drawn.
        let draw = Draw::new(&spec, (3 << 32) | 1, Some(1)); // missing, 001
        let (rgb, mask) = draw.render(true);
        let im = cat.test.image(6);
        for i in 0..64 * 64 {
            assert_eq!([im[i], im[4096 + i], im[8192 + i]], rgb[i * 3..i * 3 + 3]);
        }
        let m = cat.masks[6].as_ref().unwrap();
        assert_eq!(
            m.pixels,
            mask.iter().map(|&v| u8::from(v > 0)).collect::<Vec<_>>()
        );
        // Writing again over it is refused.
        let e = write_synthetic_mvtec(d.path(), "weave", &spec)
            .unwrap_err()
            .to_string();
        assert!(e.contains("weave") && e.contains("already exists"), "{e}");
    }

    #[test]
    fn deterministic_per_seed() {
        let d = tempfile::tempdir().unwrap();
        let a = write_synthetic_mvtec(d.path(), "a", &small(1)).unwrap();
        let b = write_synthetic_mvtec(d.path(), "b", &small(1)).unwrap();
        let c = write_synthetic_mvtec(d.path(), "c", &small(2)).unwrap();
        for f in [
            "train/good/004.png",
            "test/scratch/001.png",
            "ground_truth/blob/000_mask.png",
        ] {
            let read = |dir: &Path| std::fs::read(dir.join(f)).unwrap();
            assert_eq!(read(&a), read(&b), "{f}");
            assert_ne!(read(&a), read(&c), "{f}");
        }
        // An image does not depend on how many others there are.
        let more = SyntheticMvtec {
            train: 9,
            ..small(1)
        };
        let m = write_synthetic_mvtec(d.path(), "m", &more).unwrap();
        assert_eq!(
            std::fs::read(a.join("test/blob/001.png")).unwrap(),
            std::fs::read(m.join("test/blob/001.png")).unwrap()
        );
    }

    #[test]
    fn masks_cover_exactly_the_defects() {
        for size in [64, 256] {
            let spec = SyntheticMvtec { size, ..small(3) };
            for (k, name) in SYNTHETIC_DEFECTS.iter().enumerate() {
                for i in 0..4 {
                    let draw = Draw::new(&spec, ((2 + k as u64) << 32) | i, Some(k));
                    let (with, mask) = draw.render(true);
                    let (without, _) = draw.render(false);
                    let area = mask.iter().filter(|&&v| v > 0).count();
                    let frac = area as f64 / (size * size) as f64;
                    // Each defect is visible but local.
                    let (lo, hi) = match *name {
                        "blob" => (0.008, 0.05),
                        "missing" => (0.012, 0.07),
                        _ => (0.003, 0.03),
                    };
                    assert!(
                        (lo..hi).contains(&frac),
                        "{name} at {size}: {area} px = {frac:.4}"
                    );
                    let mut changed = 0;
                    for p in 0..size * size {
                        let px = |v: &[u8]| [v[p * 3], v[p * 3 + 1], v[p * 3 + 2]];
                        if mask[p] == 0 {
                            assert_eq!(px(&with), px(&without), "{name} outside the mask");
                        } else if px(&with) != px(&without) {
                            changed += 1;
                        }
                    }
                    // Almost every masked pixel changes colour (a hole may meet dark texture).
                    assert!(
                        changed * 10 >= area * 6,
                        "{name}: {changed} of {area} changed"
                    );
                }
            }
        }
        // Good images have no mask.
        let (_, mask) = Draw::new(&small(3), 5, None).render(true);
        assert!(mask.iter().all(|&v| v == 0));
    }

    /// Share of (defect, good) pairs that `score` orders correctly (ties count half): the
    /// image AUROC.
    fn auroc(defect: &[f64], good: &[f64]) -> f64 {
        let mut wins = 0.0;
        for d in defect {
            for g in good {
                wins += if d > g {
                    1.0
                } else if d == g {
                    0.5
                } else {
                    0.0
                };
            }
        }
        wins / (defect.len() * good.len()) as f64
    }

    #[test]
    fn defects_are_detectable_by_a_simple_baseline() {
        // A stand-in for the autoencoder (no deep learning in this crate): the distance to the
        // nearest training image. If that separates defect images from good ones, an AE that
        // has learnt the texture does too.
        let d = tempfile::tempdir().unwrap();
        let c = write_synthetic_mvtec(d.path(), "weave", &SyntheticMvtec::default()).unwrap();
        let cat = load_mvtec_category(
            &c,
            &FolderOptions {
                size: 64,
                allow_mixed_sizes: false,
                channels: Some(3),
            },
        )
        .unwrap();
        let dist = |a: &[u8], b: &[u8]| -> f64 {
            a.iter()
                .zip(b)
                .map(|(x, y)| (*x as f64 - *y as f64).powi(2))
                .sum()
        };
        let score: Vec<f64> = (0..cat.test.len())
            .map(|i| {
                (0..cat.train.len())
                    .map(|j| dist(cat.test.image(i), cat.train.image(j)))
                    .fold(f64::INFINITY, f64::min)
            })
            .collect();
        let of = |k: u16| -> Vec<f64> {
            (0..score.len())
                .filter(|&i| cat.test.labels[i] == k)
                .map(|i| score[i])
                .collect()
        };
        let good = of(0);
        assert_eq!(good.len(), 16);
        for k in 1..=3 {
            let a = auroc(&of(k), &good);
            assert!(
                a >= 0.8,
                "{}: nearest-neighbour AUROC {a:.3}",
                cat.test.class_names[k as usize]
            );
        }
    }
}
