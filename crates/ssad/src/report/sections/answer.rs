//! The opening section, the study's answer: one line per testbed and anomaly kind (which
//! augmentations help or hurt, and the largest and smallest estimates), the table of winners,
//! and the study's facts (datasets, classes, model, training, runs).

use crate::report::html::{missing, para, Section};
use crate::report::table::{escape, pooled, slice_title};
use crate::report::{figures, Ctx, Page};
use crate::study::summary::{RelativeTable, StudySummary};
use ssad_stats::relative::Verdict;

/// The opening section: one line per testbed (which augmentations help or hurt) and the study's facts.
pub(crate) fn section_answer(c: &Ctx<'_>, page: &mut Page) -> anyhow::Result<()> {
    let Ctx {
        cfg,
        status,
        n_all,
        records,
        summary,
        expanded,
        sweep_members,
        slices,
        datasets_text,
        ..
    } = c;
    // The answer, first.
    let mut answer = String::from("<div class=\"answer\"><ul>");
    for (t, a) in slices.iter().chain(std::iter::once(&super::rest_slice())) {
        if let Some(table) = pooled(summary, t, a) {
            answer.push_str(&format!("<li>{}</li>", answer_line(table, sweep_members)));
        }
    }
    answer.push_str("</ul></div>\n");
    answer.push_str(&winner_table(slices, summary, sweep_members));
    answer.push_str(&para(&format!(
        "Relative AUC = AUC of the detector trained with an augmentation minus the AUC of the vanilla autoencoder (no augmentation) on the same task; \
         tasks are paired over datasets ({datasets_text}), normal classes and seeds (and anomaly classes in the wild). \
         Statistics: one-sided Wilcoxon signed-rank test (H1: the augmentation beats vanilla) and the Hodges-Lehmann pseudo-median with its 95% confidence interval."
    )));
    let mut facts = String::from("<dl class=\"facts\">");
    let fact = |k: &str, v: String| format!("<dt>{}</dt><dd>{}</dd>", escape(k), escape(&v));
    facts.push_str(&fact("datasets", datasets_text.clone()));
    let classes: Vec<String> = cfg
        .datasets
        .iter()
        .map(|d| {
            let picked: Vec<String> = cfg
                .normal_classes_of(d)
                .unwrap_or_default()
                .iter()
                .map(|c| c.name_in(d))
                .collect();
            format!("{d}: {}", picked.join(", "))
        })
        .collect();
    facts.push_str(&fact("normal classes", classes.join("; ")));
    if let Some(size) = cfg.size {
        facts.push_str(&fact("image size", format!("{size}x{size}")));
    }
    facts.push_str(&fact(
        "augmentations",
        format!("{} ({})", expanded.len(), expanded.join(", ")),
    ));
    facts.push_str(&fact(
        "testbeds",
        format!(
            "{} (controlled generators: {})",
            cfg.testbeds
                .iter()
                .map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            cfg.gens.join(", ")
        ),
    ));
    facts.push_str(&fact("seeds", format!("{:?}", cfg.seeds)));
    facts.push_str(&fact(
        "model",
        format!(
            "{:?} F={} H={}",
            cfg.model.kind, cfg.model.width, cfg.model.embedding
        ),
    ));
    facts.push_str(&fact(
        "training",
        format!(
            "{} epochs, batch {}, lr {}, weight decay {}, {} precision, {} training images per class",
            cfg.train.epochs,
            cfg.train.batch_size,
            cfg.train.lr,
            cfg.train.weight_decay,
            cfg.train.precision,
            cfg.train_limit
                .map(|l| format!("at most {l}"))
                .unwrap_or_else(|| "all".into())
        ),
    ));
    facts.push_str(&fact(
        "runs",
        format!(
            "{} of {} done; {} pending, {} failed, {} stale (older config, left out of this report); {} records in the folder",
            records.len(),
            status.total,
            status.pending.len(),
            status.failed.len(),
            status.stale.len(),
            n_all
        ),
    ));
    facts.push_str("</dl>");
    answer.push_str(&facts);
    if !status.pending.is_empty() || !status.failed.is_empty() {
        let n = format!("This report covers {} of the study's {} runs; the rest are pending or failed (`ssad study status`).", records.len(), status.total);
        answer.push_str(&missing(&n));
        page.notes.push(n);
    }
    page.sections.push(Section {
        id: "answer".into(),
        title: "The answer".into(),
        body: answer,
    });
    Ok(())
}

/// A small table of the answer: per testbed and anomaly kind (datasets pooled), the
/// augmentation with the largest and the smallest relative-AUC estimate, with p-values.
fn winner_table(
    slices: &[(String, String)],
    summary: &StudySummary,
    sweep_members: &[String],
) -> String {
    let cell = |r: &ssad_stats::relative::RelativeAucSummary| {
        format!(
            "<code>{}</code> {:+.3} (p {}, {})",
            escape(&r.aug),
            r.pseudo_median,
            figures::format_p(r.p_value),
            r.verdict
        )
    };
    let mut rows = String::new();
    let rest = super::rest_slice();
    let all = slices.iter().chain(std::iter::once(&rest));
    for (t, a) in all {
        let Some(table) = pooled(summary, t, a) else {
            continue;
        };
        let main: Vec<_> = table
            .rows
            .iter()
            .filter(|r| !sweep_members.contains(&r.aug))
            .collect();
        let (Some(best), Some(worst)) = (
            main.iter()
                .max_by(|x, y| x.pseudo_median.total_cmp(&y.pseudo_median)),
            main.iter()
                .min_by(|x, y| x.pseudo_median.total_cmp(&y.pseudo_median)),
        ) else {
            continue;
        };
        let (b, w) = if all_tie(table) {
            ("all tie".to_string(), "all tie".to_string())
        } else {
            (cell(best), cell(worst))
        };
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{b}</td><td>{w}</td></tr>",
            escape(&slice_title(t, a)),
            main.iter().map(|r| r.n).max().unwrap_or(0)
        ));
    }
    if rows.is_empty() {
        return String::new();
    }
    format!(
        "<table class=\"winners\"><thead><tr><th>testbed, anomalies</th><th>paired tasks</th>\
         <th>best augmentation</th><th>worst augmentation</th></tr></thead><tbody>{rows}\
         </tbody></table>\n"
    )
}

/// True when every augmentation's AUC equals vanilla's on every task of `t` (e.g. invert
/// anomalies on MNIST, where every detector scores AUC 1.0): nothing to compare or plot.
pub(crate) fn all_tie(t: &RelativeTable) -> bool {
    !t.rows.is_empty() && t.rows.iter().all(|r| r.n > 0 && r.n_zeros == r.n)
}

/// The sentence that replaces a table or figure of `t` when [`all_tie`].
pub(crate) fn tie_sentence(t: &RelativeTable) -> String {
    let n = t.rows.iter().map(|r| r.n).max().unwrap_or(0);
    format!(
        "<strong>{}</strong> ({n} paired tasks): every augmentation ties with vanilla on every task \
         (all relative AUCs are 0), so this testbed cannot tell them apart",
        escape(&slice_title(&t.testbed, &t.anomaly))
    )
}

/// One-line answer of a slice: which augmentations help, hurt, and the best estimate.
fn answer_line(t: &RelativeTable, sweep_members: &[String]) -> String {
    if all_tie(t) {
        return tie_sentence(t);
    }
    let n = t.rows.iter().map(|r| r.n).max().unwrap_or(0);
    // Sweep points are drawn in the sweep figure, not in the forest plot this line sits
    // above: they are marked so, so every augmentation named here is in a figure.
    let fmt = |r: &ssad_stats::relative::RelativeAucSummary| {
        format!(
            "<code>{}</code> ({:+.3}, {}{})",
            escape(&r.aug),
            r.pseudo_median,
            figures::format_p(r.p_value),
            if sweep_members.contains(&r.aug) {
                "; a sweep point, in the sweep figure"
            } else {
                ""
            }
        )
    };
    let mut s = format!(
        "<strong>{}</strong> ({n} paired tasks): ",
        escape(&slice_title(&t.testbed, &t.anomaly))
    );
    // The exact one-sided signed-rank test cannot go below 0.5^n (nor above 1 - 0.5^n).
    let min_p = 0.5f64.powi(n as i32);
    if min_p >= 0.05 {
        s.push_str(&format!(
            "<em>too few tasks for a significant test (with {n} tasks the smallest possible one-sided p is 0.5<sup>{n}</sup> = {min_p:.3}); read the estimates as descriptive</em>"
        ));
    } else {
        let helps: Vec<String> = t
            .rows
            .iter()
            .filter(|r| r.verdict == Verdict::Helps)
            .map(fmt)
            .collect();
        let hurts: Vec<String> = t
            .rows
            .iter()
            .filter(|r| r.verdict == Verdict::Hurts)
            .map(fmt)
            .collect();
        s.push_str(&if helps.is_empty() {
            "no augmentation is significantly better than vanilla".to_string()
        } else {
            format!("better than vanilla (p &lt; 0.05): {}", helps.join(", "))
        });
        s.push_str("; ");
        s.push_str(&if hurts.is_empty() {
            "none is significantly worse".to_string()
        } else {
            format!("worse than vanilla (p &gt; 0.95): {}", hurts.join(", "))
        });
    }
    let main: Vec<_> = t
        .rows
        .iter()
        .filter(|r| !sweep_members.contains(&r.aug))
        .collect();
    let best = main
        .iter()
        .max_by(|a, b| a.pseudo_median.total_cmp(&b.pseudo_median));
    let worst = main
        .iter()
        .min_by(|a, b| a.pseudo_median.total_cmp(&b.pseudo_median));
    if let Some(b) = best {
        s.push_str(&format!("; largest estimate: {}", fmt(b)));
    }
    if let Some(w) =
        worst.filter(|w| main.len() > 1 && w.aug != best.map(|b| b.aug.as_str()).unwrap_or(""))
    {
        s.push_str(&format!("; smallest: {}", fmt(w)));
    }
    s.push('.');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A relative-AUC row of `aug` over 10 tasks, none of them tied.
    fn row(
        aug: &str,
        estimate: f64,
        p: f64,
        verdict: Verdict,
    ) -> ssad_stats::relative::RelativeAucSummary {
        ssad_stats::relative::RelativeAucSummary {
            aug: aug.into(),
            n: 10,
            n_unpaired: 0,
            n_zeros: 0,
            mean: estimate,
            pseudo_median: estimate,
            conf_int: None,
            conf_level: 0.95,
            p_value: Some(p),
            statistic: 0.0,
            method: None,
            verdict,
            notes: vec![],
        }
    }

    #[test]
    fn answer_lines_mark_sweep_points_and_turn_ties_into_a_sentence() {
        let mut t = RelativeTable {
            testbed: "controlled".into(),
            anomaly: "cutout".into(),
            dataset: "all".into(),
            rows: vec![
                row("cutout(area=0.3)", 0.05, 0.001, Verdict::Helps),
                row("rotate", -0.02, 0.99, Verdict::Hurts),
            ],
        };
        let sweep = vec!["cutout(area=0.3)".to_string()];
        let line = answer_line(&t, &sweep);
        assert_eq!(
            line.matches("; a sweep point, in the sweep figure").count(),
            1,
            "{line}"
        );
        assert!(
            line.contains("<code>cutout(area=0.3)</code> (+0.050, "),
            "{line}"
        );
        let table = winner_table(
            &[("controlled".into(), "cutout".into())],
            &StudySummary {
                relative: vec![t.clone()],
                auc_means: vec![],
            },
            &sweep,
        );
        // The winner table names only augmentations of the forest plot (not sweep points).
        assert!(
            table.contains("<code>rotate</code>") && !table.contains("area=0.3"),
            "{table}"
        );
        for r in &mut t.rows {
            r.n_zeros = r.n;
            r.pseudo_median = 0.0;
        }
        let line = answer_line(&t, &sweep);
        assert!(
            line.contains("every augmentation ties with vanilla"),
            "{line}"
        );
    }
}
