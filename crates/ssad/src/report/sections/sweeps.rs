//! Section 2, parameter sweeps: the study's sweep families (an augmentation such as
//! `cutout(area=0.1..0.9 step 0.1)` in `augs`) and one curve of relative AUC against the
//! swept value per testbed slice (paper Fig. 3).

use crate::report::figures::{SweepPlot, SweepPoint, SweepSeries};
use crate::report::html::{missing, Section};
use crate::report::table::{self, pooled};
use crate::report::{Ctx, FigureKind, Page};
use crate::study::{expand_sweep, StudyConfig};
use anyhow::Context;

/// A parameter sweep of the study (`cutout(area=0.1..0.9 step 0.1)`).
#[derive(Clone, Debug, PartialEq)]
pub struct SweepFamily {
    /// The spec as written in the study.
    pub spec: String,
    /// The swept parameter, e.g. `cutout area`.
    pub param: String,
    /// (parameter value, canonical spec) of each member, in order.
    pub members: Vec<(f64, String)>,
}

/// The sweeps among the study's augmentations.
pub fn sweep_families(cfg: &StudyConfig) -> anyhow::Result<Vec<SweepFamily>> {
    let mut out = Vec::new();
    for spec in &cfg.augs {
        let Some(dots) = spec.find("..") else {
            continue;
        };
        let eq = spec[..dots]
            .rfind('=')
            .with_context(|| format!("sweep '{spec}': expected name(param=A..B step S)"))?;
        let name_start = spec[..eq]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map(|i| i + 1)
            .unwrap_or(0);
        let aug_name = spec[..name_start]
            .trim_end_matches('(')
            .rsplit(['+', '('])
            .next()
            .unwrap_or("")
            .trim();
        let param = format!("{aug_name} {}", &spec[name_start..eq])
            .trim()
            .to_string();
        let mut members = Vec::new();
        for s in expand_sweep(spec)? {
            let tail = &s[eq + 1..];
            let end = tail.find([')', ',']).unwrap_or(tail.len());
            let value: f64 = tail[..end]
                .trim()
                .parse()
                .with_context(|| format!("sweep member '{s}'"))?;
            members.push((
                value,
                ssad_augment::parse(&s)
                    .with_context(|| format!("sweep member '{s}'"))?
                    .to_string(),
            ));
        }
        out.push(SweepFamily {
            spec: spec.clone(),
            param,
            members,
        });
    }
    Ok(out)
}

/// The canonical specs of every sweep's members, and the augmentations of the forest plots
/// (`main`): every augmentation but a sweep member, unless the study also names it on its own.
pub(crate) fn members_and_main(
    cfg: &StudyConfig,
    expanded: &[String],
    families: &[SweepFamily],
) -> (Vec<String>, Vec<String>) {
    let sweep_members: Vec<String> = families
        .iter()
        .flat_map(|f| f.members.iter().map(|m| m.1.clone()))
        .collect();
    let main_augs: Vec<String> = expanded
        .iter()
        .filter(|a| !sweep_members.contains(a) || cfg.augs.contains(a))
        .cloned()
        .collect();
    (sweep_members, main_augs)
}

/// Section 2: one curve per parameter sweep.
pub(crate) fn section_sweeps(c: &Ctx<'_>, page: &mut Page) -> anyhow::Result<()> {
    let Ctx {
        summary,
        fig_dir,
        families,
        slices,
        datasets_text,
        ..
    } = c;
    // 2. Sweeps.
    let mut body = String::new();
    if families.is_empty() {
        let n = "This study has no parameter sweep (an augmentation such as `cutout(area=0.1..0.9 step 0.1)` in `augs`), so there is no sweep figure.".to_string();
        body.push_str(&missing(&n));
        page.notes.push(n);
    }
    for f in families.iter() {
        let series: Vec<SweepSeries> = slices
            .iter()
            .filter_map(|(t, a)| {
                let table = pooled(summary, t, a)?;
                let points: Vec<SweepPoint> = f
                    .members
                    .iter()
                    .filter_map(|(v, spec)| {
                        table
                            .rows
                            .iter()
                            .find(|r| &r.aug == spec)
                            .map(|r| SweepPoint {
                                value: *v,
                                estimate: r.pseudo_median,
                                ci: r.conf_int,
                                p_value: r.p_value,
                            })
                    })
                    .collect();
                (!points.is_empty()).then(|| SweepSeries {
                    label: if super::is_controlled(t) {
                        format!("controlled: {a}")
                    } else {
                        "in the wild".into()
                    },
                    points,
                })
            })
            .collect();
        if series.is_empty() {
            let n = format!("The sweep {} has no paired results yet.", f.spec);
            body.push_str(&missing(&n));
            page.notes.push(n);
            continue;
        }
        let plot = SweepPlot {
            title: format!("Sweep of {} — relative AUC", f.param),
            subtitle: format!("{}; point: pseudo-median over paired tasks, bar: 95% CI; datasets: {datasets_text}", f.spec),
            x_label: f.param.clone(),
            series,
        };
        let id = table::slug(&["sweep", &f.spec]);
        let r = crate::figure::render(&plot, fig_dir, &id)?;
        page.add_figure(FigureKind::Sweep, &id, r, &plot.title, &format!("{}: how the amount of augmentation changes the relative AUC, one curve per kind of anomaly (paper Fig. 3).", plot.title), &mut body);
    }
    page.sections.push(Section {
        id: "sweep".into(),
        title: "Parameter sweeps".into(),
        body,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_families_read_values_and_param() {
        let cfg = StudyConfig::from_toml("datasets=['mnist']\naugs=['none','rotate','cutout(area=0.1..0.3 step 0.1)','geom+mask(p=0.2..0.4 step 0.2)']", "t").unwrap();
        let f = sweep_families(&cfg).unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].param, "cutout area");
        assert_eq!(
            f[0].members,
            vec![
                (0.1, "cutout(area=0.1)".to_string()),
                (0.2, "cutout(area=0.2)".to_string()),
                (0.3, "cutout(area=0.3)".to_string())
            ]
        );
        assert_eq!(f[1].param, "mask p");
        assert_eq!(
            f[1].members.iter().map(|m| m.0).collect::<Vec<_>>(),
            vec![0.2, 0.4]
        );
    }
}
