//! The two SVG plots, drawn by plotters into a `String`.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::model::{Distributions, Risk};
use crate::report::{common_cause_curves, Params};
use crate::{validate, CommonCause, TradeoffError};

/// Probabilities below this (exact zeros included) are off the scale, since a log axis
/// has no zero: they are drawn as open triangles on the axis's edge and not joined to
/// the lines, and each plot's footnote says so.
pub const PLOT_FLOOR: f64 = 1e-12;

/// The trustee counts of the frontier plot when none are given.
pub const DEFAULT_FRONTIER_NS: [u16; 5] = [3, 5, 7, 9, 15];

/// The committee sizes of the common-cause plot: odd, so that a majority quorum is
/// the same share of each (even sizes zig-zag, needing one more than half).
pub const COMMON_CAUSE_NS: [u16; 8] = [1, 3, 5, 7, 9, 11, 13, 15];

/// The common-cause probabilities `c_p` drawn in the common-cause plot, besides the
/// deployment's own.
pub const COMMON_CAUSE_LEVELS: [f64; 4] = [0.0, 1e-4, 1e-3, 1e-2];

pub(crate) const SIZE: (u32, u32) = (1040, 600);
const FOOTNOTE_HEIGHT: u32 = 44;
const LEGEND_WIDTH: u32 = 340;
pub(crate) const FONT: &str = "sans-serif";
const UNAUTHORIZED: &str = "unauthorized access (>= t+1 compromised)";
const FAILS: &str = "lawful access fails (< t+1 available)";
const MAJORITY: &str = "majority quorum, t = floor(n/2)";
const OFF_SCALE: &str = "off scale (below 1e-12), on the edge";
const RISK_NOTE: &str = "Exact binomial probabilities per epoch; points are the integer thresholds t.";
const FRONTIER_NOTE: &str = "Each point is one threshold t: t = 0 is the bottom-right end of a \
                             line, t = n-1 the top-left end. Down and left is safer.";
const COMMON_NOTE: &str = "P(unauthorized) per epoch at a majority quorum. With a common cause that \
                           reaches a quorum, no n goes below c_p.";

/// Line colours: the Okabe-Ito palette without its yellow, which is unreadable on
/// white; every colour here keeps a contrast of at least 2.5:1 against the background.
const PALETTE: [RGBColor; 6] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(230, 159, 0),   // orange
];

pub(crate) fn color(i: usize) -> RGBAColor {
    PALETTE.get(i % PALETTE.len()).copied().unwrap_or(BLACK).to_rgba()
}

pub(crate) type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// One line of the legend panel right of the chart.
pub(crate) struct LegendEntry {
    pub(crate) label: String,
    pub(crate) color: RGBAColor,
    pub(crate) mark: Mark,
}

/// How a legend entry's sample is drawn.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Mark {
    /// Solid line with circles: a series.
    Line,
    /// Dashed line with crosses: the majority line.
    Dashed,
    /// An open downward triangle: points off the scale.
    OffScale,
    /// A ring: this deployment.
    Ring,
    /// A filled square: a bar series.
    Bar,
}

/// A series split at the floor: the runs of on-scale points, drawn as lines, and the
/// off-scale points, drawn apart at the edge.
struct Split<X> {
    runs: Vec<Vec<(X, f64)>>,
    off: Vec<(X, f64)>,
}

/// Splits `(x, y)` points whose `y` may fall below [`PLOT_FLOOR`]; off-scale points are
/// moved to the floor.
fn split_y<X: Copy>(points: impl IntoIterator<Item = (X, f64)>) -> Split<X> {
    let mut split = Split { runs: vec![Vec::new()], off: Vec::new() };
    for (x, y) in points {
        if y < PLOT_FLOOR {
            split.off.push((x, PLOT_FLOOR));
            split.runs.push(Vec::new());
        } else if let Some(run) = split.runs.last_mut() {
            run.push((x, y));
        }
    }
    split.runs.retain(|r| !r.is_empty());
    split
}

/// Both coordinates are probabilities: a point off the scale on either axis is moved
/// to the floor on that axis and drawn apart.
fn split_xy(points: impl IntoIterator<Item = (f64, f64)>) -> Split<f64> {
    let mut split = Split { runs: vec![Vec::new()], off: Vec::new() };
    for (x, y) in points {
        if x < PLOT_FLOOR || y < PLOT_FLOOR {
            split.off.push((x.max(PLOT_FLOOR), y.max(PLOT_FLOOR)));
            split.runs.push(Vec::new());
        } else if let Some(run) = split.runs.last_mut() {
            run.push((x, y));
        }
    }
    split.runs.retain(|r| !r.is_empty());
    split
}

/// Draws a split series on `chart` in `color`.
macro_rules! draw_split {
    ($chart:expr, $split:expr, $color:expr, $plot:expr) => {{
        for run in $split.runs {
            $chart.draw_series(LineSeries::new(run, $color.stroke_width(2)).point_size(4)).map_err(drawing($plot))?;
        }
        let color = $color;
        $chart
            .draw_series($split.off.into_iter().map(|xy| {
                EmptyElement::at(xy)
                    + PathElement::new(vec![(-6, -4), (6, -4), (0, 7), (-6, -4)], color.stroke_width(2))
            }))
            .map_err(drawing($plot))?;
    }};
}

/// Draws the ring and label that mark this deployment at `xy`.
macro_rules! draw_deployment {
    ($chart:expr, $xy:expr, $label:expr, $plot:expr) => {{
        let ring = BLACK.stroke_width(3);
        $chart
            .draw_series(std::iter::once(
                EmptyElement::at($xy)
                    + Circle::new((0, 0), 11, ring)
                    // Left of the ring: the majority line's labels sit to the right.
                    + Text::new(
                        $label,
                        (-16, 0),
                        TextStyle::from((FONT, 15)).pos(Pos::new(HPos::Right, VPos::Center)),
                    ),
            ))
            .map_err(drawing($plot))?;
    }};
}

/// Plot 1, "risk vs threshold": both risks per epoch of `params.n` trustees against
/// `t = 0..n`, on a log10 probability axis, titled with `n`, `p` and `q`, and with the
/// deployment's own `t` ringed.
pub fn plot_risk_vs_threshold(params: &Params) -> Result<String, TradeoffError> {
    const PLOT: &str = "risk vs threshold";
    params.validate()?;
    let Params { n, p_compromise: p, q_outage: q, threshold, common, .. } = *params;
    let dist = Distributions::with_common(n, p, q, common);
    let risks: Vec<(i32, Risk)> = (0..n).map(|t| (i32::from(t), dist.risk(t))).collect();
    let y_min = axis_min(risks.iter().flat_map(|(_, r)| [r.unauthorized, r.fails]));
    let title = format!("Risk vs threshold: n = {n} trustees, p = {p}, q = {q}{}", common_title(params));
    let series = [
        (UNAUTHORIZED, color(1), split_y(risks.iter().map(|(t, r)| (*t, r.unauthorized)))),
        (FAILS, color(0), split_y(risks.iter().map(|(t, r)| (*t, r.fails)))),
    ];
    let any_off = series.iter().any(|(_, _, s)| !s.off.is_empty());
    let deployed = risks.get(usize::from(threshold)).map(|(t, r)| (*t, r.unauthorized.max(PLOT_FLOOR)));

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
            .y_desc("probability per epoch (log10 scale)")
            .x_labels(usize::from(n).clamp(2, 16))
            .y_label_formatter(&|v| format!("{v:.0e}"))
            .axis_desc_style((FONT, 18))
            .draw()
            .map_err(drawing(PLOT))?;
        let mut legend = Vec::new();
        for (label, color, split) in series {
            draw_split!(chart, split, color, PLOT);
            legend.push(LegendEntry { label: label.to_owned(), color, mark: Mark::Line });
        }
        if let Some((t, y)) = deployed {
            draw_deployment!(chart, (t, y), format!("this deployment: t = {t}"), PLOT);
            // The same t on the other curve.
            if let Some((_, r)) = risks.get(usize::from(threshold)) {
                chart
                    .draw_series(std::iter::once(Circle::new((t, r.fails.max(PLOT_FLOOR)), 11, BLACK.stroke_width(3))))
                    .map_err(drawing(PLOT))?;
            }
        }
        close_legend(&mut legend, format!("this deployment (t = {threshold})"), any_off);
        draw_legend(&legend_area, &legend, PLOT)?;
        root.present().map_err(drawing(PLOT))?;
    }
    Ok(svg)
}

/// Plot 2, "the frontier": for each `n` in `ns`, every threshold `t` is one point
/// (P(unauthorized), P(lawful access fails)) per epoch on log-log axes, one line per
/// `n`; a dashed line joins the majority quorums `t = floor(n/2)` to show whether
/// growing the committee with a proportional threshold lowers both risks: steeply when
/// `p` and `q` are small, barely as they approach 1/2, and a risk whose probability is
/// above 1/2 grows with `n` instead. A common cause reaches the same share of each
/// committee ([`crate::CommonCause::scaled`]). The deployment's `(n, t)` is ringed.
pub fn plot_frontier(ns: &[u16], params: &Params) -> Result<String, TradeoffError> {
    const PLOT: &str = "frontier";
    if ns.is_empty() {
        return Err(TradeoffError::NoFrontier);
    }
    params.validate()?;
    let Params { n: deployed_n, p_compromise: p, q_outage: q, threshold, common, .. } = *params;
    for &n in ns {
        validate(n, None, p, q)?;
    }
    let risks_of = |n: u16| {
        let dist = Distributions::with_common(n, p, q, common.scaled(deployed_n, n));
        (0..n).map(|t| dist.risk(t)).collect::<Vec<Risk>>()
    };
    let curves: Vec<(u16, Vec<Risk>)> = ns.iter().map(|&n| (n, risks_of(n))).collect();
    let all = || curves.iter().flat_map(|(_, risks)| risks.iter());
    let x_min = axis_min(all().map(|r| r.unauthorized));
    let y_min = axis_min(all().map(|r| r.fails));
    let majority: Vec<(u16, (f64, f64))> = curves
        .iter()
        .filter_map(|(n, risks)| Some((*n, risks.get(usize::from(n / 2))?)))
        .map(|(n, r)| (n, (floored(r.unauthorized), floored(r.fails))))
        .collect();
    let deployed =
        risks_of(deployed_n).get(usize::from(threshold)).map(|r| (floored(r.unauthorized), floored(r.fails)));
    let names: Vec<String> = ns.iter().map(|n| n.to_string()).collect();
    let title = format!("The frontier: n in {{{}}}, p = {p}, q = {q}{}", names.join(", "), common_title(params));

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
            .x_desc("P(unauthorized access) per epoch, log10")
            .y_desc("P(lawful access fails) per epoch, log10")
            .x_label_formatter(&|v| format!("{v:.0e}"))
            .y_label_formatter(&|v| format!("{v:.0e}"))
            .axis_desc_style((FONT, 18))
            .draw()
            .map_err(drawing(PLOT))?;
        let mut legend = Vec::new();
        let mut any_off = false;
        for (i, (n, risks)) in curves.iter().enumerate() {
            let color = color(i);
            let split = split_xy(risks.iter().map(|r| (r.unauthorized, r.fails)));
            any_off |= !split.off.is_empty();
            draw_split!(chart, split, color, PLOT);
            let label = format!("n = {n} (points: t = 0..{})", n - 1);
            legend.push(LegendEntry { label, color, mark: Mark::Line });
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
        legend.push(LegendEntry { label: MAJORITY.to_owned(), color: BLACK.to_rgba(), mark: Mark::Dashed });
        if let Some(xy) = deployed {
            draw_deployment!(chart, xy, format!("this deployment: n = {deployed_n}, t = {threshold}"), PLOT);
        }
        close_legend(&mut legend, format!("this deployment (n = {deployed_n}, t = {threshold})"), any_off);
        draw_legend(&legend_area, &legend, PLOT)?;
        root.present().map_err(drawing(PLOT))?;
    }
    Ok(svg)
}

/// Plot 3, "a common cause": P(unauthorized) per epoch at a majority quorum against the
/// committee size, one line per common-cause probability `c_p`
/// ([`COMMON_CAUSE_LEVELS`] and the deployment's), the event reaching the same share of
/// every committee as it reaches of this one. The deployment's own `(n, t, c_p)` is
/// ringed.
pub fn plot_common_cause(params: &Params) -> Result<String, TradeoffError> {
    const PLOT: &str = "common cause";
    params.validate()?;
    let Params { n, p_compromise: p, q_outage: q, threshold, common, .. } = *params;
    let curves = common_cause_curves(params);
    let y_min = axis_min(curves.iter().flat_map(|c| c.points.iter().map(|pt| pt.unauthorized)));
    let deployed = Distributions::with_common(n, p, q, CommonCause { outage: 0.0, ..common }).risk(threshold);
    let share = 100.0 * f64::from(common.reach) / f64::from(n);
    let title = format!("A common cause: one event reaches {share:.0}% of the trustees, p = {p}");
    let x_max = COMMON_CAUSE_NS.last().map_or(15, |&n| i32::from(n));
    let x_min = COMMON_CAUSE_NS.first().map_or(1, |&n| i32::from(n));

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        let (chart_area, legend_area) = frame(&root, &title, &[COMMON_NOTE, &floor_note()], PLOT)?;
        let mut chart = ChartBuilder::on(&chart_area)
            .margin(14)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(x_min..x_max, (y_min..1.0).log_scale())
            .map_err(drawing(PLOT))?;
        chart
            .configure_mesh()
            .x_desc("trustees n, odd (threshold t = floor(n/2), a majority)")
            .y_desc("P(unauthorized access) per epoch, log10")
            .x_labels(16)
            .y_label_formatter(&|v| format!("{v:.0e}"))
            .axis_desc_style((FONT, 18))
            .draw()
            .map_err(drawing(PLOT))?;
        let mut legend = Vec::new();
        let mut any_off = false;
        for (i, curve) in curves.iter().enumerate() {
            let color = color(i);
            let split = split_y(curve.points.iter().map(|pt| (i32::from(pt.n), pt.unauthorized)));
            any_off |= !split.off.is_empty();
            draw_split!(chart, split, color, PLOT);
            let label = if curve.compromise == 0.0 {
                "c_p = 0: independent trustees".to_owned()
            } else {
                format!("c_p = {} per epoch", curve.compromise)
            };
            legend.push(LegendEntry { label, color, mark: Mark::Line });
        }
        let xy = (i32::from(n), floored(deployed.unauthorized));
        draw_deployment!(chart, xy, format!("this deployment: n = {n}, t = {threshold}"), PLOT);
        close_legend(&mut legend, format!("this deployment (c_p = {})", common.compromise), any_off);
        draw_legend(&legend_area, &legend, PLOT)?;
        root.present().map_err(drawing(PLOT))?;
    }
    Ok(svg)
}

/// ", c_p = 0.001 reaching 4" when the deployment has a common cause, else nothing.
fn common_title(params: &Params) -> String {
    let c = params.common;
    if c.compromise == 0.0 && c.outage == 0.0 {
        String::new()
    } else {
        format!(", c_p = {}, c_q = {} reaching {} of {}", c.compromise, c.outage, c.reach, params.n)
    }
}

/// White background, the title across the top, the footnote (the plot's caption, up to
/// two lines) along the bottom; returns the chart area and the legend panel right of it.
pub(crate) fn frame<'a>(
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
pub(crate) fn draw_legend(area: &Area<'_>, entries: &[LegendEntry], plot: &'static str) -> Result<(), TradeoffError> {
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
        let segments = match entry.mark {
            Mark::Line => vec![(8, 34)],
            Mark::Dashed => vec![(8, 17), (25, 34)],
            Mark::OffScale | Mark::Ring | Mark::Bar => vec![],
        };
        for (x0, x1) in segments {
            area.draw(&PathElement::new(vec![(x0, y), (x1, y)], style)).map_err(drawing(plot))?;
        }
        match entry.mark {
            Mark::Line => area.draw(&Circle::new((21, y), 4, style)),
            Mark::Dashed => area.draw(&Cross::new((21, y), 6, style)),
            Mark::Ring => area.draw(&Circle::new((21, y), 9, entry.color.stroke_width(3))),
            Mark::Bar => area.draw(&Rectangle::new([(13, y - 7), (29, y + 7)], entry.color.filled())),
            Mark::OffScale => {
                area.draw(&PathElement::new(vec![(15, y - 4), (27, y - 4), (21, y + 7), (15, y - 4)], style))
            }
        }
        .map_err(drawing(plot))?;
        area.draw_text(&entry.label, &text, (42, y)).map_err(drawing(plot))?;
    }
    Ok(())
}

/// The legend's last entries: this deployment's ring, then the off-scale marker if any
/// point is off the scale.
fn close_legend(legend: &mut Vec<LegendEntry>, deployment: String, any_off: bool) {
    legend.push(LegendEntry { label: deployment, color: BLACK.to_rgba(), mark: Mark::Ring });
    if any_off {
        legend.push(LegendEntry {
            label: OFF_SCALE.to_owned(),
            color: RGBColor(90, 90, 90).to_rgba(),
            mark: Mark::OffScale,
        });
    }
}

/// Maps a plotters error to ours, naming the plot.
pub(crate) fn drawing<E: std::fmt::Display>(plot: &'static str) -> impl Fn(E) -> TradeoffError {
    move |e| TradeoffError::Plot { plot, message: e.to_string() }
}

fn floor_note() -> String {
    format!(
        "Values below {PLOT_FLOOR:.0e} (including exact 0) are off the scale: open triangles on the \
         edge, not joined to the lines."
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
