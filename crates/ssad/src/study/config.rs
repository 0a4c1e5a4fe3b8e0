//! Study configuration: the TOML file (or a built-in preset), its validation, and the expanded
//! grid of run keys (the keys themselves in [`super::run_key`], presets and sweeps in
//! [`super::sweep`]).

use crate::testbed::TestbedName;
use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use ssad_core::data::DatasetName;
use ssad_core::model::{DetectorKind, DetectorSpec, GeomConfig, ModelConfig, TransformSet};
use ssad_core::{ImageScore, TrainConfig};

pub use super::run_key::{dataset_slug, file_slug, NormalClass, RunKey, TunedOn};
pub use super::sweep::{expand_sweep, PRESETS};

/// A study: the grid of datasets x normal classes x augmentations x seeds, the testbeds each
/// trained model is scored on, and the model and training settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudyConfig {
    /// Name shown in summaries and reports.
    #[serde(default = "default_name")]
    pub name: String,
    /// Datasets (`mnist`, `fashion-mnist`, `cifar10`, `svhn`, `mvtec`, or `mvtec:PATH` for a
    /// folder in the MVTec AD layout; a relative PATH is relative to the study file's folder,
    /// and every spelling of one folder is normalised to its absolute, canonical path).
    pub datasets: Vec<DatasetName>,
    /// Testbeds every trained model is scored on: `wild` and/or `controlled`.
    #[serde(default = "default_testbeds")]
    pub testbeds: Vec<TestbedName>,
    /// Anomaly generators of the controlled testbed.
    #[serde(default = "default_gens")]
    pub gens: Vec<String>,
    /// Normal classes of the built-in datasets (default: all 10).
    #[serde(default = "default_classes")]
    pub normal_classes: Vec<usize>,
    /// Normal classes of MVTec-style datasets: category names (or numbers); empty (the
    /// default) = every category the dataset has.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    /// Image side every dataset is brought to (default: 32 for the built-in datasets, 256 for
    /// MVTec-style data). The ConvAE must suit it (`model.layout`, `model.blocks`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<usize>,
    /// Augmentation specs; sweeps such as `cutout(area=0.1..0.9 step 0.1)` expand to one spec
    /// per value. `none` (the vanilla baseline) is added when missing.
    pub augs: Vec<String>,
    /// Training seeds.
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    /// Train on at most this many images of the normal class (a seeded subsample).
    #[serde(default)]
    pub train_limit: Option<usize>,
    /// Save each trained model's weights under `models/` (needed by the report's figures).
    #[serde(default = "default_true")]
    pub save_models: bool,
    /// Save each run's test scores under `scores/`.
    #[serde(default = "default_true")]
    pub save_scores: bool,
    /// Detector family: `autoencoder` (default; `[model]`) or `geom` (the transformation
    /// classifier; `[geom]`).
    #[serde(default, skip_serializing_if = "is_autoencoder")]
    pub detector: DetectorKind,
    /// Detector architecture.
    #[serde(default)]
    pub model: ModelConfig,
    /// GEOM settings (when `detector = "geom"`). With `transforms = "aug"` the `augs` axis
    /// names the transformation set of each run (`geom` = the 72 GEOM transformations,
    /// `rotate` = the 4 rotations, `a` = {none, a}, the added `none` = {none}: every score 0,
    /// the chance baseline); with a fixed set, `augs` must be `["none"]`.
    #[serde(default, skip_serializing_if = "is_default_geom")]
    pub geom: GeomConfig,
    /// Training settings.
    #[serde(default)]
    pub train: TrainConfig,
    /// Parameter-step settings of the self-tuned augmentations in `augs`
    /// (`cutout(area=auto)`; METHOD.md section 8).
    #[serde(default, skip_serializing_if = "is_default_tune")]
    pub tune: ssad_core::TuneConfig,
    /// How the trained models' images are scored (`[score]`): one or more image scores, each
    /// a row of the results per trained model (no retraining).
    #[serde(default, skip_serializing_if = "ScoreSettings::is_default")]
    pub score: ScoreSettings,
}

/// A study's `[score]` table: the image scores every trained model is scored with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreSettings {
    /// The image scores ([`ImageScore`]: `mean`, `max(s=S)`, `topk(q)`), a list (a single
    /// string is a list of one); default `["mean"]`, the paper's. Each trained model is scored
    /// with each, making one results row per score (column `score`).
    #[serde(default = "default_image_scores", deserialize_with = "one_or_many")]
    pub image_score: Vec<ImageScore>,
}

impl Default for ScoreSettings {
    fn default() -> Self {
        Self {
            image_score: default_image_scores(),
        }
    }
}

impl ScoreSettings {
    /// True for the default (`mean` alone), which configs leave unwritten and run hashes
    /// leave out, so studies of earlier versions keep their hashes.
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

fn default_image_scores() -> Vec<ImageScore> {
    vec![ImageScore::Mean]
}

/// A list of image scores, or one written as a plain string.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<ImageScore>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    let texts = match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    };
    texts
        .iter()
        .map(|t| t.parse::<ImageScore>())
        .collect::<anyhow::Result<Vec<_>>>()
        .map_err(|e| serde::de::Error::custom(format!("score.image_score: {e:#}")))
}

fn default_name() -> String {
    "study".into()
}
fn default_testbeds() -> Vec<TestbedName> {
    vec![TestbedName::Wild, TestbedName::Controlled]
}
fn default_gens() -> Vec<String> {
    crate::testbed::DEFAULT_GENS
        .iter()
        .map(|s| s.to_string())
        .collect()
}
fn default_classes() -> Vec<usize> {
    (0..10).collect()
}
fn default_seeds() -> Vec<u64> {
    vec![0]
}
fn default_true() -> bool {
    true
}
fn is_autoencoder(d: &DetectorKind) -> bool {
    *d == DetectorKind::Autoencoder
}
fn is_default_tune(t: &ssad_core::TuneConfig) -> bool {
    *t == ssad_core::TuneConfig::default()
}
fn is_default_geom(g: &GeomConfig) -> bool {
    *g == GeomConfig::default()
}

impl StudyConfig {
    /// Parses a study TOML, naming the file in errors; a relative `mvtec:PATH` resolves
    /// against the current directory (see [`StudyConfig::from_toml_in`]).
    pub fn from_toml(text: &str, origin: &str) -> anyhow::Result<Self> {
        Self::from_toml_in(text, origin, std::path::Path::new("."))
    }

    /// Parses a study TOML, naming the file in errors. A relative `mvtec:PATH` in `datasets`
    /// resolves against `base` (the study file's folder), and every folder is normalised
    /// ([`ssad_core::data::normalize_folder`]: absolute, real path, no trailing separator),
    /// so that every spelling of one folder gives the same runs, run ids and hashes.
    pub fn from_toml_in(text: &str, origin: &str, base: &std::path::Path) -> anyhow::Result<Self> {
        let mut cfg: StudyConfig =
            toml::from_str(text).with_context(|| format!("invalid study config {origin}"))?;
        // The datasets again, as written, for the folders relative to `base`.
        let raw: toml::Table = toml::from_str(text)?;
        if let Some(toml::Value::Array(list)) = raw.get("datasets") {
            for (d, v) in cfg.datasets.iter_mut().zip(list) {
                if let Some(text) = v.as_str() {
                    *d = DatasetName::parse_in(text, base)
                        .with_context(|| format!("invalid study config {origin}"))?;
                }
            }
        }
        cfg.validate()
            .with_context(|| format!("invalid study config {origin}"))?;
        Ok(cfg)
    }

    /// A built-in preset by name.
    pub fn preset(name: &str) -> anyhow::Result<Self> {
        let Some((_, text)) = PRESETS.iter().find(|(n, _)| *n == name) else {
            let names: Vec<_> = PRESETS.iter().map(|(n, _)| *n).collect();
            bail!(
                "unknown preset '{name}': expected one of {}",
                names.join(", ")
            );
        };
        Self::from_toml(text, &format!("(preset {name})"))
    }

    /// A study from a TOML file (its relative folders resolved against the file's folder), or
    /// else the built-in preset `preset`; the error names what is missing or wrong.
    pub fn load(file: Option<&std::path::Path>, preset: Option<&str>) -> anyhow::Result<Self> {
        match (file, preset) {
            (Some(path), _) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read study file {}", path.display()))?;
                // Folders in the file are relative to the file's folder.
                let base = path
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(std::path::Path::new("."));
                Self::from_toml_in(&text, &path.display().to_string(), base)
            }
            (None, Some(p)) => Self::preset(p),
            (None, None) => {
                let names: Vec<_> = PRESETS.iter().map(|(n, _)| *n).collect();
                bail!(
                    "give a study file (ssad study run STUDY.toml) or --preset NAME ({})",
                    names.join(", ")
                )
            }
        }
    }

    /// Checks every value; errors name the field and what is allowed.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            !self.datasets.is_empty(),
            "datasets: list at least one dataset"
        );
        anyhow::ensure!(
            !self.augs.is_empty(),
            "augs: list at least one augmentation"
        );
        anyhow::ensure!(!self.seeds.is_empty(), "seeds: list at least one seed");
        anyhow::ensure!(
            !self.normal_classes.is_empty(),
            "normal_classes: list at least one class"
        );
        anyhow::ensure!(
            !self.testbeds.is_empty(),
            "testbeds: list wild and/or controlled"
        );
        for d in &self.datasets {
            self.normal_classes_of(d)?;
        }
        if let Some(size) = self.size {
            anyhow::ensure!(
                (8..=ssad_core::data::MAX_IMAGE_SIZE).contains(&size),
                "size must be in 8..={} pixels, got {size}",
                ssad_core::data::MAX_IMAGE_SIZE
            );
        }
        if self.detector == DetectorKind::Autoencoder {
            for d in &self.datasets {
                let shape = self.image_shape(d);
                self.model
                    .validate(shape)
                    .with_context(|| format!("model on {d} at {shape}"))?;
            }
        }
        for g in &self.gens {
            ssad_augment::parse(g).with_context(|| format!("gens: '{g}'"))?;
        }
        anyhow::ensure!(
            !self.testbeds.contains(&TestbedName::Controlled) || !self.gens.is_empty(),
            "gens: the controlled testbed needs at least one anomaly generator (e.g. gens = \
             [\"cutout\", \"flip\"]), or drop \"controlled\" from testbeds"
        );
        let augs = self.expanded_augs()?;
        if augs.iter().any(|a| ssad_augment::is_self_tuned(a)) {
            anyhow::ensure!(
                self.detector == DetectorKind::Autoencoder,
                "augs: self-tuned augmentations ({}) need the autoencoder detector; GEOM cannot \
                 self-tune",
                augs.iter()
                    .filter(|a| ssad_augment::is_self_tuned(a))
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            self.tune.validate().context("tune")?;
        }
        // Epochs, batch size, and every float that reaches the engine in the range it can
        // represent.
        self.train.validate(&ssad_core::TrainConfigNames::STUDY)?;
        self.validate_scores()?;
        if let Some(l) = self.train_limit {
            anyhow::ensure!(l >= 1, "train_limit must be at least 1");
        }
        if self.detector == DetectorKind::Geom {
            self.geom.validate_settings()?;
            if let TransformSet::Specs(list) = &self.geom.transforms {
                for spec in list {
                    ssad_augment::parse(spec)
                        .with_context(|| format!("geom.transforms: '{spec}'"))?;
                }
            }
            let augs = self.expanded_augs()?;
            anyhow::ensure!(
                self.geom.transforms == TransformSet::FromAug || augs.len() == 1,
                "augs: with geom.transforms = {} the transformation set is fixed and augs must be \
                 [\"none\"], got {augs:?}; set geom.transforms = \"aug\" to sweep transformation \
                 sets over augs",
                self.geom.transforms
            );
        }
        Ok(())
    }

    /// Checks `[score]`: at least one image score, each valid and listed once; a map-based
    /// one (`max`, `topk`) needs a detector that reconstructs (the autoencoder). Errors name
    /// the setting and the value.
    fn validate_scores(&self) -> anyhow::Result<()> {
        let scores = &self.score.image_score;
        anyhow::ensure!(
            !scores.is_empty(),
            "score.image_score: list at least one image score (e.g. [\"mean\", \"max(s=4)\"])"
        );
        for (i, s) in scores.iter().enumerate() {
            s.validate().context("score.image_score")?;
            anyhow::ensure!(
                !scores[..i].contains(s),
                "score.image_score: {s} is listed twice"
            );
            anyhow::ensure!(
                s.is_mean() || self.detector == DetectorKind::Autoencoder,
                "score.image_score: {s} needs a per-pixel error map, which the {} detector does \
                 not make: list only mean",
                self.detector
            );
        }
        Ok(())
    }

    /// The study's reference image score: `mean` when listed, else the first listed. Its
    /// results rows carry the plain augmentation names in the summary's paired tests, and the
    /// saved models keep it as their image score.
    pub fn reference_score(&self) -> ImageScore {
        let scores = &self.score.image_score;
        if scores.iter().any(ImageScore::is_mean) {
            ImageScore::Mean
        } else {
            scores.first().copied().unwrap_or_default()
        }
    }

    /// The augmentation specs after sweep expansion, canonicalised, `none` first.
    pub fn expanded_augs(&self) -> anyhow::Result<Vec<String>> {
        let mut out: Vec<String> = vec!["none".into()];
        for spec in &self.augs {
            for s in expand_sweep(spec)? {
                let canon = if ssad_augment::is_self_tuned(&s) {
                    ssad_augment::SelfTunedSpec::parse(&s, false)
                        .with_context(|| format!("augs: '{spec}'"))?
                        .to_string()
                } else {
                    ssad_augment::parse(&s)
                        .with_context(|| format!("augs: '{spec}'"))?
                        .to_string()
                };
                if !out.contains(&canon) {
                    out.push(canon);
                }
            }
        }
        Ok(out)
    }

    /// The normal classes of `dataset` in this study: `normal_classes` (labels) for the
    /// built-in datasets, `categories` (default: all, by name) for MVTec-style ones; errors
    /// name what is missing. A category listed twice (by name and by number) is one class.
    pub fn normal_classes_of(&self, dataset: &DatasetName) -> anyhow::Result<Vec<NormalClass>> {
        if dataset.is_mvtec() {
            if self.categories.is_empty() {
                dataset
                    .check_class(0)
                    .with_context(|| format!("dataset {dataset}: no MVTec-style category found"))?;
                return Ok(dataset
                    .class_names()
                    .into_iter()
                    .map(NormalClass::Category)
                    .collect());
            }
            let mut out: Vec<NormalClass> = Vec::new();
            for c in &self.categories {
                let class =
                    NormalClass::parse(dataset, c).with_context(|| format!("categories: '{c}'"))?;
                if !out.contains(&class) {
                    out.push(class);
                }
            }
            return Ok(out);
        }
        for &c in &self.normal_classes {
            dataset.check_class(c)?;
        }
        Ok(self
            .normal_classes
            .iter()
            .map(|&c| NormalClass::Label(c))
            .collect())
    }

    /// The shape of `dataset`'s images in this study (its channels, at `size` or its default
    /// size).
    pub fn image_shape(&self, dataset: &DatasetName) -> ssad_core::ImageShape {
        let side = self.size.unwrap_or_else(|| dataset.default_size());
        ssad_core::ImageShape::new(dataset.channels(), side, side)
    }

    /// Every run of the grid, ordered dataset, class, aug, seed (so consecutive runs share data).
    pub fn runs(&self) -> anyhow::Result<Vec<RunKey>> {
        let augs = self.expanded_augs()?;
        let mut runs = Vec::new();
        for dataset in &self.datasets {
            for normal in self.normal_classes_of(dataset)? {
                for aug in &augs {
                    for tuned_on in self.tuned_on_of(aug) {
                        for &seed in &self.seeds {
                            runs.push(RunKey {
                                dataset: dataset.clone(),
                                normal: normal.clone(),
                                aug: aug.clone(),
                                seed,
                                tuned_on: tuned_on.clone(),
                            });
                        }
                    }
                }
            }
        }
        Ok(runs)
    }

    /// The tasks an augmentation of `augs` trains for: `[None]` for a fixed spec (one
    /// training scored on every testbed); for a self-tuned one, one task per testbed of the
    /// study, the controlled testbed split by generator ([`TunedOn`]).
    pub fn tuned_on_of(&self, aug: &str) -> Vec<Option<TunedOn>> {
        if !ssad_augment::is_self_tuned(aug) {
            return vec![None];
        }
        let mut out = Vec::new();
        for t in &self.testbeds {
            match t {
                TestbedName::Wild => out.push(Some(TunedOn::Wild)),
                TestbedName::Controlled => out.extend(
                    self.gens
                        .iter()
                        .map(|g| Some(TunedOn::Controlled(g.clone()))),
                ),
            }
        }
        out
    }

    /// Hash of everything that changes a run's result (all but the grid lists): a record with
    /// another hash is stale and is redone on resume. The device and thread count are left
    /// out so a study can move between machines.
    pub fn run_config_hash(&self, key: &RunKey) -> String {
        let mut train = serde_json::json!(self.train);
        // Written as `""` and 0 since the first format, so old records keep their hash.
        train["device"] = serde_json::json!("");
        train["threads"] = serde_json::json!(0);
        let v = serde_json::json!({
            "key": key,
            "testbeds": self.testbeds,
            "gens": self.gens,
            "train_limit": self.train_limit,
            "model": self.model,
            "train": train,
            "testbed_version": 1,
        });
        // Only GEOM studies hash their detector settings, so autoencoder hashes are unchanged.
        let mut v = v;
        // Only studies that choose an image size hash it, so older hashes are unchanged.
        if let Some(size) = self.size {
            v["size"] = serde_json::json!(size);
        }
        // Only self-tuned runs hash the tuning settings, so other hashes are unchanged.
        if key.tuned_on.is_some() {
            v["tune"] = serde_json::json!(self.tune);
        }
        // Only studies that score with more than the paper's mean hash the image scores, so
        // older hashes are unchanged (a record holds the results of every listed score).
        if !self.score.is_default() {
            v["image_score"] = serde_json::json!(self.score.image_score);
        }
        if self.detector == DetectorKind::Geom {
            v["detector"] = serde_json::json!(self.detector);
            v["geom"] = serde_json::json!(self.geom);
        }
        let h = Sha256::digest(v.to_string().as_bytes());
        h.iter().take(8).map(|b| format!("{b:02x}")).collect()
    }

    /// The detector every run of this study builds.
    pub fn detector_spec(&self) -> DetectorSpec {
        DetectorSpec {
            kind: self.detector,
            model: self.model.clone(),
            geom: self.geom.clone(),
        }
    }

    /// The config as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a study config always serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeps_expand_inclusively_with_clean_numbers() {
        let v = expand_sweep("cutout(area=0.1..0.9 step 0.1)").unwrap();
        assert_eq!(v.len(), 9);
        assert_eq!(v[0], "cutout(area=0.1)");
        assert_eq!(v[2], "cutout(area=0.3)");
        assert_eq!(v[8], "cutout(area=0.9)");
        assert_eq!(expand_sweep("rotate").unwrap(), vec!["rotate"]);
        assert!(expand_sweep("cutout(area=0.9..0.1 step 0.1)").is_err());
        assert!(expand_sweep("cutout(area=0.1..x step 0.1)")
            .unwrap_err()
            .to_string()
            .contains("'x' is not a number"));
    }

    #[test]
    fn presets_parse_and_demo_grid_is_small() {
        for (name, _) in PRESETS {
            let cfg = StudyConfig::preset(name).unwrap();
            assert!(cfg.expanded_augs().unwrap()[0] == "none", "{name}");
        }
        let demo = StudyConfig::preset("demo").unwrap();
        assert_eq!(demo.runs().unwrap().len(), 16);
        let paper = StudyConfig::preset("paper").unwrap();
        assert_eq!(paper.train.epochs, 256);
        assert_eq!(paper.train.batch_size, 1024);
        assert_eq!(paper.runs().unwrap().len(), 4 * 10 * 14);
        let quick = StudyConfig::preset("quick").unwrap();
        assert_eq!(quick.expanded_augs().unwrap().len(), 14);
        // Each controlled-gen Wilcoxon test pairs datasets x classes x seeds tasks: at least 20.
        assert!(quick.datasets.len() * quick.normal_classes.len() * quick.seeds.len() >= 20);
        assert!(StudyConfig::preset("nope")
            .unwrap_err()
            .to_string()
            .contains("demo, quick, quick-sweep, paper"));
        // The sweep preset: vanilla + 5 cutout areas on 10 MNIST classes.
        let sweep = StudyConfig::preset("quick-sweep").unwrap();
        assert_eq!(sweep.runs().unwrap().len(), 60);
        assert_eq!(
            (sweep.model.clone(), sweep.train.epochs),
            (quick.model.clone(), quick.train.epochs)
        );
    }

    #[test]
    fn bad_configs_name_the_field() {
        let e = StudyConfig::from_toml("datasets = ['mnist']\naugs = ['cutout(area=2)']", "s.toml")
            .unwrap_err();
        assert!(format!("{e:#}").contains("cutout(area=2)"), "{e:#}");
        let e =
            StudyConfig::from_toml("datasets = ['mnst']\naugs = ['none']", "s.toml").unwrap_err();
        assert!(
            format!("{e:#}").contains("s.toml") && format!("{e:#}").contains("mnst"),
            "{e:#}"
        );
        let e = StudyConfig::from_toml(
            "datasets = ['mnist']\naugs = ['none']\nnormal_classes=[10]",
            "s.toml",
        )
        .unwrap_err();
        assert!(format!("{e:#}").contains("class 10"), "{e:#}");
        let e = StudyConfig::from_toml(
            "datasets = ['mnist']\naugs = ['none']\nepochs = 3",
            "s.toml",
        )
        .unwrap_err();
        assert!(format!("{e:#}").contains("epochs"), "{e:#}");
    }

    #[test]
    fn sizes_layouts_and_categories_are_checked_and_hashed() {
        let base = "datasets = ['mnist']\naugs = ['none']\nnormal_classes = [0]\n";
        let err = |extra: &str| {
            let e = StudyConfig::from_toml(&format!("{base}{extra}"), "s.toml").unwrap_err();
            format!("{e:#}")
        };
        assert!(
            err("size = 3").contains("size must be in 8..=4096"),
            "{}",
            err("size = 3")
        );
        // 48 is not a power of two: the stride-2 ConvAE needs explicit blocks.
        let e = err("size = 48");
        assert!(e.contains("1x48x48") && e.contains("model.blocks"), "{e}");
        let e = err("size = 64\n[model]\nlayout = 'stride3'");
        assert!(e.contains("stride3"), "{e}");
        // The MVTec layout's 3 stride-4 blocks need a multiple of 64.
        let e = err("size = 32\n[model]\nlayout = 'mvtec'");
        assert!(e.contains("multiple of 64"), "{e}");
        let ok =
            StudyConfig::from_toml(&format!("{base}size = 48\n[model]\nblocks = 4"), "s").unwrap();
        assert_eq!(ok.image_shape(&DatasetName::Mnist).height, 48);
        // Categories of MVTec-style data by name (the official names, no files needed).
        let mv = "datasets = ['mvtec']\naugs = ['none']\n[model]\nlayout = 'mvtec'\n";
        let cfg = StudyConfig::from_toml(&format!("categories = ['cable', 'zipper']\n{mv}"), "s")
            .unwrap();
        let runs = cfg.runs().unwrap();
        assert_eq!(
            runs.iter()
                .map(|r| r.normal.to_string())
                .collect::<Vec<_>>(),
            ["cable", "zipper"],
            "categories by name"
        );
        assert!(
            runs[0].id().starts_with("mvtec-ccable-s0-"),
            "{}",
            runs[0].id()
        );
        // A number picks the category at that place; one listed twice is one class.
        let cfg =
            StudyConfig::from_toml(&format!("categories = ['1', 'cable']\n{mv}"), "s").unwrap();
        assert_eq!(cfg.runs().unwrap(), runs[..1]);
        assert_eq!(cfg.image_shape(&runs[0].dataset).height, 256);
        let e = StudyConfig::from_toml(&format!("categories = ['cabel']\n{mv}"), "s").unwrap_err();
        assert!(format!("{e:#}").contains("cabel"), "{e:#}");
        // The size is hashed only when chosen, so older studies keep their hashes.
        let key = &StudyConfig::from_toml(base, "s").unwrap().runs().unwrap()[0];
        let plain = StudyConfig::from_toml(base, "s").unwrap();
        let sized = StudyConfig::from_toml(&format!("{base}size = 64"), "s").unwrap();
        assert_ne!(plain.run_config_hash(key), sized.run_config_hash(key));
        assert!(!plain.to_toml().contains("\nsize ="), "{}", plain.to_toml());
        // A user's folder gets a file-name-safe run id.
        let user = RunKey {
            dataset: "mvtec:/data/my parts".parse().unwrap(),
            normal: NormalClass::Category("my part#1".into()),
            aug: "none".into(),
            seed: 0,
            tuned_on: None,
        };
        let id = user.id();
        assert!(
            id.starts_with("mvtec-") && !id.contains('/') && !id.contains(' ') && !id.contains('#'),
            "{id}"
        );
        // Two names that make the same file name still make two ids.
        let other = RunKey {
            normal: NormalClass::Category("my_part_1".into()),
            ..user.clone()
        };
        assert_ne!(other.id(), id);
    }

    #[test]
    fn built_in_run_ids_and_hashes_are_those_of_earlier_versions() {
        // A label is written as the number it always was: ids and config hashes of the
        // built-in datasets stay bit for bit (measured before categories were named).
        let key = RunKey {
            dataset: DatasetName::Mnist,
            normal: NormalClass::Label(3),
            aug: "cutout(area=0.3)".into(),
            seed: 1,
            tuned_on: None,
        };
        assert_eq!(
            serde_json::to_string(&key).unwrap(),
            r#"{"dataset":"mnist","normal":3,"aug":"cutout(area=0.3)","seed":1}"#
        );
        // The config hash hashes the key as this JSON value: a usize 3 before, the label now.
        let old = serde_json::json!({"dataset": "mnist", "normal": 3usize,
            "aug": "cutout(area=0.3)", "seed": 1u64});
        assert_eq!(serde_json::to_value(&key).unwrap(), old);
        // The id as computed by hand from the documented format (SHA-256 of the spec).
        assert_eq!(key.id(), "mnist-c3-s1-cutout_area_0.3-0d1dd2");
        // Records of either kind read back as they were written.
        let cat: RunKey = serde_json::from_str(
            r#"{"dataset":"mvtec","normal":"metal_nut","aug":"none","seed":0}"#,
        )
        .unwrap();
        assert_eq!(cat.normal, NormalClass::Category("metal_nut".into()));
        assert!(cat.normal.suits(&cat.dataset) && key.normal.suits(&key.dataset));
        // A position-keyed MVTec record (older ssad) is recognised as such.
        let old: RunKey =
            serde_json::from_str(r#"{"dataset":"mvtec","normal":8,"aug":"none","seed":0}"#)
                .unwrap();
        assert!(!old.normal.suits(&old.dataset));
        let e = old.normal.index_in(&old.dataset).unwrap_err().to_string();
        assert!(e.contains("position"), "{e}");
    }

    #[test]
    fn image_scores_are_a_list_checked_and_hashed_only_when_not_mean() {
        let base = "datasets = ['mnist']\naugs = ['none']\nnormal_classes = [0]\n";
        let cfg = |extra: &str| StudyConfig::from_toml(&format!("{base}{extra}"), "s.toml");
        let plain = cfg("").unwrap();
        assert_eq!(plain.score.image_score, [ImageScore::Mean]);
        assert!(!plain.to_toml().contains("[score]"), "{}", plain.to_toml());
        let three = cfg("[score]\nimage_score = ['mean', 'max', 'topk(0.01)']").unwrap();
        assert_eq!(
            three
                .score
                .image_score
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>(),
            ["mean", "max(s=4)", "topk(0.01)"]
        );
        assert_eq!(three.reference_score(), ImageScore::Mean);
        // The same runs (no retraining per score); the hash changes only off the default.
        assert_eq!(three.runs().unwrap(), plain.runs().unwrap());
        let key = &plain.runs().unwrap()[0];
        assert_ne!(plain.run_config_hash(key), three.run_config_hash(key));
        let mean_only = cfg("[score]\nimage_score = ['mean']").unwrap();
        assert_eq!(plain.run_config_hash(key), mean_only.run_config_hash(key));
        // A single string is a list of one; the written config reads back the same.
        let one = cfg("[score]\nimage_score = 'max(s=2)'").unwrap();
        assert_eq!(one.score.image_score, [ImageScore::Max { sigma: 2.0 }]);
        assert_eq!(one.reference_score(), ImageScore::Max { sigma: 2.0 });
        assert_eq!(
            StudyConfig::from_toml(&three.to_toml(), "back").unwrap(),
            three
        );
        // Bad values are refused naming the value.
        for (extra, says) in [
            ("[score]\nimage_score = ['topk(0)']", "topk(0)"),
            ("[score]\nimage_score = ['mean', 'topk(1.5)']", "topk(1.5)"),
            ("[score]\nimage_score = ['max(s=-2)']", "max(s=-2)"),
            ("[score]\nimage_score = ['median']", "median"),
            ("[score]\nimage_score = []", "at least one"),
            (
                "[score]\nimage_score = ['max', 'max(s=4)']",
                "max(s=4) is listed twice",
            ),
            ("[score]\nimage_scores = ['max']", "image_scores"),
            (
                "detector = 'geom'\n[score]\nimage_score = ['mean', 'max']",
                "geom detector",
            ),
        ] {
            let e = format!("{:#}", cfg(extra).unwrap_err());
            assert!(e.contains(says) && e.contains("s.toml"), "{extra}: {e}");
        }
    }

    #[test]
    fn run_ids_are_unique_and_hash_tracks_config() {
        let cfg = StudyConfig::preset("quick").unwrap();
        let runs = cfg.runs().unwrap();
        let ids: std::collections::HashSet<_> = runs.iter().map(|r| r.id()).collect();
        assert_eq!(ids.len(), runs.len());
        let mut other = cfg.clone();
        other.train.epochs += 1;
        assert_ne!(
            cfg.run_config_hash(&runs[0]),
            other.run_config_hash(&runs[0])
        );
        let mut moved = cfg.clone();
        moved.train.device = ssad_core::Device::Cuda(1);
        assert_eq!(
            cfg.run_config_hash(&runs[0]),
            moved.run_config_hash(&runs[0])
        );
    }
}
