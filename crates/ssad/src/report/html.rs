//! The static page: one HTML file with inline CSS and a small inline script, no server and
//! no network. The script records, on `<body>`, whether every image loaded and whether any
//! script error or `console.error` happened (`data-report-check="ok"`), which the headless
//! browser test reads back from the DOM.

use super::table::escape;
use std::path::{Path, PathBuf};

/// Inline CSS of the page.
const CSS: &str = r#"
body { font-family: "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; margin: 0; color: #1a1a1a; background: #fff; line-height: 1.45; }
header { background: #f4f4f4; border-bottom: 1px solid #ddd; padding: 18px 32px; }
header h1 { margin: 0 0 6px 0; font-size: 26px; }
nav a { margin-right: 14px; }
main { padding: 8px 32px 40px 32px; max-width: 1280px; }
h2 { border-bottom: 2px solid #ddd; padding-bottom: 4px; margin-top: 36px; }
h4 { margin: 18px 0 4px 0; }
figure { margin: 18px 0 28px 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #e4e4e4; }
figcaption { font-size: 14px; color: #333; margin-top: 4px; max-width: 1000px; }
.note { font-size: 14px; color: #444; margin: 2px 0 6px 0; max-width: 1000px; }
.missing { background: #fff7e0; border-left: 4px solid #e69f00; padding: 8px 12px; max-width: 1000px; }
.answer { background: #eef6fb; border-left: 4px solid #0072b2; padding: 10px 16px; max-width: 1100px; }
.answer li { margin: 6px 0; }
table { border-collapse: collapse; font-size: 13px; margin: 4px 0; }
th, td { border: 1px solid #ddd; padding: 3px 8px; }
th { background: #f4f4f4; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.csv { font-size: 13px; margin: 2px 0 14px 0; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 2px 16px; font-size: 14px; }
dl.facts dt { font-weight: bold; }
dl.facts dd { margin: 0; }
code { background: #f4f4f4; padding: 0 3px; }
"#;

/// The check script: runs before anything else so it sees every error.
const CHECK_SCRIPT: &str = r#"
(function () {
  var errors = [];
  window.addEventListener('error', function (e) {
    var t = e.target;
    if (t && t.tagName === 'IMG') { errors.push('image failed: ' + t.getAttribute('src')); }
    else { errors.push(String(e.message || 'script error')); }
  }, true);
  var original = console.error;
  console.error = function () {
    errors.push(Array.prototype.join.call(arguments, ' '));
    return original.apply(console, arguments);
  };
  window.addEventListener('load', function () {
    var images = document.images, broken = [];
    for (var i = 0; i < images.length; i++) {
      if (!(images[i].complete && images[i].naturalWidth > 0)) { broken.push(images[i].getAttribute('src')); }
    }
    var b = document.body;
    b.setAttribute('data-images', String(images.length));
    b.setAttribute('data-images-broken', broken.join(' '));
    b.setAttribute('data-errors', String(errors.length));
    b.setAttribute('data-error-text', errors.join(' | '));
    b.setAttribute('data-report-check', (images.length > 0 && broken.length === 0 && errors.length === 0) ? 'ok' : 'fail');
  });
})();
"#;

/// A section of the page.
#[derive(Clone, Debug)]
pub struct Section {
    /// Anchor id.
    pub id: String,
    /// Heading.
    pub title: String,
    /// Inner HTML.
    pub body: String,
}

/// A figure block: the PNG (linking to the vector file when there is one) and its caption.
pub fn figure(
    number: usize,
    id: &str,
    png: &str,
    svg: Option<&str>,
    alt: &str,
    caption: &str,
) -> String {
    let links = match svg {
        Some(s) => format!(
            " <a href=\"{}\">SVG</a> · <a href=\"{}\">PNG</a>",
            escape(s),
            escape(png)
        ),
        None => format!(" <a href=\"{}\">PNG</a>", escape(png)),
    };
    format!(
        "<figure id=\"{id}\"><a href=\"{href}\"><img src=\"{png}\" alt=\"{alt}\"></a><figcaption><strong>Figure {number}.</strong> {caption}{links}</figcaption></figure>\n",
        id = escape(id),
        href = escape(svg.unwrap_or(png)),
        png = escape(png),
        alt = escape(alt),
        caption = escape(caption),
    )
}

/// A boxed note saying why something is not shown.
pub fn missing(text: &str) -> String {
    format!("<p class=\"missing\">{}</p>\n", escape(text))
}

/// A paragraph of plain text.
pub fn para(text: &str) -> String {
    format!("<p class=\"note\">{}</p>\n", escape(text))
}

/// The whole page.
pub fn page(title: &str, subtitle_html: &str, sections: &[Section]) -> String {
    let mut nav = String::new();
    for s in sections {
        nav.push_str(&format!(
            "<a href=\"#{}\">{}</a>",
            escape(&s.id),
            escape(&s.title)
        ));
    }
    let mut body = String::new();
    for s in sections {
        body.push_str(&format!(
            "<section id=\"{}\"><h2>{}</h2>\n{}</section>\n",
            escape(&s.id),
            escape(&s.title),
            s.body
        ));
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t}</title><script>{CHECK_SCRIPT}</script><style>{CSS}</style></head>\n<body>\
         <header><h1>{t}</h1><div>{subtitle_html}</div><nav>{nav}</nav></header>\n<main>\n{body}</main></body></html>\n",
        t = escape(title),
    )
}

/// Writes the page of `sections` as `out/index.html` (its subtitle names the study, its
/// folder and the command that rebuilds the report) and returns its path.
pub fn write_page(
    out: &Path,
    study_root: &Path,
    name: &str,
    runs: usize,
    sections: &[Section],
) -> anyhow::Result<PathBuf> {
    let subtitle = format!(
        "Study <code>{}</code> in <code>{}</code>: {} runs. Regenerate with <code>ssad report {} --out {}</code>.",
        escape(name),
        escape(&study_root.display().to_string()),
        runs,
        escape(&study_root.display().to_string()),
        escape(&out.display().to_string())
    );
    let html = page(
        &format!("Augmentation study report — {name}"),
        &subtitle,
        sections,
    );
    let index = out.join("index.html");
    ssad_core::fsio::write_atomic(&index, html.as_bytes())?;
    Ok(index)
}
