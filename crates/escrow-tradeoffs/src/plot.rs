//! The two SVG plots, drawn by plotters into a `String`.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::model::{Distributions, Risk};
use crate::{validate, TradeoffError};

/// Probabilities below this (exact zeros included) are drawn at this value, since a
/// log axis has no zero; each plot's footnote says so.
pub const PLOT_FLOOR: f64 = 1e-12;

/// The trustee counts of the frontier plot when none are given.
pub const DEFAULT_FRONTIER_NS: [u16; 5] = [3, 5, 7, 9, 15];

const SIZE: (u32, u32) = (1040, 600);
const FOOTNOTE_HEIGHT: u32 = 44;
const LEGEND_WIDTH: u32 = 340;
const FONT: &str = "sans-serif";
const UNAUTHORIZED: &str = "unauthorized access (>= t+1 compromised)";
const FAILS: &str = "lawful access fails (< t+1 available)";
const MAJORITY: &str = "majority quorum, t = floor(n/2)";
const RISK_NOTE: &str = "Exact binomial probabilities; points are the integer thresholds t.";
const FRONTIER_NOTE: &str = "Each point is one threshold t: t = 0 is the bottom-right end of a \
                             line, t = n-1 the top-left end. Down and left is safer.";

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// One line of the legend panel right of the chart.
struct LegendEntry {
    label: String,
    color: RGBAColor,
    /// Dashed line with crosses (the majority line) rather than solid with circles.
    dashed: bool,
}

/// Plot 1, "risk vs threshold": both risks of `n` trustees against `t = 0..n`, on a
/// log10 probability axis, titled with `n`, `p` and `q`.
pub fn plot_risk_vs_threshold(n: u16, p: f64, q: f64) -> Result<String, TradeoffError> {
    const PLOT: &str = "risk vs threshold";
    validate(n, None, p, q)?;
    let dist = Distributions::new(n, p, q);
    let risks: Vec<(i32, Risk)> = (0..n).map(|t| (i32::from(t), dist.risk(t))).collect();
    let y_min = axis_min(risks.iter().flat_map(|(_, r)| [r.unauthorized, r.fails]));
    let title = format!("Risk vs threshold: n = {n} trustees, p = {p}, q = {q}");
    let unauthorized = risks.iter().map(|(t, r)| (*t, floored(r.unauthorized)));
    let fails = risks.iter().map(|(t, r)| (*t, floored(r.fails)));
    let series =
        [(UNAUTHORIZED, RED.to_rgba(), unauthorized.collect::<Vec<_>>()), (FAILS, BLUE.to_rgba(), fails.collect())];

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        let (chart_area, legend_area) = frame(&root, &title, &[RISK_NOTE, &floor_note()], PLOT)?;
        let t_max = i32::from(n) - 1;
        let mut chart = ChartBuilder::on(&chart_area)
            .margin(14)
            .x_label_area_size(50)
            .y_label_area_size(80)
            // A one-trustee plot still needs a non-empty x range.
            .build_cartesian_2d(0..t_max.max(1), (y_min..1.0).log_scale())
            .map_err(drawing(PLOT))?;
        chart
            .configure_mesh()
            .x_desc("threshold t (t + 1 shares open)")
            .y_desc("probability (log10 scale)")
            .x_labels(usize::from(n).clamp(2, 16))
            .y_label_formatter(&|v| format!("{v:.0e}"))
            .axis_desc_style((FONT, 18))
            .draw()
            .map_err(drawing(PLOT))?;
        let mut legend = Vec::new();
        for (label, color, points) in series {
            chart.draw_series(LineSeries::new(points, color.stroke_width(2)).point_size(4)).map_err(drawing(PLOT))?;
            legend.push(LegendEntry { label: label.to_owned(), color, dashed: false });
        }
        draw_legend(&legend_area, &legend, PLOT)?;
        root.present().map_err(drawing(PLOT))?;
    }
    Ok(svg)
}

/// Plot 2, "the frontier": for each `n` in `ns`, every threshold `t` is one point
/// (P(unauthorized), P(lawful access fails)) on log-log axes, one line per `n`; a
/// dashed line joins the majority quorums `t = floor(n/2)` to show whether growing the
/// committee with a proportional threshold lowers both risks: steeply when `p` and `q`
/// are small, barely as they approach 1/2, and a risk whose probability is above 1/2
/// grows with `n` instead.
pub fn plot_frontier(ns: &[u16], p: f64, q: f64) -> Result<String, TradeoffError> {
    const PLOT: &str = "frontier";
    let Some(&first) = ns.first() else {
        return Err(TradeoffError::NoFrontier);
    };
    validate(first, None, p, q)?;
    for &n in ns {
        validate(n, None, p, q)?;
    }
    let curves: Vec<(u16, Vec<Risk>)> = ns
        .iter()
        .map(|&n| {
            let dist = Distributions::new(n, p, q);
            (n, (0..n).map(|t| dist.risk(t)).collect())
        })
        .collect();
    let all = || curves.iter().flat_map(|(_, risks)| risks.iter());
    let x_min = axis_min(all().map(|r| r.unauthorized));
    let y_min = axis_min(all().map(|r| r.fails));
    let majority: Vec<(u16, (f64, f64))> = curves
        .iter()
        .filter_map(|(n, risks)| Some((*n, risks.get(usize::from(n / 2))?)))
        .map(|(n, r)| (n, (floored(r.unauthorized), floored(r.fails))))
        .collect();
    let names: Vec<String> = ns.iter().map(|n| n.to_string()).collect();
    let title = format!("The frontier: n in {{{}}}, p = {p}, q = {q}", names.join(", "));

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        let (chart_area, legend_area) = frame(&root, &title, &[FRONTIER_NOTE, &floor_note()], PLOT)?;
        let mut chart = ChartBuilder::on(&chart_area)
            .margin(14)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d((x_min..1.0).log_scale(), (y_min..1.0).log_scale())
            .map_err(drawing(PLOT))?;
        chart
            .configure_mesh()
            .x_desc("P(unauthorized access), log10")
            .y_desc("P(lawful access fails), log10")
            .x_label_formatter(&|v| format!("{v:.0e}"))
            .y_label_formatter(&|v| format!("{v:.0e}"))
            .axis_desc_style((FONT, 18))
            .draw()
            .map_err(drawing(PLOT))?;
        let mut legend = Vec::new();
        for (i, (n, risks)) in curves.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let points = risks.iter().map(|r| (floored(r.unauthorized), floored(r.fails)));
            chart.draw_series(LineSeries::new(points, color.stroke_width(2)).point_size(4)).map_err(drawing(PLOT))?;
            let label = format!("n = {n} (points: t = 0..{})", n - 1);
            legend.push(LegendEntry { label, color, dashed: false });
        }
        let black = BLACK.stroke_width(2);
        let line = majority.iter().map(|(_, xy)| *xy);
        chart.draw_series(DashedLineSeries::new(line, 6, 4, black)).map_err(drawing(PLOT))?;
        chart
            .draw_series(majority.iter().map(|&(n, xy)| {
                EmptyElement::at(xy)
                    + Cross::new((0, 0), 7, black)
                    + Text::new(format!("n={n}"), (8, -20), (FONT, 14).into_font())
            }))
            .map_err(drawing(PLOT))?;
        legend.push(LegendEntry { label: MAJORITY.to_owned(), color: BLACK.to_rgba(), dashed: true });
        draw_legend(&legend_area, &legend, PLOT)?;
        root.present().map_err(drawing(PLOT))?;
    }
    Ok(svg)
}

/// White background, the title across the top, the footnote (the plot's caption, up to
/// two lines) along the bottom; returns the chart area and the legend panel right of it.
fn frame<'a>(
    root: &Area<'a>,
    title: &str,
    footnote: &[&str],
    plot: &'static str,
) -> Result<(Area<'a>, Area<'a>), TradeoffError> {
    root.fill(&WHITE).map_err(drawing(plot))?;
    let body = root.titled(title, (FONT, 24)).map_err(drawing(plot))?;
    let (width, height) = body.dim_in_pixel();
    let (upper, foot) = body.split_vertically(height.saturating_sub(FOOTNOTE_HEIGHT));
    let style = TextStyle::from((FONT, 15)).color(&RGBColor(60, 60, 60));
    for (i, line) in (0i32..).zip(footnote) {
        foot.draw_text(line, &style, (14, 4 + 18 * i)).map_err(drawing(plot))?;
    }
    Ok(upper.split_horizontally(width.saturating_sub(LEGEND_WIDTH)))
}

/// The legend panel: a sample line and marker, then the label, per entry, in a box.
fn draw_legend(area: &Area<'_>, entries: &[LegendEntry], plot: &'static str) -> Result<(), TradeoffError> {
    const ROW: i32 = 26;
    let text = TextStyle::from((FONT, 15)).pos(Pos::new(HPos::Left, VPos::Center));
    let top = 24;
    let rows = i32::try_from(entries.len()).unwrap_or(i32::MAX);
    let bottom = top + ROW * rows;
    let right = i32::try_from(LEGEND_WIDTH).unwrap_or(0) - 8;
    area.draw(&Rectangle::new([(0, top - ROW / 2 - 4), (right, bottom - ROW / 2 + 4)], BLACK.mix(0.5)))
        .map_err(drawing(plot))?;
    for (i, entry) in (0i32..).zip(entries) {
        let y = top + ROW * i;
        let style = entry.color.stroke_width(2);
        let segments = if entry.dashed { vec![(8, 17), (25, 34)] } else { vec![(8, 34)] };
        for (x0, x1) in segments {
            area.draw(&PathElement::new(vec![(x0, y), (x1, y)], style)).map_err(drawing(plot))?;
        }
        if entry.dashed {
            area.draw(&Cross::new((21, y), 6, style)).map_err(drawing(plot))?;
        } else {
            area.draw(&Circle::new((21, y), 4, style)).map_err(drawing(plot))?;
        }
        area.draw_text(&entry.label, &text, (42, y)).map_err(drawing(plot))?;
    }
    Ok(())
}

/// Maps a plotters error to ours, naming the plot.
fn drawing<E: std::fmt::Display>(plot: &'static str) -> impl Fn(E) -> TradeoffError {
    move |e| TradeoffError::Plot { plot, message: e.to_string() }
}

fn floor_note() -> String {
    format!(
        "Values below {PLOT_FLOOR:.0e} (including exact 0) are drawn at {PLOT_FLOOR:.0e}, \
         the bottom of the log scale."
    )
}

/// `x` raised to [`PLOT_FLOOR`].
fn floored(x: f64) -> f64 {
    x.max(PLOT_FLOOR)
}

/// The lower end of a log axis holding `values`: the decade at or below the smallest
/// (floored) value, at most 0.1 so the axis spans at least one decade.
fn axis_min(values: impl Iterator<Item = f64>) -> f64 {
    let smallest = values.map(floored).fold(1.0_f64, f64::min);
    // A hair below the decade, so that rounding in plotters' tick placement keeps the
    // decade itself as the lowest labelled tick.
    10f64.powf(smallest.log10().floor()).clamp(PLOT_FLOOR, 0.1) * (1.0 - 1e-9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_min_rounds_down_to_a_decade() {
        let near = |got: f64, want: f64| (got - want).abs() <= 1e-8 * want;
        assert!(near(axis_min([0.5, 0.3].into_iter()), 0.1));
        assert!(near(axis_min([3.2e-7, 0.2].into_iter()), 1e-7));
        assert!(near(axis_min([0.0, 0.2].into_iter()), PLOT_FLOOR));
        assert!(near(axis_min([1e-30].into_iter()), PLOT_FLOOR));
        // Just below, so the floored points lie inside the axis.
        assert!(axis_min([0.0].into_iter()) < PLOT_FLOOR);
    }
}
