//! Self-tuned augmentation specs (METHOD.md section 8; ST-SSAD): which catalogue families have
//! continuous parameters a self-tuned training can move, their start values, and the spec
//! syntax that asks for it, `cutout(area=auto)` or `rotate(angle=auto(30))`.
//!
//! A self-tuned spec is not an augmentation one can apply (its values are found by training),
//! so [`crate::parse`] refuses it; [`SelfTunedSpec::parse`] reads it for the commands that
//! train (`ssad train`, `fit`, `tune` and study grids). The engine (`ssad-torch`) makes these
//! families differentiable and reads its keys and start values from [`TUNABLE`].

use std::fmt;

/// A catalogue family with tunable continuous parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TunableFamily {
    /// The catalogue name (`cutout`).
    pub name: &'static str,
    /// Its tunable parameters with their default start values, catalogue units.
    pub params: &'static [(&'static str, f64)],
    /// Parameters tuned only when the spec names them (cutout's `aspect`: the catalogue's
    /// cutout is square).
    pub only_when_named: &'static [&'static str],
}

impl TunableFamily {
    /// The tunable parameters' names.
    pub fn keys(&self) -> Vec<&'static str> {
        self.params.iter().map(|(k, _)| *k).collect()
    }

    /// The default start value of `key`, if it is a tunable parameter.
    pub fn default_start(&self, key: &str) -> Option<f64> {
        self.params.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }
}

/// Every family that can be self-tuned, with its parameters and default starts (cutout and
/// cutpaste start at the catalogue's defaults; rotate, noise, blur and jitter at a moderate
/// value inside their ranges).
pub const TUNABLE: &[TunableFamily] = &[
    TunableFamily {
        name: "cutout",
        params: &[("area", 0.1), ("aspect", 1.0)],
        only_when_named: &["aspect"],
    },
    TunableFamily {
        name: "rotate",
        params: &[("angle", 45.0)],
        only_when_named: &[],
    },
    TunableFamily {
        name: "noise",
        params: &[("std", 0.1)],
        only_when_named: &[],
    },
    TunableFamily {
        name: "blur",
        params: &[("sigma", 1.0)],
        only_when_named: &[],
    },
    TunableFamily {
        name: "cutpaste",
        params: &[("area", 0.085)],
        only_when_named: &[],
    },
    TunableFamily {
        name: "jitter",
        params: &[("s", 1.0)],
        only_when_named: &[],
    },
];

/// The tunable family named `name`.
pub fn tunable_family(name: &str) -> Option<&'static TunableFamily> {
    TUNABLE.iter().find(|f| f.name == name)
}

/// True when `text` asks for a self-tuned parameter (`...=auto` or `...=auto(v)`), so it must
/// be read with [`SelfTunedSpec::parse`] rather than [`crate::parse`].
pub fn is_self_tuned(text: &str) -> bool {
    text.split(['(', ','])
        .filter_map(|part| part.split_once('='))
        .any(|(_, v)| {
            let v = v.trim().trim_end_matches(')').trim();
            v == "auto" || v.starts_with("auto(")
        })
}

/// A self-tuned augmentation spec: one tunable family and the parameters to tune, each with
/// its start value (`None`: the family's default start).
#[derive(Clone, Debug, PartialEq)]
pub struct SelfTunedSpec {
    /// The family.
    pub family: &'static TunableFamily,
    /// The tuned parameters in the family's order, with their start values when given.
    pub params: Vec<(&'static str, Option<f64>)>,
}

impl SelfTunedSpec {
    /// Reads a self-tuned spec. In `auto` form (the default; `numbers_are_starts = false`)
    /// every parameter it names must be `auto` or `auto(v)` and the family's parameters it
    /// leaves out are tuned too (except [`TunableFamily::only_when_named`] ones); with
    /// `numbers_are_starts` (`ssad tune --aug cutout(area=0.3)`) plain numbers are start values
    /// as well. Errors name the spec and what is allowed.
    pub fn parse(text: &str, numbers_are_starts: bool) -> anyhow::Result<Self> {
        let t = text.trim();
        let (name, inner) = match t.find('(') {
            None => (t, ""),
            Some(open) => {
                let inner = t[open + 1..].trim_end().strip_suffix(')').ok_or_else(|| {
                    anyhow::anyhow!("missing ')' at the end of the augmentation '{text}'")
                })?;
                (t[..open].trim(), inner)
            }
        };
        anyhow::ensure!(
            !name.contains('+'),
            "'{text}': a self-tuned augmentation is one family, not a composition"
        );
        let family = tunable_family(name).ok_or_else(|| {
            anyhow::anyhow!(
                "'{name}' in '{text}' has no tunable form; families that self-tune: {}",
                TUNABLE
                    .iter()
                    .map(|f| f.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
        // Split on commas outside parentheses (`auto(0.3)`).
        let (mut depth, mut start, mut parts) = (0i32, 0usize, Vec::new());
        for (i, ch) in inner.char_indices() {
            match ch {
                '(' => depth += 1,
                ')' => depth -= 1,
                ',' if depth == 0 => {
                    parts.push(&inner[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        parts.push(&inner[start..]);
        let mut given: Vec<(&'static str, Option<f64>)> = Vec::new();
        for part in parts.into_iter().filter(|p| !p.trim().is_empty()) {
            let (k, v) = part.split_once('=').ok_or_else(|| {
                anyhow::anyhow!("expected key=value in '{text}', got '{}'", part.trim())
            })?;
            let (k, v) = (k.trim(), v.trim());
            let key = family.keys().into_iter().find(|&f| f == k).ok_or_else(|| {
                anyhow::anyhow!(
                    "'{text}': {name} has no tunable parameter '{k}'; it tunes {}",
                    family.keys().join(", ")
                )
            })?;
            anyhow::ensure!(
                !given.iter().any(|(g, _)| *g == key),
                "parameter '{key}' of '{text}' is given more than once"
            );
            let number = |s: &str| {
                s.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "'{text}': the start value '{}' of {key} is not a finite number",
                            s.trim()
                        )
                    })
            };
            let start = if v == "auto" {
                None
            } else if let Some(s) = v.strip_prefix("auto(").and_then(|r| r.strip_suffix(')')) {
                Some(number(s)?)
            } else if numbers_are_starts {
                Some(number(v)?)
            } else {
                anyhow::bail!(
                    "'{text}': {key}={v} is fixed beside a self-tuned parameter; a self-tuned \
                     spec tunes every parameter it names, so write {key}=auto or \
                     {key}=auto({v}) (a start value), or leave {key} out"
                );
            };
            given.push((key, start));
        }
        // In `auto` form every named parameter is self-tuned, so naming one is enough.
        anyhow::ensure!(
            numbers_are_starts || !given.is_empty(),
            "'{text}' names no self-tuned parameter (write e.g. {name}({}=auto))",
            family.keys()[0]
        );
        let params = family
            .params
            .iter()
            .filter_map(|&(k, _)| match given.iter().find(|(g, _)| *g == k) {
                Some(&(_, s)) => Some((k, s)),
                None if family.only_when_named.contains(&k) => None,
                None => Some((k, None)),
            })
            .collect();
        Ok(SelfTunedSpec { family, params })
    }

    /// The spec with every parameter at its start value (`cutout(area=0.1)`): what the
    /// training starts from.
    pub fn start_spec(&self) -> String {
        let items: Vec<String> = self
            .params
            .iter()
            .map(|&(k, s)| {
                let v = s.unwrap_or_else(|| self.family.default_start(k).expect("tunable key"));
                format!("{k}={v}")
            })
            .collect();
        format!("{}({})", self.family.name, items.join(","))
    }

    /// The start values, catalogue units, in the family's order.
    pub fn starts(&self) -> Vec<(&'static str, f64)> {
        self.params
            .iter()
            .map(|&(k, s)| {
                (
                    k,
                    s.unwrap_or_else(|| self.family.default_start(k).expect("tunable key")),
                )
            })
            .collect()
    }
}

impl fmt::Display for SelfTunedSpec {
    /// The canonical form that run keys hash: every tuned parameter in the family's order,
    /// `auto` or `auto(v)` (`cutout(area=auto)`, `rotate(angle=auto(30))`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.family.name)?;
        for (i, (k, s)) in self.params.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            match s {
                None => write!(f, "{k}=auto")?,
                Some(v) => write!(f, "{k}=auto({v})")?,
            }
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(text: &str) -> String {
        SelfTunedSpec::parse(text, false).unwrap().to_string()
    }

    #[test]
    fn auto_specs_read_to_one_canonical_form_and_start_values() {
        assert_eq!(canon("cutout(area=auto)"), "cutout(area=auto)");
        assert_eq!(canon(" cutout( area = auto ) "), "cutout(area=auto)");
        assert_eq!(canon("rotate(angle=auto(30))"), "rotate(angle=auto(30))");
        assert_eq!(
            canon("cutout(aspect=auto, area=auto(0.3))"),
            "cutout(area=auto(0.3),aspect=auto)"
        );
        let s = SelfTunedSpec::parse("cutout(area=auto)", false).unwrap();
        assert_eq!(s.start_spec(), "cutout(area=0.1)");
        let s = SelfTunedSpec::parse("cutout(area=auto(0.3),aspect=auto)", false).unwrap();
        assert_eq!(s.start_spec(), "cutout(area=0.3,aspect=1)");
        assert_eq!(s.starts(), vec![("area", 0.3), ("aspect", 1.0)]);
        // `ssad tune`'s form: numbers are starts, a bare family tunes its default keys.
        let s = SelfTunedSpec::parse("noise(std=0.2)", true).unwrap();
        assert_eq!(s.start_spec(), "noise(std=0.2)");
        assert_eq!(
            SelfTunedSpec::parse("noise", true).unwrap().start_spec(),
            "noise(std=0.1)"
        );
    }

    #[test]
    fn bad_self_tuned_specs_are_refused_naming_the_value() {
        let err = |t: &str| SelfTunedSpec::parse(t, false).unwrap_err().to_string();
        let e = err("cutout(depth=auto)");
        assert!(e.contains("'depth'") && e.contains("area, aspect"), "{e}");
        let e = err("flip(p=auto)");
        assert!(e.contains("'flip'") && e.contains("cutout"), "{e}");
        let e = err("cutout(area=auto,aspect=2)");
        assert!(
            e.contains("aspect=2") && e.contains("aspect=auto(2)"),
            "{e}"
        );
        let e = err("cutout(area=auto(x))");
        assert!(e.contains("'x'"), "{e}");
        let e = err("cutout(area=auto(inf))");
        assert!(e.contains("'inf'"), "{e}");
        let e = err("cutout(area=auto,area=auto)");
        assert!(e.contains("more than once"), "{e}");
        let e = err("geom+cutout(area=auto)");
        assert!(e.contains("composition"), "{e}");
        let e = err("cutout(area=auto");
        assert!(e.contains("missing ')'"), "{e}");
        let e = err("cutout");
        assert!(e.contains("no self-tuned parameter"), "{e}");
    }

    #[test]
    fn self_tuned_specs_are_told_apart_from_fixed_ones() {
        assert!(is_self_tuned("cutout(area=auto)"));
        assert!(is_self_tuned("rotate(angle=auto(30))"));
        assert!(is_self_tuned("cutout(aspect=2,area=auto)"));
        assert!(!is_self_tuned("cutout(area=0.2)"));
        assert!(!is_self_tuned("cutout"));
        assert!(!is_self_tuned("none"));
    }
}
