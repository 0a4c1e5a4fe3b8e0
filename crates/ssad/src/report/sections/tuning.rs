//! Beyond the paper: self-tuned augmentations (`cutout(area=auto)` in `augs`; METHOD.md
//! section 8, ST-SSAD). For each self-tuned spec and each task it was tuned on: a table of
//! where the parameters ended, the parameter's trajectory over the epochs (one line per run,
//! the controlled generator's own value dashed where it is of the same family), and the
//! validation loss against the parameter along those paths. Absent when the study tunes
//! nothing, so other studies' reports are unchanged.

use crate::epochs::{read_tuned_epochs, TunedEpochLine};
use crate::report::figures::{LinePlot, LineSeries};
use crate::report::html::{para, Section};
use crate::report::table::{self, escape};
use crate::report::{Ctx, FigureKind, Page};
use crate::study::{RunRecord, TunedOn};
use std::collections::BTreeMap;

/// The generator's own value of `key` when the generator `gen` is of `family`
/// (`cutout(area=0.2)` for cutout's `area` -> 0.2).
fn generator_value(gen: &str, family: &str, key: &str) -> Option<f64> {
    let spec = ssad_augment::parse(gen).ok()?;
    let steps = spec.steps();
    let [step] = steps else { return None };
    if step.name() != family {
        return None;
    }
    step.explicit_params()
        .into_iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

/// Median of `v` (mean of the middle two for an even count); NaN when empty.
fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// One line per run (coloured by its dataset group) through the points `point` takes from the
/// run's log lines; runs with no point are left out.
fn lines_of(
    paths: &[(usize, Vec<TunedEpochLine>)],
    point: impl Fn(&TunedEpochLine) -> Option<(f64, f64)>,
) -> Vec<LineSeries> {
    paths
        .iter()
        .map(|(group, lines)| LineSeries {
            group: *group,
            points: lines.iter().filter_map(&point).collect(),
        })
        .filter(|s| !s.points.is_empty())
        .collect()
}

/// The self-tuned augmentations' section, when the study has any.
pub(crate) fn section_tuning(c: &Ctx<'_>, page: &mut Page) -> anyhow::Result<()> {
    let tuned_augs: Vec<&String> = c
        .expanded
        .iter()
        .filter(|a| ssad_augment::is_self_tuned(a))
        .collect();
    if tuned_augs.is_empty() {
        return Ok(());
    }
    let intro = para(
        "Self-tuned augmentations learn their parameters during one training, without labels: \
         the parameters move to where the training images with their augmented copies look, in \
         the detector's embedding, like the task's unlabelled test images (ST-SSAD; criterion \
         and step settings in the study's [tune] table). Each is trained once per task, on that \
         task's test images; its AUCs appear in the forest plots and tables beside the fixed \
         augmentations. Below: where the parameters ended, their paths over the epochs (the \
         generator's own value dashed on controlled tasks of the same family), and the \
         validation loss along each path.",
    );
    let mut body = String::new();
    // Renders `plot` as figure `id` and adds it to the page with its caption.
    let add = |page: &mut Page, body: &mut String, plot: &LinePlot, id: &str, what: &str| {
        let r = crate::figure::render(plot, &c.fig_dir, id)?;
        let caption = format!("{}: {what}", plot.title);
        page.add_figure(FigureKind::Tuning, id, r, &plot.title, &caption, body);
        anyhow::Ok(())
    };
    let datasets: Vec<String> = c.cfg.datasets.iter().map(|d| d.to_string()).collect();
    let mut table_rows = String::new();
    for aug in tuned_augs {
        let spec = ssad_augment::SelfTunedSpec::parse(aug, false)?;
        let family = spec.family.name;
        // Runs of this spec per task, in the study's task order.
        let mut by_task: BTreeMap<TunedOn, Vec<&RunRecord>> = BTreeMap::new();
        for r in c.records.iter().filter(|r| &r.key.aug == aug) {
            if let Some(t) = &r.key.tuned_on {
                by_task.entry(t.clone()).or_default().push(r);
            }
        }
        for (task, runs) in &by_task {
            // Each run's path: (epoch, value of each key, validation loss).
            let mut paths = Vec::new();
            for r in runs {
                let lines = read_tuned_epochs(&c.study.epochs_path(&r.key))?;
                let group = datasets
                    .iter()
                    .position(|d| *d == r.key.dataset.to_string())
                    .unwrap_or(0);
                paths.push((group, lines));
            }
            for &(key, _) in &spec.params {
                let finals: Vec<f64> = runs
                    .iter()
                    .filter_map(|r| {
                        let t = r.tuned.as_ref()?;
                        t.values.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
                    })
                    .collect();
                let truth = match task {
                    TunedOn::Controlled(g) => generator_value(g, family, key),
                    TunedOn::Wild => None,
                };
                let (lo, hi) = finals
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                        (a.min(v), b.max(v))
                    });
                table_rows.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td><td>{key}</td><td>{}</td><td>{:.4}</td><td>{:.4} – {:.4}</td><td>{}</td></tr>\n",
                    escape(aug),
                    escape(&task.to_string()),
                    finals.len(),
                    median(finals.clone()),
                    lo,
                    hi,
                    truth.map_or("".to_string(), |v| format!("{v}")),
                ));
                let series = lines_of(&paths, |l| Some((l.epoch as f64, *l.params.get(key)?)));
                if series.is_empty() {
                    continue;
                }
                let plot = LinePlot {
                    title: format!("{aug} tuned on {task}: {family} {key} per epoch"),
                    subtitle: format!(
                        "one line per run ({} runs), colour = dataset{}",
                        series.len(),
                        truth.map_or(String::new(), |v| format!(
                            "; dashed: the generator's {key} = {v}"
                        ))
                    ),
                    x_label: "epoch".into(),
                    y_label: format!("{family} {key}"),
                    groups: datasets.clone(),
                    series,
                    references: truth
                        .map(|v| vec![(format!("generator {key} = {v}"), v)])
                        .unwrap_or_default(),
                };
                let id = table::slug(&["tuning", aug, &task.to_string(), key]);
                add(
                    page,
                    &mut body,
                    &plot,
                    &id,
                    "the self-tuned parameter after each epoch of each run.",
                )?;
                let loss_series =
                    lines_of(&paths, |l| Some((*l.params.get(key)?, l.validation_loss?)));
                if loss_series.is_empty() {
                    continue;
                }
                let plot = LinePlot {
                    title: format!("{aug} tuned on {task}: validation loss against {key}"),
                    subtitle: format!(
                        "criterion {}; one line per run, through its epochs (mean loss of each \
                         epoch's parameter steps); marker: the last epoch",
                        c.cfg.tune.criterion
                    ),
                    x_label: format!("{family} {key}"),
                    y_label: format!("validation loss ({})", c.cfg.tune.criterion),
                    groups: datasets.clone(),
                    series: loss_series,
                    references: Vec::new(),
                };
                let id = table::slug(&["tuning-loss", aug, &task.to_string(), key]);
                add(
                    page,
                    &mut body,
                    &plot,
                    &id,
                    "does the criterion fall as the parameter moves?",
                )?;
            }
        }
    }
    let body = format!(
        "{intro}<table><thead><tr><th>augmentation</th><th>tuned on</th><th>parameter</th><th>runs</th><th>median final value</th><th>range</th><th>generator's value</th></tr></thead><tbody>\n{table_rows}</tbody></table>\n{body}"
    );
    page.sections.push(Section {
        id: "tuning".into(),
        title: "Self-tuned augmentations".into(),
        body,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generator_values_are_read_for_the_same_family_only() {
        assert_eq!(
            generator_value("cutout(area=0.2)", "cutout", "area"),
            Some(0.2)
        );
        assert_eq!(generator_value("cutout(area=0.2)", "noise", "area"), None);
        assert_eq!(generator_value("noise(std=0.3)", "noise", "std"), Some(0.3));
        assert_eq!(generator_value("flip", "cutout", "area"), None);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(Vec::new()).is_nan());
    }
}
