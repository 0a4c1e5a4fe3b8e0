//! ssad-augment: the catalogue of augmentation functions (METHOD.md section 3).
//!
//! Every augmentation is named by a spec string that users type and results record:
//! `cutout`, `cutout(area=0.2)`, `cutout(width=0.2)`, `jitter(s=0.5)`, `mask(p=0.3)`,
//! `noise(std=0.05)`, `flip(p=1)`, and compositions such as `geom+cutout` (left to right).
//! [`parse`] reads one, `Display` prints it back, and the parsed [`AugSpec`] implements
//! [`ssad_core::augment::Augment`], so it runs a whole batch in parallel with
//! [`ssad_core::augment::augment_batch`], with per-sample draws fixed by (seed, epoch, index).
//!
//! ```
//! use ssad_augment::{parse, Category};
//! use ssad_core::{augment_batch, Batch, ImageShape};
//!
//! let spec = parse("geom+cutout(area=0.1)").unwrap();
//! assert_eq!(spec.to_string(), "geom+cutout(area=0.1)");
//! assert_eq!(spec.category(), Category::Mixed);
//! let mut batch = Batch { shape: ImageShape::new(1, 32, 32), data: vec![0.5; 4 * 1024] };
//! augment_batch(&spec, &mut batch, 7, 0, 0);
//! ```
//!
//! `cutout(c)`: the reference paper's text calls `c` a width while its code uses it as an
//! area; both are offered. `cutout(area=c)` erases a square of area fraction `c` (side
//! `round(sqrt(c * H * W))`, i.e. `round(sqrt(c) * W)` on square images); `cutout(width=c)`
//! erases a square of side `round(c * W)`. Either square sits at a uniformly random position
//! inside the image (`c = 1` erases the whole image).
//!
//! Your own augmentation: implement [`ssad_core::augment::Augment`] for your type; it works
//! wherever a built-in does, and [`Compose`] chains it with catalogue specs.
//!
//! Anomaly generators for controlled testbeds: [`generator`] gives the `gen` form (p = 1) of a
//! spec (`flip` = always flip upside down, `invert` = always invert, `cutout` = the default
//! cutout).

pub mod bench;
pub mod functional;
pub mod normal;
pub mod ops;
pub mod spec;
pub mod tunable;

pub use spec::{
    catalogue_entry, catalogue_names, parse, parse_list, AugSpec, AugStep, CatalogueEntry,
    CutoutSize, ParamInfo, SpecError, CATALOGUE,
};
pub use tunable::{is_self_tuned, tunable_family, SelfTunedSpec, TunableFamily, TUNABLE};

use serde::{Deserialize, Serialize};
use ssad_core::augment::{Augment, SampleRng};
use ssad_core::ImageShape;
use std::fmt;

/// Kind of augmentation, used to colour plots (METHOD.md section 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// The identity (`none`).
    #[serde(rename = "none")]
    Identity,
    /// Moves pixels around: crop, rotate, flip, geom.
    Geometric,
    /// Changes one region: cutout, cutpaste, cutpaste-scar.
    Local,
    /// Changes every value independently or locally: blur, noise, mask.
    Elementwise,
    /// Changes colours: invert, jitter.
    Colour,
    /// Several kinds at once: simclr and mixed compositions.
    Mixed,
}

impl Category {
    /// Every category, in plot-legend order.
    pub const ALL: [Category; 6] = [
        Category::Identity,
        Category::Geometric,
        Category::Local,
        Category::Elementwise,
        Category::Colour,
        Category::Mixed,
    ];

    /// Lower-case name (`none`, `geometric`, `local`, `elementwise`, `colour`, `mixed`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Category::Identity => "none",
            Category::Geometric => "geometric",
            Category::Local => "local",
            Category::Elementwise => "elementwise",
            Category::Colour => "colour",
            Category::Mixed => "mixed",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl Augment for AugSpec {
    fn apply(&self, image: &mut [f32], shape: ImageShape, rng: &mut SampleRng) {
        for step in self.steps() {
            step.apply(image, shape, rng);
        }
    }

    fn spec(&self) -> String {
        self.to_string()
    }

    fn is_identity(&self) -> bool {
        self.is_none()
    }
}

/// Applies several augmentations in turn (built-in specs and your own types alike).
#[derive(Debug)]
pub struct Compose {
    parts: Vec<Box<dyn Augment>>,
}

impl Compose {
    /// A composition applying `parts` left to right.
    pub fn new(parts: Vec<Box<dyn Augment>>) -> Self {
        Self { parts }
    }
}

impl Augment for Compose {
    fn apply(&self, image: &mut [f32], shape: ImageShape, rng: &mut SampleRng) {
        for p in &self.parts {
            p.apply(image, shape, rng);
        }
    }

    fn spec(&self) -> String {
        if self.parts.is_empty() {
            return "none".into();
        }
        self.parts
            .iter()
            .map(|p| p.spec())
            .collect::<Vec<_>>()
            .join("+")
    }

    fn is_identity(&self) -> bool {
        self.parts.iter().all(|p| p.is_identity())
    }
}

/// The anomaly generator `gen` of a controlled testbed: the spec with p = 1 (see
/// [`AugSpec::as_generator`]), e.g. `generator("flip")` always flips upside down.
pub fn generator(spec: &str) -> Result<Box<dyn Augment>, SpecError> {
    Ok(parse(spec)?.as_generator().build())
}

/// Every catalogue entry except `none`, parsed with its default parameters (what `ssad augment
/// preview` shows when no list is given).
pub fn catalogue_specs() -> Vec<AugSpec> {
    CATALOGUE
        .iter()
        .filter(|e| e.name != "none")
        .map(|e| parse(e.name).expect("catalogue names parse"))
        .collect()
}
