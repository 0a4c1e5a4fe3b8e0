//! Beyond the paper: the label-free selection section, when `ssad select --study` has run
//! (the selected-vs-oracle figure and the selection table), or a note saying how to add it.

use crate::report::html::{missing, para, Section};
use crate::report::table;
use crate::report::{Ctx, FigureKind, Page};

/// Beyond the paper: the label-free selection, when `ssad select --study` has run.
pub(crate) fn section_selection(c: &Ctx<'_>, page: &mut Page) -> anyhow::Result<()> {
    let Ctx {
        study_root,
        records,
        fig_dir,
        tab_dir,
        ..
    } = c;
    // Beyond the paper: label-free selection, when `ssad select --study` has been run.
    let pick = crate::select::Criterion::RECOMMENDED;
    let mut selection_body = para(&format!(
        "Which augmentation would the label-free criterion ({}, METHOD.md section 7; the published DSV and the baselines are in the table) have chosen for each task, and how good was that choice? \
         Each point is one task: x = AUC of the best candidate (the oracle, known only with labels), y = AUC of the candidate {} selected; points on the diagonal are perfect picks.",
        pick.label(),
        pick.label()
    ));
    let sel_dir = study_root.join("selection");
    let selections = if sel_dir.join("selections.json").is_file() {
        match crate::select::read_selections(&sel_dir) {
            Ok(s) => Some(s),
            // Selections of an earlier ssad's criteria: the report goes on without them.
            Err(e) if e.downcast_ref::<crate::select::OldSelections>().is_some() => {
                let n = format!("Label-free selection left out: {e}.");
                selection_body.push_str(&missing(&n));
                page.notes.push(n);
                None
            }
            Err(e) => return Err(e),
        }
    } else {
        let n = format!(
            "No label-free selection yet: run `ssad select --study {} --evaluate` and rebuild the report to add it.",
            study_root.display()
        );
        selection_body.push_str(&missing(&n));
        page.notes.push(n);
        None
    };
    if let Some(selections) = selections {
        let ev = crate::select::evaluate(&selections, records)?;
        let id = format!("selection_{}", pick.name().replace('-', "_"));
        let png = fig_dir.join(format!("{id}.png"));
        crate::select::plot_selected_vs_oracle(
            crate::select::evaluate::selected_vs_oracle(&ev.tasks, pick),
            pick,
            &png,
        )?;
        let svg = png.with_extension("svg");
        let r = crate::figure::RenderedFigure {
            svg: svg.is_file().then_some(svg),
            png,
        };
        page.add_figure(
            FigureKind::Selection,
            &id,
            r,
            &format!("Selected vs oracle AUC ({})", pick.label()),
            &format!(
                "AUC of the augmentation chosen without labels ({}) against the best candidate's, one point per task ({} tasks).",
                pick.label(),
                ev.tasks.iter().filter(|t| t.criterion == pick.name()).count()
            ),
            &mut selection_body,
        );
        page.add_table(
            &table::selection_table(&ev.summaries),
            tab_dir,
            &mut selection_body,
        )?;
    }
    page.sections.push(Section {
        id: "label-free-selection".into(),
        title: "Choosing the augmentation without labels".into(),
        body: selection_body,
    });
    Ok(())
}
