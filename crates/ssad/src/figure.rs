//! The figure toolkit under the report and the selection (both draw with it; it imports
//! neither): the embedded font, the colour-blind-safe palette, marker shapes, a legend strip,
//! and rendering one figure to both SVG and PNG.
//!
//! Every figure is drawn once, as SVG, by plotters; the PNG is that SVG rasterised by resvg.
//! Fonts: plotters' `ttf` feature needs the system's fontconfig and FreeType, which a clean
//! machine lacks, so plotters is built with `ab_glyph` and measures text with DejaVu Sans
//! (embedded by the `dejavu` crate, registered as `sans-serif`); resvg draws the PNG's text
//! with the same font. Browsers showing the SVG use their `sans-serif` (DejaVu Sans on
//! Debian).

use anyhow::Context;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::{Path, PathBuf};

/// Font family every figure uses (registered from the embedded DejaVu Sans).
pub const FONT: &str = "sans-serif";

/// The Okabe-Ito palette (Okabe and Ito 2008), distinguishable under the common forms of
/// colour blindness: black, orange, sky blue, bluish green, yellow, blue, vermillion,
/// reddish purple.
pub const OKABE_ITO: [RGBColor; 8] = [
    RGBColor(0, 0, 0),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 158, 115),
    RGBColor(240, 228, 66),
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(204, 121, 167),
];

/// Series colours in order of use: Okabe-Ito without yellow (too pale on white).
pub const SERIES: [RGBColor; 7] = [
    OKABE_ITO[5],
    OKABE_ITO[6],
    OKABE_ITO[3],
    OKABE_ITO[1],
    OKABE_ITO[7],
    OKABE_ITO[2],
    OKABE_ITO[0],
];

/// Light grey for reference lines and grids.
pub const GREY: RGBColor = RGBColor(150, 150, 150);

/// Registers the embedded font once per process (idempotent, thread-safe).
pub fn ensure_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // DejaVu Sans is a valid TrueType file, so registration cannot fail.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
        let _ = plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold());
    });
}

/// Marker shape of a point (shapes double the colour coding for readers who cannot tell
/// colours apart, and for greyscale prints).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Marker {
    /// Filled circle.
    Circle,
    /// Filled square.
    Square,
    /// Filled triangle.
    Triangle,
    /// Diagonal cross.
    Cross,
    /// Filled diamond.
    Diamond,
}

/// Markers in order of use.
pub const MARKERS: [Marker; 5] = [
    Marker::Circle,
    Marker::Triangle,
    Marker::Square,
    Marker::Diamond,
    Marker::Cross,
];

/// Colour and marker of an augmentation category (`none`, `geometric`, `local`,
/// `elementwise`, `colour`, `mixed`), as in the paper's figures: one colour per category.
pub fn category_style(category: &str) -> (RGBColor, Marker) {
    match category {
        "none" => (OKABE_ITO[0], Marker::Diamond),
        "geometric" => (OKABE_ITO[5], Marker::Circle),
        "local" => (OKABE_ITO[6], Marker::Square),
        "elementwise" => (OKABE_ITO[3], Marker::Triangle),
        "colour" => (OKABE_ITO[7], Marker::Diamond),
        _ => (OKABE_ITO[1], Marker::Cross),
    }
}

/// Draws `marker` of radius `r` pixels centred at backend pixel `(x, y)`.
pub fn draw_marker<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    at: (i32, i32),
    marker: Marker,
    r: i32,
    colour: RGBColor,
) -> anyhow::Result<()> {
    let (x, y) = at;
    let fill = colour.filled();
    match marker {
        Marker::Circle => area.draw(&Circle::new((x, y), r, fill)),
        Marker::Square => area.draw(&Rectangle::new(
            [(x - r + 1, y - r + 1), (x + r - 1, y + r - 1)],
            fill,
        )),
        Marker::Triangle => area.draw(&Polygon::new(
            vec![
                (x, y - r - 1),
                (x - r - 1, y + r - 1),
                (x + r + 1, y + r - 1),
            ],
            fill,
        )),
        Marker::Diamond => area.draw(&Polygon::new(
            vec![
                (x, y - r - 1),
                (x + r + 1, y),
                (x, y + r + 1),
                (x - r - 1, y),
            ],
            fill,
        )),
        Marker::Cross => {
            let s = colour.stroke_width(3);
            area.draw(&PathElement::new(vec![(x - r, y - r), (x + r, y + r)], s))
                .map_err(draw_err)?;
            area.draw(&PathElement::new(vec![(x - r, y + r), (x + r, y - r)], s))
        }
    }
    .map_err(draw_err)
}

/// Turns a plotters drawing error into an `anyhow` error.
pub fn draw_err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow::anyhow!("drawing failed: {e}")
}

/// A text style of the figure font.
pub fn text(size: f64) -> TextStyle<'static> {
    (FONT, size).into_font().color(&BLACK)
}

/// A bold text style of the figure font.
pub fn bold(size: f64) -> TextStyle<'static> {
    (FONT, size, FontStyle::Bold).into_font().color(&BLACK)
}

/// One entry of a legend: a marker (or a filled swatch when `swatch`) and its label.
#[derive(Clone, Debug)]
pub struct LegendEntry {
    /// Label text.
    pub label: String,
    /// Colour.
    pub colour: RGBColor,
    /// Marker shape.
    pub marker: Marker,
    /// Draw a filled square swatch (histograms) instead of the marker.
    pub swatch: bool,
}

/// Draws legend entries in rows, left to right, inside `area` (a strip under or beside a
/// chart), wrapping when a row is full. Returns the height used.
pub fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    entries: &[LegendEntry],
    font: f64,
) -> anyhow::Result<i32> {
    let (w, _) = area.dim_in_pixel();
    let style = text(font);
    let row_h = (font * 1.6) as i32;
    let mut x = 10;
    let mut y = row_h / 2 + 4;
    if !title.is_empty() {
        area.draw(&Text::new(
            title.to_string(),
            (x, y),
            bold(font).pos(Pos::new(HPos::Left, VPos::Center)),
        ))
        .map_err(draw_err)?;
        x += area
            .estimate_text_size(title, &bold(font))
            .map_err(draw_err)?
            .0 as i32
            + 14;
    }
    for e in entries {
        let tw = area
            .estimate_text_size(&e.label, &style)
            .map_err(draw_err)?
            .0 as i32;
        let need = 18 + tw + 22;
        if x + need > w as i32 && x > 10 {
            x = 10;
            y += row_h;
        }
        if e.swatch {
            area.draw(&Rectangle::new(
                [(x, y - 6), (x + 12, y + 6)],
                e.colour.mix(0.45).filled(),
            ))
            .map_err(draw_err)?;
            area.draw(&Rectangle::new(
                [(x, y - 6), (x + 12, y + 6)],
                e.colour.stroke_width(2),
            ))
            .map_err(draw_err)?;
        } else {
            draw_marker(area, (x + 6, y), e.marker, 5, e.colour)?;
        }
        area.draw(&Text::new(
            e.label.clone(),
            (x + 18, y),
            style.pos(Pos::new(HPos::Left, VPos::Center)),
        ))
        .map_err(draw_err)?;
        x += need;
    }
    Ok(y + row_h / 2 + 4)
}

/// Height a legend with these entries needs in a strip `width` pixels wide.
pub fn legend_height(width: u32, title: &str, entries: &[LegendEntry], font: f64) -> u32 {
    // Width estimate without a backend: DejaVu Sans averages ~0.6 em per character.
    let est = |s: &str| (s.chars().count() as f64 * font * 0.62) as i32;
    let row_h = (font * 1.6) as i32;
    let mut x = 10;
    let mut rows = 1;
    if !title.is_empty() {
        x += est(title) + 14;
    }
    for e in entries {
        let need = 18 + est(&e.label) + 22;
        if x + need > width as i32 && x > 10 {
            x = 10;
            rows += 1;
        }
        x += need;
    }
    (rows * row_h + 10) as u32
}

/// A figure that can be drawn on any plotters backend.
pub trait Figure {
    /// Size in pixels (width, height).
    fn size(&self) -> (u32, u32);
    /// Draws the whole figure on `root` (white background already filled).
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>;
}

/// Files written for one figure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderedFigure {
    /// The PNG (shown in the page).
    pub png: PathBuf,
    /// The SVG (vector version).
    pub svg: Option<PathBuf>,
}

/// Draws `fig` as an SVG document.
pub fn svg_string<F: Figure>(fig: &F) -> anyhow::Result<String> {
    ensure_font();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, fig.size()).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        fig.draw(&root)?;
        root.present().map_err(draw_err)?;
    }
    // plotters-svg labels embedded PNGs `data:png`; browsers and resvg need the MIME type.
    Ok(svg.replace("href=\"data:png;base64,", "href=\"data:image/png;base64,"))
}

/// Fonts for rasterising: the embedded DejaVu Sans (regular and bold) as `sans-serif`.
fn raster_options() -> &'static resvg::usvg::Options<'static> {
    static OPTIONS: std::sync::OnceLock<resvg::usvg::Options<'static>> = std::sync::OnceLock::new();
    OPTIONS.get_or_init(|| {
        let mut opt = resvg::usvg::Options {
            font_family: "DejaVu Sans".into(),
            ..Default::default()
        };
        let db = opt.fontdb_mut();
        db.load_font_data(dejavu::sans::regular().to_vec());
        db.load_font_data(dejavu::sans::bold().to_vec());
        db.set_sans_serif_family("DejaVu Sans");
        opt
    })
}

/// Rasterises an SVG document (white background) with resvg.
///
/// PNGs are made from the SVG rather than with plotters' bitmap backend, whose `ab_glyph`
/// text placement is off by a pixel or two per glyph; resvg shapes text properly, and the
/// PNG is then exactly the SVG.
pub fn rasterise(svg: &str) -> anyhow::Result<image::RgbImage> {
    let tree = resvg::usvg::Tree::from_str(svg, raster_options())
        .context("plotters wrote an SVG that resvg cannot read")?;
    let size = tree.size().to_int_size();
    let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height())
        .context("figure has zero size")?;
    pixmap.fill(resvg::tiny_skia::Color::WHITE);
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::default(),
        &mut pixmap.as_mut(),
    );
    // The background is opaque, so premultiplied RGBA is plain RGBA: drop alpha.
    let rgb: Vec<u8> = pixmap
        .data()
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    image::RgbImage::from_raw(size.width(), size.height(), rgb)
        .context("raster buffer has the wrong size")
}

/// Renders `fig` to `dir/stem.svg` and `dir/stem.png` (the SVG rasterised).
pub fn render<F: Figure>(fig: &F, dir: &Path, stem: &str) -> anyhow::Result<RenderedFigure> {
    let svg = svg_string(fig).with_context(|| format!("drawing {stem}"))?;
    let svg_path = dir.join(format!("{stem}.svg"));
    ssad_core::fsio::write_atomic(&svg_path, svg.as_bytes())?;
    let img = rasterise(&svg).with_context(|| format!("rasterising {}", svg_path.display()))?;
    let png = dir.join(format!("{stem}.png"));
    ssad_core::fsio::save_png(&image::DynamicImage::ImageRgb8(img), &png)?;
    Ok(RenderedFigure {
        png,
        svg: Some(svg_path),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_have_distinct_colours() {
        let cats = [
            "none",
            "geometric",
            "local",
            "elementwise",
            "colour",
            "mixed",
        ];
        let colours: std::collections::HashSet<_> = cats
            .iter()
            .map(|c| {
                let (col, _) = category_style(c);
                (col.0, col.1, col.2)
            })
            .collect();
        assert_eq!(colours.len(), cats.len());
    }
}
