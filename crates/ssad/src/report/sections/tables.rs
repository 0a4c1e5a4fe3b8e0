//! Section 6: every table of the study as HTML and CSV (relative-AUC statistics pooled and per
//! dataset, mean AUC, run timings) and links to the per-run and per-result CSV files. The
//! tables themselves are built in [`crate::report::table`].

use crate::report::html::Section;
use crate::report::table::{self, category_of, escape, pooled};
use crate::report::{Ctx, Page};
use crate::study::summary::RelativeTable;

/// Section 6: every table as HTML and CSV.
pub(crate) fn section_tables(c: &Ctx<'_>, page: &mut Page) -> anyhow::Result<()> {
    let Ctx {
        records,
        rows,
        summary,
        tab_dir,
        expanded,
        slices,
        ..
    } = c;
    // 6. Tables.
    let mut body = String::new();
    body.push_str("<h3>Relative-AUC statistics</h3>");
    let pooled_ids: Vec<(String, String)> = slices
        .iter()
        .cloned()
        .chain(std::iter::once(super::rest_slice()))
        .collect();
    for (t, a) in &pooled_ids {
        if let Some(table) = pooled(summary, t, a) {
            page.add_table(
                &table::relative_table(table, &category_of),
                tab_dir,
                &mut body,
            )?;
        }
    }
    let per_dataset: Vec<&RelativeTable> = summary
        .relative
        .iter()
        .filter(|t| {
            !pooled_ids
                .iter()
                .any(|(tb, an)| pooled(summary, tb, an).is_some_and(|p| std::ptr::eq(p, *t)))
        })
        .collect();
    if !per_dataset.is_empty() {
        body.push_str("<details><summary>Per-dataset relative-AUC statistics</summary>");
        for t in per_dataset {
            page.add_table(&table::relative_table(t, &category_of), tab_dir, &mut body)?;
        }
        body.push_str("</details>");
    }
    body.push_str("<h3>Mean AUC per dataset and augmentation</h3>");
    for t in table::auc_mean_tables(summary, expanded) {
        page.add_table(&t, tab_dir, &mut body)?;
    }
    body.push_str("<h3>Run timings</h3>");
    let (timings, per_run) = table::timing_tables(records, expanded);
    page.add_table(&timings, tab_dir, &mut body)?;
    let p = per_run.write_csv(tab_dir)?;
    body.push_str(&format!(
        "<p class=\"csv\">Every run: <a href=\"{}\">runs.csv</a></p>",
        escape(&page.rel(&p))
    ));
    page.tables.push(p);
    let p = tab_dir.join("results.csv");
    crate::study::store::write_csv(rows, &p)?;
    body.push_str(&format!(
        "<p class=\"csv\">Every AUC (run x testbed x anomaly): <a href=\"{}\">results.csv</a></p>",
        escape(&page.rel(&p))
    ));
    page.tables.push(p);
    page.sections.push(Section {
        id: "tables".into(),
        title: "Tables".into(),
        body,
    });
    Ok(())
}
