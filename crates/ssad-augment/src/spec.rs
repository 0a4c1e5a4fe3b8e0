//! Augmentation spec strings: the catalogue, parsing, printing and validation.
//!
//! Grammar (whitespace around tokens is ignored):
//!
//! ```text
//! spec  := step ( '+' step )*
//! step  := name [ '(' [ param ( ',' param )* ] ')' ]
//! param := key '=' number
//! ```
//!
//! Printing a parsed spec gives the canonical text (names and parameters as typed, numbers in
//! their shortest form), which parses back to an equal spec.

use crate::Category;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// One parameter an augmentation accepts: its key, default, valid range and meaning.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ParamInfo {
    /// The key typed in a spec (`p`, `area`, ...).
    pub key: &'static str,
    /// Value used when the key is absent (`None`: the key switches to another variant).
    pub default: Option<f64>,
    /// Smallest valid value.
    pub min: f64,
    /// Whether `min` itself is valid.
    pub min_inclusive: bool,
    /// Largest valid value.
    pub max: f64,
    /// What the parameter means.
    pub summary: &'static str,
}

impl ParamInfo {
    /// True when `v` lies in this parameter's valid range.
    pub fn accepts(&self, v: f64) -> bool {
        v.is_finite()
            && (if self.min_inclusive {
                v >= self.min
            } else {
                v > self.min
            })
            && v <= self.max
    }

    /// The valid range as text, e.g. `[0, 1]` or `(0, 1]`.
    pub fn range_text(&self) -> String {
        let lo = if self.min_inclusive { '[' } else { '(' };
        if self.max.is_infinite() {
            format!("{lo}{}, inf)", self.min)
        } else {
            format!("{lo}{}, {}]", self.min, self.max)
        }
    }
}

/// One augmentation of the catalogue: its spec name, category, parameters and a one-line summary.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CatalogueEntry {
    /// Name typed in a spec.
    pub name: &'static str,
    /// Category (plot colour).
    pub category: Category,
    /// Parameters it accepts.
    pub params: &'static [ParamInfo],
    /// One-line description of what it does (METHOD.md section 3).
    pub summary: &'static str,
}

const P_APPLY: ParamInfo = ParamInfo {
    key: "p",
    default: Some(0.5),
    min: 0.0,
    min_inclusive: true,
    max: 1.0,
    summary: "probability of applying it",
};

/// Every built-in augmentation, in the order of METHOD.md section 3.
pub const CATALOGUE: &[CatalogueEntry] = &[
    CatalogueEntry { name: "none", category: Category::Identity, params: &[], summary: "identity (the vanilla autoencoder)" },
    CatalogueEntry {
        name: "crop",
        category: Category::Geometric,
        params: &[],
        summary: "random resized crop: area U(0.08, 1), aspect log-U(3/4, 4/3), bilinear resize back",
    },
    CatalogueEntry {
        name: "rotate",
        category: Category::Geometric,
        params: &[ParamInfo {
            key: "angle",
            default: None,
            min: -180.0,
            min_inclusive: false,
            max: 180.0,
            summary: "rotate every image by exactly this many degrees counter-clockwise (nearest, zero fill)",
        }],
        summary: "rotate by an angle drawn from {-90, 0, 90, 180} degrees (or by `angle` exactly)",
    },
    CatalogueEntry {
        name: "flip",
        category: Category::Geometric,
        params: &[P_APPLY],
        summary: "vertical (upside-down) flip with probability p (0.5)",
    },
    CatalogueEntry {
        name: "geom",
        category: Category::Geometric,
        params: &[],
        summary: "horizontal flip p=0.5, translate by {0, +-W/4} on each axis with zero fill, then rotate",
    },
    CatalogueEntry {
        name: "cutout",
        category: Category::Local,
        params: &[
            ParamInfo {
                key: "area",
                default: None,
                min: 0.0,
                min_inclusive: false,
                max: 1.0,
                summary: "erase a square of this area fraction (side round(sqrt(area)*W))",
            },
            ParamInfo {
                key: "width",
                default: None,
                min: 0.0,
                min_inclusive: false,
                max: 1.0,
                summary: "erase a square of this width fraction (side round(width*W))",
            },
        ],
        summary: "erase one rectangle to 0: area U(0.02, 0.33), aspect log-U(0.3, 3.3)",
    },
    CatalogueEntry {
        name: "cutpaste",
        category: Category::Local,
        params: &[],
        summary: "cut a patch (area U(0.02, 0.15)), colour-jitter it by 0.1, paste it elsewhere",
    },
    CatalogueEntry {
        name: "cutpaste-scar",
        category: Category::Local,
        params: &[],
        summary: "thin patch (h 10..24, w 2..15), jitter 0.1, rotate U(-45, 45) degrees, paste elsewhere",
    },
    CatalogueEntry {
        name: "blur",
        category: Category::Elementwise,
        params: &[],
        summary: "Gaussian blur, kernel 2*floor(floor(0.1*W)/2)+1, sigma U(0.1, 2.0)",
    },
    CatalogueEntry {
        name: "noise",
        category: Category::Elementwise,
        params: &[ParamInfo {
            key: "std",
            default: Some(0.1),
            min: 0.0,
            min_inclusive: true,
            max: f64::INFINITY,
            summary: "standard deviation of the added noise",
        }],
        summary: "add N(0, std^2) to every value (std 0.1, no clamp)",
    },
    CatalogueEntry {
        name: "mask",
        category: Category::Elementwise,
        params: &[ParamInfo {
            key: "p",
            default: Some(0.1),
            min: 0.0,
            min_inclusive: true,
            max: 1.0,
            summary: "probability of zeroing each value",
        }],
        summary: "set each value to 0 with probability p (0.1)",
    },
    CatalogueEntry {
        name: "invert",
        category: Category::Colour,
        params: &[P_APPLY],
        summary: "1 - x with probability p (0.5)",
    },
    CatalogueEntry {
        name: "jitter",
        category: Category::Colour,
        params: &[ParamInfo {
            key: "s",
            default: Some(1.0),
            min: 0.0,
            min_inclusive: true,
            max: 2.5,
            summary: "strength: brightness/contrast/saturation 0.8*s, hue 0.2*s",
        }],
        summary: "colour jitter: brightness, contrast, saturation U(0.2, 1.8), hue U(-0.2, 0.2), random order",
    },
    CatalogueEntry {
        name: "simclr",
        category: Category::Mixed,
        params: &[],
        summary: "resized crop, h-flip 0.5, jitter(0.8,0.8,0.8,0.2) p=0.8, grayscale p=0.2, blur",
    },
];

/// The catalogue entry named `name`, if any.
pub fn catalogue_entry(name: &str) -> Option<&'static CatalogueEntry> {
    CATALOGUE.iter().find(|e| e.name == name)
}

/// Size rule of a `cutout` step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CutoutSize {
    /// The reference `cutout`: area fraction U(0.02, 0.33), aspect log-U(0.3, 3.3).
    Random,
    /// `cutout(area=c)`: a square of area fraction `c`, side `round(sqrt(c) * W)` (what the
    /// reference code's `cutout-c` does).
    Area(f64),
    /// `cutout(width=c)`: a square of side `round(c * W)` (what the paper's text calls `c`).
    Width(f64),
}

/// One step of a spec: a catalogue augmentation with its parameters as given (`None` = default).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AugStep {
    /// `none`: identity.
    None,
    /// `crop`: random resized crop.
    Crop,
    /// `rotate`: rotation by one of {-90, 0, 90, 180} degrees, or by exactly `angle` degrees
    /// counter-clockwise when given (the controlled testbed's rotation of known angle, and the
    /// catalogue's counterpart of the self-tuned `rotate(angle=auto)`).
    Rotate {
        /// Fixed angle in degrees (`None`: a random quarter turn).
        angle: Option<f64>,
    },
    /// `flip`: vertical flip with probability `p` (default 0.5).
    Flip {
        /// Probability of flipping.
        p: Option<f64>,
    },
    /// `geom`: horizontal flip, quarter-width translation, rotation.
    Geom,
    /// `cutout`: erase one rectangle.
    Cutout {
        /// How the rectangle's size is chosen.
        size: CutoutSize,
    },
    /// `cutpaste`: cut, jitter and paste a rectangular patch.
    CutPaste,
    /// `cutpaste-scar`: cut, jitter, rotate and paste a thin patch.
    CutPasteScar,
    /// `blur`: Gaussian blur with a random sigma.
    Blur,
    /// `noise`: additive Gaussian noise of standard deviation `std` (default 0.1).
    Noise {
        /// Noise standard deviation.
        std: Option<f64>,
    },
    /// `mask`: zero each value with probability `p` (default 0.1).
    Mask {
        /// Probability of zeroing a value.
        p: Option<f64>,
    },
    /// `invert`: `1 - x` with probability `p` (default 0.5).
    Invert {
        /// Probability of inverting.
        p: Option<f64>,
    },
    /// `jitter`: colour jitter of strength `s` (default 1).
    Jitter {
        /// Strength scaling all four jitter ranges.
        s: Option<f64>,
    },
    /// `simclr`: the SimCLR pipeline.
    SimClr,
}

impl AugStep {
    /// The catalogue name of this step.
    pub fn name(&self) -> &'static str {
        match self {
            AugStep::None => "none",
            AugStep::Crop => "crop",
            AugStep::Rotate { .. } => "rotate",
            AugStep::Flip { .. } => "flip",
            AugStep::Geom => "geom",
            AugStep::Cutout { .. } => "cutout",
            AugStep::CutPaste => "cutpaste",
            AugStep::CutPasteScar => "cutpaste-scar",
            AugStep::Blur => "blur",
            AugStep::Noise { .. } => "noise",
            AugStep::Mask { .. } => "mask",
            AugStep::Invert { .. } => "invert",
            AugStep::Jitter { .. } => "jitter",
            AugStep::SimClr => "simclr",
        }
    }

    /// The catalogue entry of this step.
    pub fn entry(&self) -> &'static CatalogueEntry {
        catalogue_entry(self.name()).expect("every step has a catalogue entry")
    }

    /// Category of this step.
    pub fn category(&self) -> Category {
        self.entry().category
    }

    /// The parameters given explicitly, as (key, value) pairs in canonical order.
    pub fn explicit_params(&self) -> Vec<(&'static str, f64)> {
        match *self {
            AugStep::Flip { p: Some(v) }
            | AugStep::Mask { p: Some(v) }
            | AugStep::Invert { p: Some(v) } => {
                vec![("p", v)]
            }
            AugStep::Noise { std: Some(v) } => vec![("std", v)],
            AugStep::Rotate { angle: Some(v) } => vec![("angle", v)],
            AugStep::Jitter { s: Some(v) } => vec![("s", v)],
            AugStep::Cutout {
                size: CutoutSize::Area(v),
            } => vec![("area", v)],
            AugStep::Cutout {
                size: CutoutSize::Width(v),
            } => vec![("width", v)],
            _ => Vec::new(),
        }
    }

    /// Builds a step from its name and explicit parameters, checking names and ranges.
    pub fn from_parts(name: &str, params: &[(String, f64)]) -> Result<AugStep, SpecError> {
        let entry = catalogue_entry(name).ok_or_else(|| SpecError::UnknownName {
            name: name.to_string(),
            allowed: catalogue_names(),
        })?;
        for (i, (key, value)) in params.iter().enumerate() {
            let info = entry.params.iter().find(|p| p.key == key).ok_or_else(|| {
                SpecError::UnknownParam {
                    name: entry.name.to_string(),
                    param: key.clone(),
                    allowed: params_text(entry),
                }
            })?;
            if params[..i].iter().any(|(k, _)| k == key) {
                return Err(SpecError::DuplicateParam {
                    name: entry.name.to_string(),
                    param: key.clone(),
                });
            }
            if !info.accepts(*value) {
                return Err(SpecError::OutOfRange {
                    name: entry.name.to_string(),
                    param: key.clone(),
                    value: *value,
                    range: info.range_text(),
                });
            }
        }
        let get = |k: &str| params.iter().find(|(key, _)| key == k).map(|(_, v)| *v);
        Ok(match entry.name {
            "none" => AugStep::None,
            "crop" => AugStep::Crop,
            "rotate" => AugStep::Rotate {
                angle: get("angle"),
            },
            "flip" => AugStep::Flip { p: get("p") },
            "geom" => AugStep::Geom,
            "cutout" => {
                let size = match (get("area"), get("width")) {
                    (None, None) => CutoutSize::Random,
                    (Some(a), None) => CutoutSize::Area(a),
                    (None, Some(w)) => CutoutSize::Width(w),
                    (Some(_), Some(_)) => {
                        return Err(SpecError::ConflictingParams {
                            name: "cutout".into(),
                            message: "give either area=c or width=c, not both".into(),
                        })
                    }
                };
                AugStep::Cutout { size }
            }
            "cutpaste" => AugStep::CutPaste,
            "cutpaste-scar" => AugStep::CutPasteScar,
            "blur" => AugStep::Blur,
            "noise" => AugStep::Noise { std: get("std") },
            "mask" => AugStep::Mask { p: get("p") },
            "invert" => AugStep::Invert { p: get("p") },
            "jitter" => AugStep::Jitter { s: get("s") },
            "simclr" => AugStep::SimClr,
            other => unreachable!("catalogue entry {other} has no step"),
        })
    }

    /// Checks the parameters of a step built by hand (the same checks `parse` makes).
    pub fn validate(&self) -> Result<(), SpecError> {
        let params: Vec<(String, f64)> = self
            .explicit_params()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        AugStep::from_parts(self.name(), &params).map(|_| ())
    }
}

impl fmt::Display for AugStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())?;
        let params = self.explicit_params();
        if !params.is_empty() {
            f.write_str("(")?;
            for (i, (k, v)) in params.iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                write!(f, "{k}={v}")?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// A parsed augmentation spec: one or more catalogue steps applied left to right.
///
/// `Display` prints the canonical spec text and `FromStr`/[`parse`] read it back; serde
/// (de)serialises it as that string. `AugSpec` implements [`ssad_core::augment::Augment`].
#[derive(Clone, Debug, PartialEq)]
pub struct AugSpec {
    steps: Vec<AugStep>,
}

impl AugSpec {
    /// A spec from steps built by hand, validated like a parsed one.
    pub fn new(steps: Vec<AugStep>) -> Result<AugSpec, SpecError> {
        if steps.is_empty() {
            return Err(SpecError::Empty);
        }
        for s in &steps {
            s.validate()?;
        }
        Ok(AugSpec { steps })
    }

    /// The identity spec `none`.
    pub fn none() -> AugSpec {
        AugSpec {
            steps: vec![AugStep::None],
        }
    }

    /// The steps, in the order they are applied.
    pub fn steps(&self) -> &[AugStep] {
        &self.steps
    }

    /// The category used for plot colours: the steps' common category, `mixed` when they
    /// differ (identity steps are ignored), `none` for the identity.
    pub fn category(&self) -> Category {
        let mut cats = self
            .steps
            .iter()
            .map(AugStep::category)
            .filter(|c| *c != Category::Identity);
        match cats.next() {
            None => Category::Identity,
            Some(first) => {
                if cats.all(|c| c == first) {
                    first
                } else {
                    Category::Mixed
                }
            }
        }
    }

    /// True when every step is `none`.
    pub fn is_none(&self) -> bool {
        self.steps.iter().all(|s| *s == AugStep::None)
    }

    /// The composition `self + other` (self first).
    pub fn then(&self, other: &AugSpec) -> AugSpec {
        let mut steps = self.steps.clone();
        steps.extend_from_slice(&other.steps);
        AugSpec { steps }
    }

    /// The anomaly-generator form (`gen`, METHOD.md section 4): `flip` and `invert` steps
    /// without an explicit `p` get `p = 1`; every other step is unchanged (they always apply).
    pub fn as_generator(&self) -> AugSpec {
        let steps = self
            .steps
            .iter()
            .map(|s| match *s {
                AugStep::Flip { p: None } => AugStep::Flip { p: Some(1.0) },
                AugStep::Invert { p: None } => AugStep::Invert { p: Some(1.0) },
                other => other,
            })
            .collect();
        AugSpec { steps }
    }

    /// A boxed augmentation that applies this spec.
    pub fn build(&self) -> Box<dyn ssad_core::augment::Augment> {
        Box::new(self.clone())
    }
}

impl fmt::Display for AugSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.steps.iter().enumerate() {
            if i > 0 {
                f.write_str("+")?;
            }
            write!(f, "{s}")?;
        }
        Ok(())
    }
}

impl FromStr for AugSpec {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
    }
}

impl Serialize for AugSpec {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AugSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse(&text).map_err(serde::de::Error::custom)
    }
}

/// What is wrong with a spec string; every message says what is allowed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SpecError {
    /// The spec (or one step of it) is empty.
    #[error(
        "empty augmentation spec; expected a name such as cutout or geom+cutout (known: {})",
        catalogue_names()
    )]
    Empty,
    /// A name not in the catalogue.
    #[error("unknown augmentation '{name}'; known augmentations: {allowed}")]
    UnknownName {
        /// The name given.
        name: String,
        /// The catalogue's names.
        allowed: String,
    },
    /// A parameter the augmentation does not take.
    #[error("augmentation '{name}' has no parameter '{param}'; it accepts: {allowed}")]
    UnknownParam {
        /// The augmentation.
        name: String,
        /// The parameter given.
        param: String,
        /// Its parameters with their ranges.
        allowed: String,
    },
    /// A parameter given twice.
    #[error("parameter '{param}' of '{name}' is given more than once")]
    DuplicateParam {
        /// The augmentation.
        name: String,
        /// The repeated parameter.
        param: String,
    },
    /// A parameter value outside its valid range.
    #[error("{name}({param}={value}) is out of range: {param} must be in {range}")]
    OutOfRange {
        /// The augmentation.
        name: String,
        /// The parameter.
        param: String,
        /// The value given.
        value: f64,
        /// The valid range.
        range: String,
    },
    /// Parameters that cannot be given together.
    #[error("{name}: {message}")]
    ConflictingParams {
        /// The augmentation.
        name: String,
        /// What conflicts.
        message: String,
    },
    /// Text that does not follow the spec grammar.
    #[error("cannot parse augmentation spec '{spec}': {message} (expected e.g. cutout, cutout(area=0.2), geom+cutout)")]
    Syntax {
        /// The whole spec text.
        spec: String,
        /// What is wrong.
        message: String,
    },
}

/// The catalogue's names, comma-separated (for messages and `--help`).
pub fn catalogue_names() -> String {
    CATALOGUE
        .iter()
        .map(|e| e.name)
        .collect::<Vec<_>>()
        .join(", ")
}

fn params_text(entry: &CatalogueEntry) -> String {
    if entry.params.is_empty() {
        return "no parameters".into();
    }
    entry
        .params
        .iter()
        .map(|p| format!("{} in {} ({})", p.key, p.range_text(), p.summary))
        .collect::<Vec<_>>()
        .join("; ")
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

fn parse_step(spec: &str, text: &str) -> Result<AugStep, SpecError> {
    let syntax = |message: String| SpecError::Syntax {
        spec: spec.to_string(),
        message,
    };
    let text = text.trim();
    if text.is_empty() {
        return Err(if spec.trim().is_empty() {
            SpecError::Empty
        } else {
            syntax("empty step (is there a stray '+'?)".into())
        });
    }
    let (name, args) = match text.find('(') {
        None => (text, None),
        Some(open) => {
            let rest = &text[open + 1..];
            let close = rest
                .rfind(')')
                .ok_or_else(|| syntax(format!("missing ')' in '{text}'")))?;
            if !rest[close + 1..].trim().is_empty() {
                return Err(syntax(format!("unexpected text after ')' in '{text}'")));
            }
            (text[..open].trim(), Some(&rest[..close]))
        }
    };
    if let Some(bad) = name.chars().find(|c| !is_name_char(*c)) {
        return Err(syntax(format!(
            "unexpected character '{bad}' in name '{name}'"
        )));
    }
    if name.is_empty() {
        return Err(syntax(format!("missing name before '(' in '{text}'")));
    }
    // Check the name before the parameters so a typo gets the list of names.
    let entry = catalogue_entry(name).ok_or_else(|| SpecError::UnknownName {
        name: name.to_string(),
        allowed: catalogue_names(),
    })?;
    let mut params = Vec::new();
    if let Some(args) = args {
        if args.contains('(') || args.contains(')') {
            return Err(syntax(format!("nested parentheses in '{text}'")));
        }
        if !args.trim().is_empty() {
            for item in args.split(',') {
                let (key, value) = item.split_once('=').ok_or_else(|| {
                    syntax(format!(
                        "expected key=value in '{}', got '{}'",
                        text,
                        item.trim()
                    ))
                })?;
                let key = key.trim();
                let value_text = value.trim();
                if key.is_empty() {
                    return Err(syntax(format!(
                        "missing parameter name before '=' in '{text}'"
                    )));
                }
                if value_text == "auto" || value_text.starts_with("auto(") {
                    // A parameter to tune during training (ST-SSAD) is not a fixed spec.
                    return Err(syntax(format!(
                        "{}({key}={value_text}) asks for a self-tuned parameter, which only \
                         a training finds: use it in `ssad train`, `ssad fit`, `ssad tune` or \
                         a study's augs (an augmentation applied here needs a number)",
                        entry.name
                    )));
                }
                let value: f64 = value_text
                    .parse()
                    .ok()
                    .filter(|v: &f64| v.is_finite())
                    .ok_or_else(|| {
                        syntax(format!(
                            "value '{value_text}' of {}({key}=...) is not a finite number",
                            entry.name
                        ))
                    })?;
                params.push((key.to_string(), value));
            }
        }
    }
    AugStep::from_parts(name, &params)
}

/// Parses a spec such as `cutout`, `cutout(area=0.2)`, `jitter(s=0.5)` or `geom+cutout`.
pub fn parse(spec: &str) -> Result<AugSpec, SpecError> {
    if spec.trim().is_empty() {
        return Err(SpecError::Empty);
    }
    let steps = spec
        .split('+')
        .map(|part| parse_step(spec, part))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(AugSpec { steps })
}

/// Parses a comma-separated list of specs (`cutpaste,rotate,cutout(area=0.2)`); commas inside
/// parentheses belong to a step's parameters.
pub fn parse_list(list: &str) -> Result<Vec<AugSpec>, SpecError> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in list.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(parse(&list[start..i])?);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(parse(&list[start..])?);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_augmentation_works_at_256_with_size_relative_parameters() {
        // Pixel-sized parameters follow the reference definitions: blur's kernel is
        // 2 * floor(floor(0.1 W) / 2) + 1 (25 at W = 256), geom translates by W / 4 (64 px),
        // cutpaste-scar keeps its fixed pixel ranges (10..=24 x 2..=15, as the reference's
        // CutPasteScar does at any size).
        assert_eq!(crate::functional::blur_kernel_size(256), 25);
        assert_eq!(crate::functional::blur_kernel_size(128), 13);
        let shape = ssad_core::ImageShape::new(3, 256, 256);
        let base: Vec<f32> = (0..shape.numel())
            .map(|i| ((i * 7919) % 251) as f32 / 250.0)
            .collect();
        for entry in CATALOGUE {
            let aug = parse(entry.name).unwrap().build();
            for k in 0..4 {
                let mut img = base.clone();
                let mut rng = ssad_core::augment::sample_rng(1, 0, k);
                aug.apply(&mut img, shape, &mut rng);
                assert!(img.iter().all(|v| v.is_finite()), "{}", entry.name);
            }
        }
        // geom with only a translation draw: an image that is 1 in its left column moves
        // that column by exactly 0 or +-64 pixels (or out of the canvas).
        let shape = ssad_core::ImageShape::new(1, 256, 256);
        let aug = parse("geom").unwrap().build();
        for k in 0..16 {
            let mut img = vec![0f32; shape.numel()];
            for r in 0..256 {
                img[r * 256 + 100] = 1.0;
            }
            let mut rng = ssad_core::augment::sample_rng(2, 0, k);
            aug.apply(&mut img, shape, &mut rng);
            // After flips and quarter turns the line is a row or a column; its offset from
            // the nearest edge is one of 100, 155 (flipped), shifted by 0 or +-64.
            let ones: usize = img.iter().filter(|&&v| v == 1.0).count();
            assert!(ones == 0 || ones == 256 - 64 || ones == 256, "{ones}");
        }
    }

    #[test]
    fn canonical_specs_round_trip_literally() {
        for s in [
            "none",
            "cutout",
            "cutout(area=0.2)",
            "cutout(width=0.2)",
            "jitter(s=0.5)",
            "mask(p=0.3)",
            "noise(std=0.05)",
            "flip(p=1)",
            "invert(p=0)",
            "geom+cutout",
            "cutpaste-scar+blur+mask(p=0.25)",
            "simclr",
        ] {
            let parsed = parse(s).unwrap();
            assert_eq!(parsed.to_string(), s);
            assert_eq!(parse(&parsed.to_string()).unwrap(), parsed);
        }
    }

    #[test]
    fn whitespace_and_number_forms_normalise() {
        let a = parse(" geom + cutout( area = 2e-1 ) ").unwrap();
        assert_eq!(a.to_string(), "geom+cutout(area=0.2)");
        assert_eq!(
            a.steps(),
            &[
                AugStep::Geom,
                AugStep::Cutout {
                    size: CutoutSize::Area(0.2)
                }
            ]
        );
        assert_eq!(parse("jitter(s=1.0)").unwrap().to_string(), "jitter(s=1)");
        assert_eq!(parse("mask()").unwrap(), parse("mask").unwrap());
    }

    #[test]
    fn serde_uses_the_spec_string() {
        let spec = parse("geom+cutout(width=0.3)").unwrap();
        let json = serde_json::to_string(&spec).unwrap();
        assert_eq!(json, "\"geom+cutout(width=0.3)\"");
        let back: AugSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(back, spec);
        let err = serde_json::from_str::<AugSpec>("\"cutot\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown augmentation 'cutot'"), "{err}");
    }

    #[test]
    fn errors_name_the_problem_and_what_is_allowed() {
        let e = parse("cutot").unwrap_err();
        assert!(matches!(e, SpecError::UnknownName { .. }));
        let msg = e.to_string();
        assert!(
            msg.contains("cutot") && msg.contains("cutpaste-scar") && msg.contains("simclr"),
            "{msg}"
        );

        let msg = parse("cutout(area=1.5)").unwrap_err().to_string();
        assert_eq!(
            msg,
            "cutout(area=1.5) is out of range: area must be in (0, 1]"
        );
        let msg = parse("mask(p=-0.1)").unwrap_err().to_string();
        assert_eq!(msg, "mask(p=-0.1) is out of range: p must be in [0, 1]");
        assert!(parse("cutout(area=0)").is_err());
        assert!(parse("jitter(s=3)")
            .unwrap_err()
            .to_string()
            .contains("[0, 2.5]"));

        let msg = parse("jitter(p=0.5)").unwrap_err().to_string();
        assert!(
            msg.contains("no parameter 'p'") && msg.contains("s in [0, 2.5]"),
            "{msg}"
        );
        let msg = parse("crop(scale=10)").unwrap_err().to_string();
        assert!(msg.contains("no parameters"), "{msg}");

        assert!(matches!(
            parse("cutout(area=0.1,width=0.1)"),
            Err(SpecError::ConflictingParams { .. })
        ));
        assert!(matches!(
            parse("mask(p=0.1,p=0.2)"),
            Err(SpecError::DuplicateParam { .. })
        ));
        assert!(matches!(
            parse("mask(p=abc)"),
            Err(SpecError::Syntax { .. })
        ));
        assert!(matches!(
            parse("mask(p=nan)"),
            Err(SpecError::Syntax { .. })
        ));
        assert!(matches!(parse("mask(p)"), Err(SpecError::Syntax { .. })));
        assert!(matches!(parse("mask(p=0.1"), Err(SpecError::Syntax { .. })));
        assert!(matches!(parse("geom+"), Err(SpecError::Syntax { .. })));
        assert!(matches!(parse(""), Err(SpecError::Empty)));
        assert!(matches!(parse("   "), Err(SpecError::Empty)));
    }

    #[test]
    fn lists_split_on_top_level_commas_only() {
        let list = parse_list("cutpaste, rotate,cutout(area=0.2),geom+mask(p=0.3)").unwrap();
        let texts: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            texts,
            ["cutpaste", "rotate", "cutout(area=0.2)", "geom+mask(p=0.3)"]
        );
        assert!(parse_list("cutpaste,,rotate").is_err());
    }

    #[test]
    fn categories_follow_the_method_table() {
        let cat = |s: &str| parse(s).unwrap().category();
        assert_eq!(cat("none"), Category::Identity);
        for s in ["crop", "rotate", "flip", "geom"] {
            assert_eq!(cat(s), Category::Geometric, "{s}");
        }
        for s in ["cutout", "cutout(area=0.5)", "cutpaste", "cutpaste-scar"] {
            assert_eq!(cat(s), Category::Local, "{s}");
        }
        for s in ["blur", "noise", "mask"] {
            assert_eq!(cat(s), Category::Elementwise, "{s}");
        }
        for s in ["invert", "jitter"] {
            assert_eq!(cat(s), Category::Colour, "{s}");
        }
        assert_eq!(cat("simclr"), Category::Mixed);
        assert_eq!(cat("geom+cutout"), Category::Mixed);
        assert_eq!(cat("cutout+cutpaste"), Category::Local);
        assert_eq!(cat("none+blur"), Category::Elementwise);
        assert_eq!(CATALOGUE.len(), 14);
    }

    #[test]
    fn generator_form_sets_p_to_one_unless_given() {
        assert_eq!(
            parse("flip").unwrap().as_generator().to_string(),
            "flip(p=1)"
        );
        assert_eq!(
            parse("invert").unwrap().as_generator().to_string(),
            "invert(p=1)"
        );
        assert_eq!(
            parse("cutout").unwrap().as_generator().to_string(),
            "cutout"
        );
        assert_eq!(
            parse("flip(p=0.7)").unwrap().as_generator().to_string(),
            "flip(p=0.7)"
        );
        assert_eq!(parse("mask").unwrap().as_generator().to_string(), "mask");
    }

    #[test]
    fn hand_built_steps_are_validated() {
        assert!(AugSpec::new(vec![AugStep::Mask { p: Some(2.0) }]).is_err());
        assert!(AugSpec::new(vec![]).is_err());
        let s = AugSpec::new(vec![
            AugStep::Geom,
            AugStep::Cutout {
                size: CutoutSize::Width(0.25),
            },
        ])
        .unwrap();
        assert_eq!(s.to_string(), "geom+cutout(width=0.25)");
    }
}
