//! The built-in study presets ([`PRESETS`]) and the expansion of a sweep spec
//! (`cutout(area=0.1..0.9 step 0.1)`) into one augmentation spec per value ([`expand_sweep`]).

use anyhow::{bail, Context};

/// Built-in presets: (name, TOML text). The TOML files under `crates/ssad/presets/` are the
/// documentation of each preset's choices.
pub const PRESETS: [(&str, &str); 11] = [
    ("demo", include_str!("../../presets/demo.toml")),
    ("quick", include_str!("../../presets/quick.toml")),
    (
        "quick-sweep",
        include_str!("../../presets/quick-sweep.toml"),
    ),
    ("paper", include_str!("../../presets/paper.toml")),
    ("table1", include_str!("../../presets/table1.toml")),
    (
        "table1-fmnist",
        include_str!("../../presets/table1-fmnist.toml"),
    ),
    (
        "precision-guard",
        include_str!("../../presets/precision-guard.toml"),
    ),
    ("ladder-1", include_str!("../../presets/ladder-1.toml")),
    ("ladder-2", include_str!("../../presets/ladder-2.toml")),
    ("ladder-3", include_str!("../../presets/ladder-3.toml")),
    ("mvtec", include_str!("../../presets/mvtec.toml")),
];

/// Expands `name(param=A..B step S)` into one spec per value (inclusive); other specs are
/// returned unchanged.
pub fn expand_sweep(spec: &str) -> anyhow::Result<Vec<String>> {
    let Some(dots) = spec.find("..") else {
        return Ok(vec![spec.to_string()]);
    };
    // One sweep per spec: a grid over two parameters is two specs' worth of runs per point
    // and easy to ask for by accident; say so rather than fail on the second range.
    let sweeps = spec.matches("..").count();
    anyhow::ensure!(
        sweeps == 1,
        "sweep '{spec}': {sweeps} ranges in one spec, but a spec can sweep one parameter; \
         list one swept spec per parameter instead (e.g. augs = [\"cutout(area=0.1..0.5 step \
         0.1)\", \"rotate(angle=10..40 step 10)\"])"
    );
    let eq = spec[..dots]
        .rfind('=')
        .with_context(|| format!("sweep '{spec}': expected name(param=A..B step S)"))?;
    let end = spec[dots..]
        .find([')', ','])
        .map(|i| dots + i)
        .with_context(|| format!("sweep '{spec}': missing ')'"))?;
    let range = &spec[eq + 1..end];
    let parse = |s: &str, what: &str| -> anyhow::Result<f64> {
        s.trim()
            .parse::<f64>()
            .with_context(|| format!("sweep '{spec}': {what} '{}' is not a number", s.trim()))
    };
    let (a, rest) = range.split_once("..").unwrap();
    let (b, step) = match rest.split_once("step") {
        Some((b, s)) => (parse(b, "end")?, parse(s, "step")?),
        None => bail!("sweep '{spec}': expected 'A..B step S'"),
    };
    let a = parse(a, "start")?;
    anyhow::ensure!(
        step > 0.0 && b >= a,
        "sweep '{spec}': need start <= end and step > 0"
    );
    let n = ((b - a) / step + 1e-9).floor() as usize + 1;
    anyhow::ensure!(
        n <= 1000,
        "sweep '{spec}': {n} values is too many (at most 1000)"
    );
    Ok((0..n)
        .map(|i| {
            let v = a + step * i as f64;
            let text = format!("{:.6}", v)
                .trim_end_matches('0')
                .trim_end_matches('.')
                .to_string();
            format!("{}{}{}", &spec[..eq + 1], text, &spec[end..])
        })
        .collect())
}
