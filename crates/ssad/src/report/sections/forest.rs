//! Section 1: a forest plot of relative AUC per augmentation for each testbed and anomaly
//! kind (paper Figs. 1 and 4); a testbed where every augmentation ties with vanilla gets a
//! sentence instead.

use super::answer::{all_tie, tie_sentence};
use crate::report::figures::{ForestPlot, ForestRow};
use crate::report::html::{missing, para, Section};
use crate::report::table::{self, category_of, pooled, slice_title};
use crate::report::{Ctx, FigureKind, Page};
use crate::study::summary::PIXEL_SLICE;

/// Section 1: a forest plot of relative AUC per augmentation for each testbed and anomaly kind.
pub(crate) fn section_forest(c: &Ctx<'_>, page: &mut Page) -> anyhow::Result<()> {
    let Ctx {
        summary,
        fig_dir,
        main_augs,
        slices,
        datasets_text,
        ..
    } = c;
    // 1. Forest plots.
    let mut body = para(
        "Each row is one augmentation used to train the denoising autoencoder. Point: pseudo-median of its relative AUC over the paired tasks; bar: 95% confidence interval; \
         right of the vertical line at 0 means better than no augmentation. Colour and marker: the augmentation's category. The one-sided p-value is printed beside each row.",
    );
    for (t, a) in slices.iter() {
        let Some(table) = pooled(summary, t, a) else {
            let n = format!(
                "No relative-AUC statistics for the {} (no paired runs yet).",
                slice_title(t, a)
            );
            body.push_str(&missing(&n));
            page.notes.push(n);
            continue;
        };
        if all_tie(table) {
            body.push_str(&format!("<p class=\"note\">{}.</p>\n", tie_sentence(table)));
            continue;
        }
        let metric = if a == PIXEL_SLICE {
            "Relative pixel AUROC"
        } else {
            "Relative AUC"
        };
        let mut plot = ForestPlot {
            title: format!("{metric} — {}", slice_title(t, a)),
            subtitle: format!(
                "{}; n = {} paired tasks; point: Hodges-Lehmann pseudo-median, bar: 95% CI",
                if table.dataset == "all" {
                    format!("datasets pooled: {datasets_text}")
                } else {
                    format!("dataset: {}", table.dataset)
                },
                table.rows.iter().map(|r| r.n).max().unwrap_or(0)
            ),
            rows: table
                .rows
                .iter()
                .filter(|r| main_augs.contains(&r.aug))
                .map(|r| ForestRow {
                    aug: r.aug.clone(),
                    category: category_of(&r.aug),
                    estimate: r.pseudo_median,
                    ci: r.conf_int,
                    p_value: r.p_value,
                    n: r.n,
                })
                .collect(),
        };
        plot.sort();
        let id = table::slug(&["forest", t, a]);
        let r = crate::figure::render(&plot, fig_dir, &id)?;
        let paper = if super::is_controlled(t) {
            "paper Fig. 1"
        } else {
            "paper Fig. 4"
        };
        page.add_figure(
            FigureKind::Forest,
            &id,
            r,
            &plot.title,
            &format!("{} ({paper}).", plot.title),
            &mut body,
        );
    }
    page.sections.push(Section {
        id: "forest".into(),
        title: "Relative AUC per augmentation".into(),
        body,
    });
    Ok(())
}
