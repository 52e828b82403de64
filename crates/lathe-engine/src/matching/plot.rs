//! The reference-matching plot (SVG, plotters): the 1/3-octave spectra of input, reference
//! and result for mid and side, and the EQ curves that were applied.

use plotters::prelude::*;

use crate::matching::reference::MatchReport;

const WIDTH: u32 = 960;
const HEIGHT: u32 = 720;
const INPUT: RGBColor = RGBColor(120, 120, 120);
const REFERENCE: RGBColor = RGBColor(214, 39, 40);
const RESULT: RGBColor = RGBColor(31, 119, 180);
const CORRECTION: RGBColor = RGBColor(44, 160, 44);

/// A curve of the EQ panel: name, points, colour, dashed.
type Curve = (&'static str, Vec<(f64, f64)>, RGBColor, bool);

/// Points (frequency, level) of the bands that have a level.
fn series(bands_hz: &[f64], levels: &[Option<f64>]) -> Vec<(f64, f64)> {
    bands_hz
        .iter()
        .zip(levels)
        .filter_map(|(f, v)| v.map(|v| (*f, v)))
        .collect()
}

/// The plot as an SVG document.
pub fn match_plot_svg(r: &MatchReport) -> Result<String, String> {
    let mut svg = String::new();
    draw(r, &mut svg).map_err(|e| format!("plot: {e}"))?;
    Ok(svg)
}

fn draw(r: &MatchReport, svg: &mut String) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::with_string(svg, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, bottom) = root.split_vertically(HEIGHT * 3 / 5);
    let lanes = [
        (
            "mid",
            &r.input_mid_db,
            &r.reference_mid_db,
            &r.result_mid_db,
        ),
        (
            "side",
            &r.input_side_db,
            &r.reference_side_db,
            &r.result_side_db,
        ),
    ];
    let all: Vec<f64> = lanes
        .iter()
        .flat_map(|(_, a, b, c)| [a, b, c])
        .flat_map(|v| v.iter().flatten().copied())
        .collect();
    let hi = all.iter().fold(f64::NEG_INFINITY, |m, v| m.max(*v)).ceil() + 3.0;
    let lo = (hi - 70.0).max(all.iter().fold(f64::INFINITY, |m, v| m.min(*v)).floor() - 3.0);
    let mut chart = ChartBuilder::on(&top)
        .caption(
            "Long-term spectrum, 1/3 octave (solid: mid, dashed: side)",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(32)
        .y_label_area_size(48)
        .build_cartesian_2d((20f64..20000f64).log_scale(), lo..hi)?;
    chart
        .configure_mesh()
        .x_desc("Hz")
        .y_desc("dB")
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    for (lane, input, reference, result) in lanes {
        let dashed = lane == "side";
        for (name, levels, color) in [
            ("input", input, INPUT),
            ("reference", reference, REFERENCE),
            ("result", result, RESULT),
        ] {
            let pts = series(&r.bands_hz, levels);
            let style = color.stroke_width(if dashed { 1 } else { 2 });
            if dashed {
                chart.draw_series(DashedLineSeries::new(pts, 6, 4, style))?;
            } else {
                chart
                    .draw_series(LineSeries::new(pts, style))?
                    .label(name)
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                    });
            }
        }
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;

    let curves: Vec<Curve> = {
        let pts = |g: &[f64]| -> Vec<(f64, f64)> {
            r.eq_freqs_hz
                .iter()
                .copied()
                .zip(g.iter().copied())
                .collect()
        };
        let mut v = vec![
            ("match EQ, mid", pts(&r.eq_mid_db), RESULT, false),
            ("match EQ, side", pts(&r.eq_side_db), RESULT, true),
        ];
        if let Some(c) = &r.correction {
            let cp = |g: &[f64]| -> Vec<(f64, f64)> {
                c.freqs_hz.iter().copied().zip(g.iter().copied()).collect()
            };
            v.push(("correction, mid", cp(&c.mid_db), CORRECTION, false));
            v.push(("correction, side", cp(&c.side_db), CORRECTION, true));
        }
        v
    };
    let span = curves
        .iter()
        .flat_map(|c| c.1.iter().map(|p| p.1.abs()))
        .fold(3.0f64, f64::max)
        .ceil()
        + 1.0;
    let mut eq = ChartBuilder::on(&bottom)
        .caption("Applied EQ (dB)", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(32)
        .y_label_area_size(48)
        .build_cartesian_2d((20f64..20000f64).log_scale(), -span..span)?;
    eq.configure_mesh()
        .x_desc("Hz")
        .y_desc("dB")
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    for (name, pts, color, dashed) in curves {
        let style = color.stroke_width(2);
        if dashed {
            eq.draw_series(DashedLineSeries::new(pts, 6, 4, style))?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(1))
                });
        } else {
            eq.draw_series(LineSeries::new(pts, style))?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
        }
    }
    eq.configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
