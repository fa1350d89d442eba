//! The two SVG plots of escrow by jurisdiction, drawn like the calculator's (see
//! `crate::plot`): the spillover against the cross-border share, and every
//! government's reach at the scenario's share.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{openers, percent, JurisdictionsReport, Rule};
use crate::plot::{color, draw_legend, drawing, frame, LegendEntry, Mark, FONT, SIZE};
use crate::TradeoffError;

/// The y axis of both plots: a share, with a little room above 100%.
const Y_MAX: f64 = 1.06;
const GREY: RGBColor = RGBColor(110, 110, 110);

/// The colour of a rule: the palette for the three rules, black for the baseline.
fn rule_color(i: usize, rule: Rule) -> RGBAColor {
    if rule == Rule::Worldwide {
        BLACK.to_rgba()
    } else {
        color(i)
    }
}

/// Plot (a), "spillover": the share of the second jurisdiction's users' messages that
/// the first opens alone, against the cross-border share `x` from 0 to 60%, one line
/// per rule and the worldwide key as a dashed baseline at 100%; a dotted vertical line
/// marks the scenario's `x` and rings its simulated values.
pub fn plot_spillover(report: &JurisdictionsReport) -> Result<String, TradeoffError> {
    const PLOT: &str = "spillover";
    let s = &report.scenario;
    let (first, second) = report.pair_names();
    let title = format!("Share of {second} users' messages {first} can open alone");
    let notes = [
        format!(
            "Lines: the model's expected share. Rings: the simulated graph at x = {} ({} users, {} contacts each, \
             seed {}).",
            s.cross_border, s.users, s.contacts, s.seed
        ),
        format!("{}. x is an assumption, not a measurement.", populations(report)),
    ];
    let x_max = super::SWEEP_MAX;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        let (chart_area, legend_area) = frame(&root, &title, &[&notes[0], &notes[1]], PLOT)?;
        let mut chart = ChartBuilder::on(&chart_area)
            .margin(14)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..x_max, 0.0..Y_MAX)
            .map_err(drawing(PLOT))?;
        chart
            .configure_mesh()
            .x_desc("cross-border share of contacts x")
            .y_desc(format!("share of {second} users' messages"))
            .x_label_formatter(&|v| format!("{:.0}%", 100.0 * v))
            .y_label_formatter(&|v| format!("{:.0}%", 100.0 * v))
            .axis_desc_style((FONT, 18))
            .draw()
            .map_err(drawing(PLOT))?;
        let mut legend = Vec::new();
        for (i, rule) in Rule::ALL.into_iter().enumerate() {
            let c = rule_color(i, rule);
            let line = report.sweep.iter().filter_map(|p| Some((p.cross_border, *p.reach.get(i)?)));
            if rule == Rule::Worldwide {
                chart.draw_series(DashedLineSeries::new(line, 8, 5, c.stroke_width(2))).map_err(drawing(PLOT))?;
                let label = format!("{}, held by {first} (baseline)", rule.name());
                legend.push(LegendEntry { label, color: c, mark: Mark::Dashed });
            } else {
                chart.draw_series(LineSeries::new(line, c.stroke_width(2))).map_err(drawing(PLOT))?;
                legend.push(LegendEntry { label: rule.name().to_owned(), color: c, mark: Mark::Line });
            }
            if let Some(r) = report.get(rule, first, second) {
                let ring = Circle::new((s.cross_border, r.simulated), 7, c.stroke_width(2));
                chart.draw_series(std::iter::once(ring)).map_err(drawing(PLOT))?;
            }
        }
        let marker = vec![(s.cross_border, 0.0), (s.cross_border, Y_MAX)];
        chart.draw_series(DashedLineSeries::new(marker, 3, 4, GREY.stroke_width(2))).map_err(drawing(PLOT))?;
        let label = Text::new(
            format!(" this scenario: x = {}", s.cross_border),
            (s.cross_border, 0.6),
            TextStyle::from((FONT, 14)).pos(Pos::new(HPos::Left, VPos::Top)),
        );
        chart.draw_series(std::iter::once(label)).map_err(drawing(PLOT))?;
        legend.push(LegendEntry {
            label: format!("simulated at x = {}", s.cross_border),
            color: GREY.to_rgba(),
            mark: Mark::Ring,
        });
        draw_legend(&legend_area, &legend, PLOT)?;
        root.present().map_err(drawing(PLOT))?;
    }
    Ok(svg)
}

/// Plot (b), "reach": at the scenario's `x`, one group of bars per (opener, victim),
/// one bar per rule: the share of the victim's users' messages the opener opens alone
/// (analytic). Groups where opener = victim are each government's own users.
pub fn plot_jurisdiction_reach(report: &JurisdictionsReport) -> Result<String, TradeoffError> {
    const PLOT: &str = "reach";
    let s = &report.scenario;
    let domains = &s.jurisdictions;
    let groups: Vec<(&str, &str)> = openers(domains)
        .into_iter()
        .filter_map(|o| domains.get(o))
        .flat_map(|o| domains.iter().map(move |v| (o.name.as_str(), v.name.as_str())))
        .collect();
    let title = format!("Who opens whose users' messages alone, at x = {}", s.cross_border);
    let notes = [
        "Each group: opener -> victim; each bar: the share of the victim's users' messages the opener opens \
         alone (model)."
            .to_owned(),
        format!("{}. opener = victim: its coverage of its own users.", populations(report)),
    ];
    let width = groups.len().max(1) as f64;
    let bar = 0.8 / Rule::ALL.len() as f64;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        let (chart_area, legend_area) = frame(&root, &title, &[&notes[0], &notes[1]], PLOT)?;
        let mut chart = ChartBuilder::on(&chart_area)
            .margin(14)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..width, 0.0..Y_MAX)
            .map_err(drawing(PLOT))?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .x_desc("opener -> victim's users")
            .y_desc("share opened alone")
            .y_label_formatter(&|v| format!("{:.0}%", 100.0 * v))
            .axis_desc_style((FONT, 18))
            .draw()
            .map_err(drawing(PLOT))?;
        let mut legend = Vec::new();
        for (i, rule) in Rule::ALL.into_iter().enumerate() {
            let c = rule_color(i, rule);
            let bars = (0u32..).zip(&groups).filter_map(|(g, (opener, victim))| {
                let share = report.get(rule, opener, victim)?.analytic;
                let x0 = f64::from(g) + 0.1 + bar * i as f64;
                Some(Rectangle::new([(x0, 0.0), (x0 + bar * 0.9, share)], c.filled()))
            });
            chart.draw_series(bars).map_err(drawing(PLOT))?;
            legend.push(LegendEntry { label: rule.name().to_owned(), color: c, mark: Mark::Bar });
        }
        let style = TextStyle::from((FONT, 15)).pos(Pos::new(HPos::Center, VPos::Top));
        for (g, (opener, victim)) in (0u32..).zip(&groups) {
            let (px, py) = chart.plotting_area().map_coordinate(&(f64::from(g) + 0.5, 0.0));
            root.draw_text(&format!("{opener} -> {victim}"), &style, (px, py + 8)).map_err(drawing(PLOT))?;
        }
        draw_legend(&legend_area, &legend, PLOT)?;
        root.present().map_err(drawing(PLOT))?;
    }
    Ok(svg)
}

/// "uk 10% (escrows), us 50% (escrows), no-escrow 40% (no escrow)".
fn populations(report: &JurisdictionsReport) -> String {
    let parts: Vec<String> = report
        .scenario
        .jurisdictions
        .iter()
        .map(|j| format!("{} {} ({})", j.name, percent(j.share), if j.escrows { "escrows" } else { "no escrow" }))
        .collect();
    parts.join(", ")
}
