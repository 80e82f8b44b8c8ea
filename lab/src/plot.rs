//! PNG plots of a comparison (feature `plots`): learning curves with seed
//! bands, decision regions, fitted curves, and activation-group statistics.
//!
//! Text is rendered in pure Rust from the bundled DejaVu Sans, so plotting
//! needs no system font library.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;

use super::results::Results;
use mixact::{Error, Result};

const FONT: &str = "sans-serif";

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../assets/DejaVuSans.ttf");
        // The bundled font is valid; if registration failed, text would be
        // missing from the plots, which the drawing call then reports.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, bytes);
    });
}

fn plot_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Io {
        path: path.display().to_string(),
        message: format!("plotting failed: {e}"),
    }
}

fn color(i: usize) -> RGBColor {
    const COLORS: [RGBColor; 16] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
        RGBColor(188, 189, 34),
        RGBColor(23, 190, 207),
        RGBColor(0, 0, 0),
        RGBColor(255, 215, 0),
        RGBColor(0, 100, 0),
        RGBColor(128, 0, 0),
        RGBColor(0, 0, 128),
        RGBColor(255, 0, 255),
    ];
    COLORS[i % COLORS.len()]
}

/// The short line that stands for a series in a legend.
fn legend_mark(x: i32, y: i32, col: RGBColor) -> PathElement<(i32, i32)> {
    PathElement::new(vec![(x, y), (x + 18, y)], col.stroke_width(2))
}

/// Draws the series legend of a line chart, the same way on every plot.
fn draw_legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<
        'a,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    path: &Path,
) -> Result<()> {
    chart
        .configure_series_labels()
        .label_font((FONT, 13))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| plot_err(path, e))
}

/// File-name-safe form of a name.
pub fn slug(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Mean training loss per epoch of each configuration on `task`, with a
/// band from the lowest to the highest seed. Returns the file name written in `dir`.
///
/// # Errors
/// [`Error::Io`] when the image cannot be drawn or written.
pub fn learning_curves(
    dir: &Path,
    results: &Results,
    task: &str,
    configs: &[String],
) -> Result<String> {
    register_font();
    let name = format!("curves_{}.png", slug(task));
    let path = dir.join(&name);
    // config -> epoch -> losses over seeds
    let mut series: BTreeMap<&str, BTreeMap<usize, Vec<f64>>> = BTreeMap::new();
    for p in results
        .curves
        .iter()
        .filter(|p| p.task == task && p.loss.is_finite())
    {
        if configs.contains(&p.config) {
            series
                .entry(&p.config)
                .or_default()
                .entry(p.epoch)
                .or_default()
                .push(p.loss);
        }
    }
    let max_epoch = series
        .values()
        .flat_map(|e| e.keys())
        .max()
        .copied()
        .unwrap_or(1)
        .max(1);
    let ymax = series
        .values()
        .flat_map(|e| e.values().flatten())
        .copied()
        .fold(0.0_f64, f64::max)
        .max(1e-9);
    let root = BitMapBackend::new(&path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_err(&path, e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{task}: training loss (mean, band = min..max over seeds)"),
            (FONT, 20),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..max_epoch as f64, 0.0..ymax * 1.02)
        .map_err(|e| plot_err(&path, e))?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc("loss")
        .label_style((FONT, 13))
        .draw()
        .map_err(|e| plot_err(&path, e))?;
    for (i, c) in configs.iter().enumerate() {
        let Some(epochs) = series.get(c.as_str()) else {
            continue;
        };
        let col = color(i);
        let lo: Vec<(f64, f64)> = epochs
            .iter()
            .map(|(&e, v)| (e as f64, v.iter().copied().fold(f64::INFINITY, f64::min)))
            .collect();
        let hi: Vec<(f64, f64)> = epochs
            .iter()
            .map(|(&e, v)| {
                (
                    e as f64,
                    v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                )
            })
            .collect();
        let band: Vec<(f64, f64)> = lo.iter().copied().chain(hi.iter().rev().copied()).collect();
        chart
            .draw_series(std::iter::once(Polygon::new(band, col.mix(0.15))))
            .map_err(|e| plot_err(&path, e))?;
        let mean: Vec<(f64, f64)> = epochs
            .iter()
            .map(|(&e, v)| (e as f64, v.iter().sum::<f64>() / v.len() as f64))
            .collect();
        chart
            .draw_series(LineSeries::new(mean, col.stroke_width(2)))
            .map_err(|e| plot_err(&path, e))?
            .label(c.clone())
            .legend(move |(x, y)| legend_mark(x, y, col));
    }
    draw_legend(&mut chart, &path)?;
    root.present().map_err(|e| plot_err(&path, e))?;
    Ok(name)
}

/// Decision regions (probability of class 1 on [-1.2, 1.2]², first seed) of
/// two configurations side by side.
///
/// # Errors
/// [`Error::Io`] when the image cannot be drawn or written.
pub fn decision_regions(
    dir: &Path,
    results: &Results,
    task: &str,
    left: &str,
    right: &str,
) -> Result<String> {
    register_font();
    let name = format!("regions_{}.png", slug(task));
    let path = dir.join(&name);
    let root = BitMapBackend::new(&path, (1000, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_err(&path, e))?;
    let (a, b) = root.split_horizontally(500);
    for (area, config) in [(a, left), (b, right)] {
        let points: Vec<_> = results
            .surfaces
            .iter()
            .filter(|p| p.task == task && p.config == config)
            .collect();
        let mut chart = ChartBuilder::on(&area)
            .caption(format!("{task}: {config}"), (FONT, 18))
            .margin(10)
            .x_label_area_size(28)
            .y_label_area_size(36)
            .build_cartesian_2d(-1.2..1.2, -1.2..1.2)
            .map_err(|e| plot_err(&path, e))?;
        chart
            .configure_mesh()
            .disable_mesh()
            .label_style((FONT, 12))
            .draw()
            .map_err(|e| plot_err(&path, e))?;
        let step = 2.4 / 63.0;
        chart
            .draw_series(points.iter().map(|p| {
                let v = p.value.clamp(0.0, 1.0);
                let c = RGBColor(
                    (255.0 * v) as u8,
                    (90.0 + 60.0 * (1.0 - (2.0 * v - 1.0).abs())) as u8,
                    (255.0 * (1.0 - v)) as u8,
                );
                Rectangle::new(
                    [
                        (p.x - step / 2.0, p.y - step / 2.0),
                        (p.x + step / 2.0, p.y + step / 2.0),
                    ],
                    c.filled(),
                )
            }))
            .map_err(|e| plot_err(&path, e))?;
    }
    root.present().map_err(|e| plot_err(&path, e))?;
    Ok(name)
}

/// The fitted 1-D curves (first seed) of the given configurations.
///
/// # Errors
/// [`Error::Io`] when the image cannot be drawn or written.
pub fn fitted_curves(
    dir: &Path,
    results: &Results,
    task: &str,
    configs: &[String],
) -> Result<String> {
    register_font();
    let name = format!("fit_{}.png", slug(task));
    let path = dir.join(&name);
    let pts: Vec<_> = results.surfaces.iter().filter(|p| p.task == task).collect();
    let (xmin, xmax) = pts
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p.x), b.max(p.x))
        });
    let (ymin, ymax) = pts
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p.value), b.max(p.value))
        });
    if !xmin.is_finite() {
        return Err(plot_err(&path, "no curve data for this task"));
    }
    let pad = 0.05 * (ymax - ymin).max(1e-6);
    let root = BitMapBackend::new(&path, (900, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_err(&path, e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("{task}: fitted curves (first seed)"), (FONT, 20))
        .margin(12)
        .x_label_area_size(32)
        .y_label_area_size(50)
        .build_cartesian_2d(xmin..xmax, (ymin - pad)..(ymax + pad))
        .map_err(|e| plot_err(&path, e))?;
    chart
        .configure_mesh()
        .x_desc("x")
        .y_desc("prediction")
        .label_style((FONT, 13))
        .draw()
        .map_err(|e| plot_err(&path, e))?;
    for (i, c) in configs.iter().enumerate() {
        let line: Vec<(f64, f64)> = pts
            .iter()
            .filter(|p| &p.config == c)
            .map(|p| (p.x, p.value))
            .collect();
        let col = color(i);
        chart
            .draw_series(LineSeries::new(line, col.stroke_width(2)))
            .map_err(|e| plot_err(&path, e))?
            .label(c.clone())
            .legend(move |(x, y)| legend_mark(x, y, col));
    }
    draw_legend(&mut chart, &path)?;
    root.present().map_err(|e| plot_err(&path, e))?;
    Ok(name)
}

/// Per activation group of the mixed networks (averaged over seeds and
/// layers): the flat (dead or saturated) fraction over all tasks, and the
/// accuracy drop when the group is zeroed over the classification tasks.
///
/// # Errors
/// [`Error::Io`] when the image cannot be drawn or written.
pub fn activation_groups(dir: &Path, results: &Results) -> Result<String> {
    register_font();
    let name = "activation_groups.png".to_string();
    let path = dir.join(&name);
    let summaries = results.group_summaries();
    let flat: Vec<f64> = summaries.iter().map(|s| s.flat_fraction).collect();
    let drop: Vec<f64> = summaries.iter().map(|s| 100.0 * s.accuracy_drop).collect();
    let rows = summaries.len().max(1);
    let root = BitMapBackend::new(&path, (1100, (60 + 26 * rows) as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_err(&path, e))?;
    let (left, right) = root.split_horizontally(620);
    let labels: Vec<String> = summaries
        .iter()
        .map(|s| format!("{} in {}", s.activation, s.config))
        .collect();
    for (area, values, title, label_width) in [
        (
            left,
            &flat,
            "flat fraction: |f'(z)| < 0.01 (all tasks)",
            330,
        ),
        (right, &drop, "accuracy drop (points) when zeroed", 10),
    ] {
        let lo = values.iter().copied().fold(0.0_f64, f64::min);
        let hi = values
            .iter()
            .copied()
            .fold(0.0_f64, f64::max)
            .max(lo + 1e-6);
        let mut chart = ChartBuilder::on(&area)
            .caption(title, (FONT, 15))
            .margin(8)
            .x_label_area_size(24)
            .y_label_area_size(label_width)
            .build_cartesian_2d(lo..hi * 1.05, 0.0..rows as f64)
            .map_err(|e| plot_err(&path, e))?;
        let labels = labels.clone();
        let show_labels = label_width > 100;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(rows * 2 + 1)
            .y_label_formatter(&move |y| {
                let i = y.floor() as usize;
                if show_labels && (y - i as f64 - 0.5).abs() < 0.26 {
                    labels.get(i).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .label_style((FONT, 11))
            .draw()
            .map_err(|e| plot_err(&path, e))?;
        chart
            .draw_series(values.iter().enumerate().map(|(i, &v)| {
                Rectangle::new(
                    [(0.0, i as f64 + 0.15), (v, i as f64 + 0.85)],
                    color(i).filled(),
                )
            }))
            .map_err(|e| plot_err(&path, e))?;
    }
    root.present().map_err(|e| plot_err(&path, e))?;
    Ok(name)
}

/// A heatmap of signed values (rows x columns) saved as `file` in `dir`:
/// blue where positive, red where negative, white at zero, each cell
/// labelled with its value and a `*` where `marks` says so. The colour scale
/// is symmetric around zero and set by the largest magnitude.
///
/// # Errors
/// [`Error::Io`] when the file cannot be drawn or written.
#[allow(clippy::too_many_arguments)]
pub fn heatmap(
    dir: &Path,
    file: &str,
    title: &str,
    x_name: &str,
    x_labels: &[String],
    y_name: &str,
    y_labels: &[String],
    values: &[Vec<f64>],
    marks: &[Vec<bool>],
) -> Result<String> {
    register_font();
    let path = dir.join(file);
    let (cw, ch, left, top) = (110i32, 70i32, 110i32, 60i32);
    let width = (left + cw * x_labels.len() as i32 + 30) as u32;
    let height = (top + ch * y_labels.len() as i32 + 70) as u32;
    let title_width = 20 + 10 * title.chars().count() as u32;
    let root =
        BitMapBackend::new(&path, (width.max(title_width).max(480), height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_err(&path, e))?;
    let scale = values
        .iter()
        .flatten()
        .filter(|v| v.is_finite())
        .fold(0.0_f64, |m, v| m.max(v.abs()))
        .max(1e-12);
    let text = |s: &str, x: i32, y: i32, size: u32| {
        root.draw(&Text::new(s.to_string(), (x, y), (FONT, size)))
            .map_err(|e| plot_err(&path, e))
    };
    text(title, 10, 10, 18)?;
    for (r, row) in values.iter().enumerate() {
        let y0 = top + ch * r as i32;
        text(
            &format!("{y_name} {}", y_labels[r]),
            10,
            y0 + ch / 2 - 8,
            14,
        )?;
        for (c, &v) in row.iter().enumerate() {
            let x0 = left + cw * c as i32;
            let t = if v.is_finite() {
                (v / scale).clamp(-1.0, 1.0)
            } else {
                0.0
            };
            let fade = |full: u8| (255.0 - (255.0 - full as f64) * t.abs()).round() as u8;
            let fill = if !v.is_finite() {
                RGBColor(200, 200, 200)
            } else if t >= 0.0 {
                RGBColor(fade(33), fade(102), fade(172))
            } else {
                RGBColor(fade(178), fade(24), fade(43))
            };
            root.draw(&Rectangle::new(
                [(x0, y0), (x0 + cw, y0 + ch)],
                fill.filled(),
            ))
            .map_err(|e| plot_err(&path, e))?;
            root.draw(&Rectangle::new(
                [(x0, y0), (x0 + cw, y0 + ch)],
                BLACK.stroke_width(1),
            ))
            .map_err(|e| plot_err(&path, e))?;
            let mark = if marks[r][c] { " *" } else { "" };
            let label = if v.is_finite() {
                format!("{v:+.3}{mark}")
            } else {
                "n/a".into()
            };
            // White text on the darker half of the scale.
            let ink = if t.abs() > 0.6 { WHITE } else { BLACK };
            root.draw(&Text::new(
                label,
                (x0 + 12, y0 + ch / 2 - 8),
                (FONT, 15).into_font().color(&ink),
            ))
            .map_err(|e| plot_err(&path, e))?;
        }
    }
    let bottom = top + ch * y_labels.len() as i32;
    for (c, l) in x_labels.iter().enumerate() {
        text(
            &format!("{x_name} {l}"),
            left + cw * c as i32 + 12,
            bottom + 8,
            14,
        )?;
    }
    text(
        "blue: mix better, red: worse; * Holm-corrected p < 0.05",
        10,
        bottom + 36,
        13,
    )?;
    root.present().map_err(|e| plot_err(&path, e))?;
    Ok(file.to_string())
}

/// One row of a forest plot: an error ratio and its interval.
#[derive(Debug, Clone, PartialEq)]
pub struct ForestRow {
    /// What the row is ("all tasks: mask relu+sin").
    pub label: String,
    /// The ratio.
    pub ratio: f64,
    /// Interval, low end.
    pub low: f64,
    /// Interval, high end.
    pub high: f64,
}

/// Ticks on a ratio axis that read well.
const RATIO_TICKS: [f64; 17] = [
    0.1, 0.2, 0.25, 0.33, 0.5, 0.67, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 10.0,
];

/// A forest plot: one row per effect, the ratio as a dot and its 95%
/// interval as a bar on a log scale, a line at 1 (no difference) and dashed
/// lines at the equivalence margin `1 ± margin`. Row groups are separated
/// by a `None` entry in `rows` (drawn as a gap). Returns the file name.
///
/// # Errors
/// [`Error::Io`] when the file cannot be drawn or written.
pub fn forest(
    dir: &Path,
    file: &str,
    title: &str,
    rows: &[Option<ForestRow>],
    margin: f64,
) -> Result<String> {
    register_font();
    let path = dir.join(file);
    let (label_w, plot_w, row_h, top) = (330i32, 520i32, 22i32, 56i32);
    let width = (label_w + plot_w + 40) as u32;
    let height = (top + row_h * rows.len().max(1) as i32 + 70) as u32;
    let root = BitMapBackend::new(&path, (width, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_err(&path, e))?;
    let finite = |v: f64| v.is_finite() && v > 0.0;
    let (mut lo, mut hi) = ((1.0 - margin).ln(), (1.0 + margin).ln());
    for r in rows.iter().flatten() {
        for v in [r.low, r.high, r.ratio] {
            if finite(v) {
                lo = lo.min(v.ln());
                hi = hi.max(v.ln());
            }
        }
    }
    let pad = 0.05 * (hi - lo);
    let (lo, hi) = (lo - pad, hi + pad);
    let x_of = |v: f64| label_w + ((v.ln() - lo) / (hi - lo) * plot_w as f64).round() as i32;
    let draw = |e: &dyn Fn() -> std::result::Result<(), DrawingAreaErrorKind<_>>| {
        e().map_err(|e| plot_err(&path, e))
    };
    let text = |s: &str, x: i32, y: i32, size: u32| {
        root.draw(&Text::new(s.to_string(), (x, y), (FONT, size)))
            .map_err(|e| plot_err(&path, e))
    };
    text(title, 10, 10, 17)?;
    let bottom = top + row_h * rows.len() as i32;
    // Reference lines: 1, and the margin (dashed as short segments).
    draw(&|| {
        root.draw(&PathElement::new(
            vec![(x_of(1.0), top - 6), (x_of(1.0), bottom)],
            BLACK.stroke_width(1),
        ))
    })?;
    for m in [1.0 - margin, 1.0 + margin] {
        let x = x_of(m);
        let mut y = top - 6;
        while y < bottom {
            draw(&|| {
                root.draw(&PathElement::new(
                    vec![(x, y), (x, (y + 4).min(bottom))],
                    RGBColor(150, 150, 150).stroke_width(1),
                ))
            })?;
            y += 8;
        }
    }
    for (i, row) in rows.iter().enumerate() {
        let Some(r) = row else { continue };
        let y = top + row_h * i as i32 + row_h / 2;
        let label: String = r.label.chars().take(46).collect();
        text(&label, 10, y - 7, 13)?;
        if !(finite(r.low) && finite(r.high) && finite(r.ratio)) {
            text("n/a", label_w + 4, y - 7, 13)?;
            continue;
        }
        let col = if r.high < 1.0 {
            RGBColor(33, 102, 172)
        } else if r.low > 1.0 {
            RGBColor(178, 24, 43)
        } else {
            RGBColor(60, 60, 60)
        };
        draw(&|| {
            root.draw(&PathElement::new(
                vec![(x_of(r.low), y), (x_of(r.high), y)],
                col.stroke_width(2),
            ))
        })?;
        draw(&|| root.draw(&Circle::new((x_of(r.ratio), y), 4, col.filled())))?;
    }
    // From 1 outwards, skipping a tick whose label would touch a drawn one.
    let mut ticks: Vec<f64> = RATIO_TICKS
        .iter()
        .copied()
        .filter(|t| t.ln() >= lo && t.ln() <= hi)
        .collect();
    ticks.sort_by(|a, b| a.ln().abs().total_cmp(&b.ln().abs()));
    let mut drawn: Vec<i32> = Vec::new();
    for t in ticks {
        let x = x_of(t);
        if drawn.iter().any(|&d| (d - x).abs() < 34) {
            continue;
        }
        drawn.push(x);
        draw(&|| {
            root.draw(&PathElement::new(
                vec![(x, bottom), (x, bottom + 5)],
                BLACK.stroke_width(1),
            ))
        })?;
        let label = format!("{t}");
        text(&label, x - 3 * label.len() as i32, bottom + 8, 12)?;
    }
    text(
        &format!(
            "test-error ratio to the best single activation (log scale; 95% interval; dashed: ±{:.0}% margin); blue: less error, red: more",
            margin * 100.0
        ),
        10,
        bottom + 32,
        12,
    )?;
    root.present().map_err(|e| plot_err(&path, e))?;
    Ok(file.to_string())
}

/// One cell of an error-ratio heatmap.
#[derive(Debug, Clone, PartialEq)]
pub struct RatioCell {
    /// The error ratio.
    pub ratio: f64,
    /// True when its 95% interval excludes 1.
    pub excludes_one: bool,
    /// What was compared, short ("gelu+sin vs sin").
    pub note: String,
}

/// The diverging colour of `log_ratio` on a scale of ±`scale`: blue for less
/// error, red for more, white at 1.
fn ratio_color(log_ratio: f64, scale: f64) -> (RGBColor, f64) {
    let t = (log_ratio / scale).clamp(-1.0, 1.0);
    let fade = |full: u8| (255.0 - (255.0 - full as f64) * t.abs()).round() as u8;
    let c = if t <= 0.0 {
        RGBColor(fade(33), fade(102), fade(172))
    } else {
        RGBColor(fade(178), fade(24), fade(43))
    };
    (c, t)
}

/// An error-ratio heatmap (rows `y_labels`, columns `x_labels`) on a log
/// scale of ±`scale` (natural log) shared by every map of a report, with
/// the colour bar drawn under it, the ratio and the comparison named in each
/// cell, and `*` where the interval excludes 1. Returns the file name.
///
/// # Errors
/// [`Error::Io`] when the file cannot be drawn or written.
#[allow(clippy::too_many_arguments)]
pub fn ratio_heatmap(
    dir: &Path,
    file: &str,
    title: &str,
    x_name: &str,
    x_labels: &[String],
    y_name: &str,
    y_labels: &[String],
    cells: &[Vec<Option<RatioCell>>],
    scale: f64,
) -> Result<String> {
    register_font();
    let path = dir.join(file);
    let (cw, ch, left, top) = (120i32, 62i32, 90i32, 50i32);
    let width = (left + cw * x_labels.len() as i32 + 30) as u32;
    let height = (top + ch * y_labels.len() as i32 + 120) as u32;
    let title_width = 20 + 9 * title.chars().count() as u32;
    let root =
        BitMapBackend::new(&path, (width.max(title_width).max(560), height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_err(&path, e))?;
    let text = |s: &str, x: i32, y: i32, size: u32, ink: &RGBColor| {
        root.draw(&Text::new(
            s.to_string(),
            (x, y),
            (FONT, size).into_font().color(ink),
        ))
        .map_err(|e| plot_err(&path, e))
    };
    let rect = |x0: i32, y0: i32, x1: i32, y1: i32, fill: RGBColor| {
        root.draw(&Rectangle::new([(x0, y0), (x1, y1)], fill.filled()))
            .map_err(|e| plot_err(&path, e))
    };
    text(title, 10, 10, 16, &BLACK)?;
    for (r, row) in cells.iter().enumerate() {
        let y0 = top + ch * r as i32;
        text(
            &format!("{y_name} {}", y_labels[r]),
            10,
            y0 + ch / 2 - 8,
            14,
            &BLACK,
        )?;
        for (c, cell) in row.iter().enumerate() {
            let x0 = left + cw * c as i32;
            let (fill, t, line1, line2) = match cell {
                Some(v) if v.ratio.is_finite() && v.ratio > 0.0 => {
                    let (fill, t) = ratio_color(v.ratio.ln(), scale);
                    let mark = if v.excludes_one { " *" } else { "" };
                    (fill, t, format!("{:.2}{mark}", v.ratio), v.note.clone())
                }
                _ => (RGBColor(200, 200, 200), 0.0, "n/a".into(), String::new()),
            };
            rect(x0, y0, x0 + cw, y0 + ch, fill)?;
            root.draw(&Rectangle::new(
                [(x0, y0), (x0 + cw, y0 + ch)],
                BLACK.stroke_width(1),
            ))
            .map_err(|e| plot_err(&path, e))?;
            let ink = if t.abs() > 0.6 { WHITE } else { BLACK };
            text(&line1, x0 + 8, y0 + 10, 16, &ink)?;
            let note: String = line2.chars().take(18).collect();
            text(&note, x0 + 8, y0 + 36, 11, &ink)?;
        }
    }
    let bottom = top + ch * y_labels.len() as i32;
    for (c, l) in x_labels.iter().enumerate() {
        text(
            &format!("{x_name} {l}"),
            left + cw * c as i32 + 12,
            bottom + 8,
            14,
            &BLACK,
        )?;
    }
    // The shared colour bar, ratio labels on a log scale.
    let (bar_x, bar_y, bar_w, bar_h) = (left, bottom + 40, 360i32, 14i32);
    for i in 0..bar_w {
        let l = (2.0 * i as f64 / (bar_w - 1) as f64 - 1.0) * scale;
        let (c, _) = ratio_color(l, scale);
        rect(bar_x + i, bar_y, bar_x + i + 1, bar_y + bar_h, c)?;
    }
    let mut ticks: Vec<f64> = RATIO_TICKS
        .iter()
        .copied()
        .filter(|t| t.ln().abs() <= scale + 1e-9)
        .collect();
    ticks.sort_by(|a, b| a.ln().abs().total_cmp(&b.ln().abs()));
    let mut drawn: Vec<i32> = Vec::new();
    for t in ticks {
        let x = bar_x + ((t.ln() / scale + 1.0) / 2.0 * (bar_w - 1) as f64).round() as i32;
        if drawn.iter().any(|&d| (d - x).abs() < 30) {
            continue;
        }
        drawn.push(x);
        root.draw(&PathElement::new(
            vec![(x, bar_y + bar_h), (x, bar_y + bar_h + 4)],
            BLACK.stroke_width(1),
        ))
        .map_err(|e| plot_err(&path, e))?;
        let label = format!("{t}");
        text(
            &label,
            x - 3 * label.len() as i32,
            bar_y + bar_h + 6,
            11,
            &BLACK,
        )?;
    }
    text(
        "test-error ratio (mix / best single), same scale on every map; * 95% CI excludes 1",
        10,
        bar_y + bar_h + 26,
        12,
        &BLACK,
    )?;
    root.present().map_err(|e| plot_err(&path, e))?;
    Ok(file.to_string())
}
