//! Sections 3-5, figures from the saved models of one task: reconstructions, score
//! histograms and t-SNE maps. The task and its DAEs are chosen by [`crate::report::choose`];
//! the models are loaded and run by [`models::task_figures`].

use super::unless_write_failure;
use crate::report::choose::{choose_task, default_daes};
use crate::report::html::{missing, Section};
use crate::report::models;
use crate::report::table;
use crate::report::{Ctx, FigureKind, Page};
use anyhow::Context;

/// Sections 3-5: reconstructions, score histograms and t-SNE maps from one task's saved models.
pub(crate) fn section_model_figures(c: &Ctx<'_>, page: &mut Page) -> anyhow::Result<()> {
    let Ctx {
        opts,
        factory,
        study,
        cfg,
        records,
        summary,
        fig_dir,
        main_augs,
        ..
    } = c;
    // 3-5. Figures from the saved models of one task.
    let mut recon_body = String::new();
    let mut hist_body = String::new();
    let mut tsne_body = String::new();
    let task_result: anyhow::Result<()> = (|| {
        anyhow::ensure!(cfg.save_models, "this study did not save its models (save_models = false), so figures from models (reconstructions, error histograms, t-SNE) cannot be made");
        let task = choose_task(cfg, opts)?;
        // Self-tuned augmentations are left out: each of their models belongs to one task
        // (and augments with the values it ended with), not to the task's one training.
        let trained: Vec<String> = main_augs
            .iter()
            .filter(|a| !ssad_augment::is_self_tuned(a))
            .filter(|a| {
                records.iter().any(|r| {
                    &r.key.aug == *a
                        && r.key.dataset == task.dataset
                        && r.key.normal == task.normal
                        && r.key.seed == task.seed
                })
            })
            .cloned()
            .collect();
        let daes = if opts.dae.is_empty() {
            default_daes(cfg, summary, &task.testbed, &trained)
        } else {
            opts.dae
                .iter()
                .map(|a| {
                    ssad_augment::parse(a)
                        .map(|s| s.to_string())
                        .with_context(|| format!("--dae '{a}'"))
                })
                .collect::<anyhow::Result<_>>()?
        };
        let tf = models::task_figures(
            study,
            cfg,
            records,
            &task,
            &trained,
            &daes,
            &opts.data_dir,
            &opts.settings,
            *factory,
            opts.device,
        )?;
        let stem = table::slug(&[
            &task.dataset.to_string(),
            &task.normal.to_string(),
            &format!("s{}", task.seed),
            task.testbed.name(),
        ]);
        let id = format!("reconstructions_{stem}");
        let r = crate::figure::render(&tf.recon, fig_dir, &id)?;
        page.add_figure(
            FigureKind::Reconstruction,
            &id,
            r,
            &tf.recon.title,
            &format!("{} (paper Fig. 5). A DAE whose augmentation matches the anomalies tends to reconstruct them as normal-looking images, which raises their error.", tf.recon.title),
            &mut recon_body,
        );
        let id = format!("histograms_{stem}");
        let r = crate::figure::render(&tf.hist, fig_dir, &id)?;
        page.add_figure(
            FigureKind::Histogram,
            &id,
            r,
            &tf.hist.title,
            &format!("{} (paper Fig. 6). The less the normal and anomalous errors overlap, the higher the AUC; the augmented training data shows what the model learned to treat as normal.", tf.hist.title),
            &mut hist_body,
        );
        for (grid, what) in [(&tf.tsne_group, "group"), (&tf.tsne_score, "score")] {
            let id = format!("tsne_{what}_{stem}");
            let r = crate::figure::render(grid, fig_dir, &id)?;
            page.add_figure(
                FigureKind::Tsne,
                &id,
                r,
                &grid.title,
                &format!("{} (paper Figs. 7-8).", grid.title),
                &mut tsne_body,
            );
        }
        Ok(())
    })();
    if let Err(e) = task_result {
        let e = unless_write_failure(e)?;
        let n = format!("Figures from the saved models are not available: {e:#}.");
        for b in [&mut recon_body, &mut hist_body, &mut tsne_body] {
            b.push_str(&missing(&n));
        }
        page.notes.push(n);
    }
    page.sections.push(Section {
        id: "reconstructions".into(),
        title: "Reconstructions".into(),
        body: recon_body,
    });
    page.sections.push(Section {
        id: "histograms".into(),
        title: "Reconstruction-error histograms".into(),
        body: hist_body,
    });
    page.sections.push(Section {
        id: "tsne".into(),
        title: "t-SNE of embeddings".into(),
        body: tsne_body,
    });
    Ok(())
}
