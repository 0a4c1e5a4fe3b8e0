//! Run keys: one training of a study's grid ([`RunKey`]) named by its dataset, normal class
//! ([`NormalClass`]), augmentation, seed and, for a self-tuned augmentation, the task it is
//! tuned on ([`TunedOn`]); and the ids and file-name slugs made from them ([`RunKey::id`],
//! [`file_slug`], [`dataset_slug`]).

use crate::testbed::TestbedName;
use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use ssad_core::data::DatasetName;

/// The normal class of a run, as its records, run ids and results rows name it: a built-in
/// dataset's class by its label (`3`), an MVTec-style dataset's category by its name
/// (`bottle`), never by its position in a folder listing, which moves when a category is
/// added or removed. Written as a JSON number or string (`"normal": 3`, `"normal": "bottle"`),
/// so the records and config hashes of built-in datasets are those of earlier versions.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum NormalClass {
    /// A built-in dataset's class label (`0..10`).
    Label(usize),
    /// An MVTec-style dataset's category (its folder name).
    Category(String),
}

impl std::fmt::Display for NormalClass {
    /// The label's number or the category's name.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NormalClass::Label(n) => write!(f, "{n}"),
            NormalClass::Category(name) => f.write_str(name),
        }
    }
}

impl NormalClass {
    /// The class `name` (a class or category name, or a number) of `dataset` as a study keys
    /// it: a label for a built-in dataset, a category name for an MVTec-style one (a number
    /// picks the category at that position of the current listing). Errors name the value
    /// and the dataset's classes.
    pub fn parse(dataset: &DatasetName, name: &str) -> anyhow::Result<Self> {
        let index = dataset.class_index(name)?;
        Ok(Self::of_index(dataset, index))
    }

    /// Class `index` of `dataset` as a study keys it (see [`NormalClass::parse`]); `index`
    /// must be valid.
    pub fn of_index(dataset: &DatasetName, index: usize) -> Self {
        if dataset.is_mvtec() {
            NormalClass::Category(
                dataset
                    .class_names()
                    .get(index)
                    .cloned()
                    .unwrap_or_else(|| index.to_string()),
            )
        } else {
            NormalClass::Label(index)
        }
    }

    /// The position of this class in `dataset`'s classes now (the label of a built-in class,
    /// the category's place in the folder's current listing), which the data loaders take. A
    /// category no longer in the folder, or a label where a category is expected (a record
    /// of an older ssad), is an error naming it and what the dataset has.
    pub fn index_in(&self, dataset: &DatasetName) -> anyhow::Result<usize> {
        match (self, dataset.is_mvtec()) {
            (NormalClass::Label(n), false) => {
                dataset.check_class(*n)?;
                Ok(*n)
            }
            (NormalClass::Category(name), true) => {
                let names = dataset.class_names();
                names.iter().position(|n| n == name).with_context(|| {
                    format!(
                        "category '{name}' is not in {dataset} (it has: {})",
                        names.join(", ")
                    )
                })
            }
            (NormalClass::Label(n), true) => bail!(
                "normal class {n} of {dataset} is a position, not a category name (a record of \
                 an older ssad): MVTec-style categories are named"
            ),
            (NormalClass::Category(name), false) => {
                bail!("{dataset} has numbered classes, not a category '{name}'")
            }
        }
    }

    /// The class's name: the category's, or the built-in label's (`0`..`9`, `t-shirt`, ...;
    /// the number when `dataset` has no such label).
    pub fn name_in(&self, dataset: &DatasetName) -> String {
        match self {
            NormalClass::Label(n) => dataset
                .class_names()
                .get(*n)
                .cloned()
                .unwrap_or_else(|| n.to_string()),
            NormalClass::Category(name) => name.clone(),
        }
    }

    /// Whether this is how a study of the current version keys a class of `dataset` (a label
    /// for a built-in dataset, a category name for an MVTec-style one); records of MVTec-style
    /// runs keyed by position (older ssad) are not.
    pub fn suits(&self, dataset: &DatasetName) -> bool {
        matches!(self, NormalClass::Category(_)) == dataset.is_mvtec()
    }

    /// The part of a run id naming the class: the label's number, or the category's name made
    /// file-name safe ([`file_slug`]) with a short hash of the name when that changed it.
    fn id_part(&self) -> String {
        match self {
            NormalClass::Label(n) => n.to_string(),
            NormalClass::Category(name) => {
                let slug = file_slug(name);
                if slug == *name {
                    slug
                } else {
                    let h = Sha256::digest(name.as_bytes());
                    format!("{slug}.{:02x}{:02x}{:02x}", h[0], h[1], h[2])
                }
            }
        }
    }
}

/// One training of the grid. Every testbed of the study is scored from this one training
/// (in-the-wild and controlled share the normal class's training images).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RunKey {
    /// Dataset.
    pub dataset: DatasetName,
    /// Normal class: a label, or an MVTec-style category's name.
    pub normal: NormalClass,
    /// Augmentation spec (canonical form).
    pub aug: String,
    /// Training seed.
    pub seed: u64,
    /// For a self-tuned augmentation (`cutout(area=auto)`), the task whose unlabelled test
    /// images tune it: one training per task, scored on that task alone. Absent otherwise
    /// (and then left out of the key's JSON, so fixed runs keep their ids and hashes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tuned_on: Option<TunedOn>,
}

/// The task a self-tuned run's augmentation is tuned on (transductively, on its test images
/// without their labels, as ST-SSAD does): the in-the-wild testbed, or one generator of the
/// controlled testbed (its anomalies beside the normal test images). Written `wild` or
/// `controlled:GEN`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum TunedOn {
    /// The in-the-wild testbed's test images (every anomaly class).
    Wild,
    /// The controlled testbed's normal test images and the anomalies of this generator (as
    /// the study's `gens` writes it).
    Controlled(String),
}

impl TunedOn {
    /// The testbed scored.
    pub fn testbed(&self) -> TestbedName {
        match self {
            TunedOn::Wild => TestbedName::Wild,
            TunedOn::Controlled(_) => TestbedName::Controlled,
        }
    }

    /// Whether a results pair of testbed `testbed` and anomaly group `anomaly` belongs to this
    /// task: every pair of the wild testbed; the generator's own pair of the controlled one.
    pub fn covers(&self, testbed: TestbedName, anomaly: &str) -> bool {
        match self {
            TunedOn::Wild => testbed == TestbedName::Wild,
            TunedOn::Controlled(g) => testbed == TestbedName::Controlled && anomaly == g,
        }
    }
}

impl std::fmt::Display for TunedOn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TunedOn::Wild => f.write_str("wild"),
            TunedOn::Controlled(g) => write!(f, "controlled:{g}"),
        }
    }
}

impl TryFrom<String> for TunedOn {
    type Error = anyhow::Error;
    fn try_from(s: String) -> anyhow::Result<Self> {
        match s.split_once(':') {
            None if s == "wild" => Ok(TunedOn::Wild),
            Some(("controlled", g)) if !g.is_empty() => Ok(TunedOn::Controlled(g.to_string())),
            _ => bail!("tuned_on '{s}': expected wild or controlled:GEN"),
        }
    }
}

impl From<TunedOn> for String {
    fn from(t: TunedOn) -> String {
        t.to_string()
    }
}

/// `text` made safe for a file name: ASCII letters, digits, `.` and `-` kept, anything else
/// replaced by `_` (e.g. `cutout(area=0.1)` -> `cutout_area_0.1_`).
pub fn file_slug(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The dataset part of file names: its name, or for a user's MVTec-style folder `mvtec-`
/// and a short hash of the folder's path (unique and file-name safe).
pub fn dataset_slug(dataset: &DatasetName) -> String {
    match dataset {
        DatasetName::Mvtec(Some(root)) => {
            let h = Sha256::digest(root.to_string_lossy().as_bytes());
            format!("mvtec-{:02x}{:02x}{:02x}{:02x}", h[0], h[1], h[2], h[3])
        }
        d => d.as_str().to_string(),
    }
}

impl RunKey {
    /// A file-name-safe, unique id: readable prefix plus a short hash of the spec.
    pub fn id(&self) -> String {
        // A self-tuned run's id names and hashes its task too (one training per task).
        let (named, hashed) = match &self.tuned_on {
            None => (self.aug.clone(), self.aug.clone()),
            Some(t) => (format!("{}-on-{t}", self.aug), format!("{}@{t}", self.aug)),
        };
        let slug = file_slug(&named);
        let h = Sha256::digest(hashed.as_bytes());
        format!(
            "{}-c{}-s{}-{}-{:02x}{:02x}{:02x}",
            dataset_slug(&self.dataset),
            self.normal.id_part(),
            self.seed,
            slug.trim_matches('_'),
            h[0],
            h[1],
            h[2]
        )
    }
}
