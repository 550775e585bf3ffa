//! Charts drawn on the server as SVG (plotters), put inline in pages so they show and print
//! without scripts or further requests. Text in them is escaped by the SVG backend.

use plotters::prelude::*;

const BAR: RGBColor = RGBColor(0x2b, 0x5c, 0x9e);
const LINE: RGBColor = RGBColor(0xb0, 0x3a, 0x2e);
const FONT: &str = "sans-serif";

/// Draws a chart and names it for screen readers with its caption (an inline SVG is otherwise a
/// nameless picture).
fn svg(
    caption: &str,
    width: u32,
    height: u32,
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, plotters::coord::Shift>) -> Result<(), String>,
) -> String {
    let mut out = String::new();
    // A chart the library cannot draw must cost the page its chart, not the request.
    let drawn = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let root = SVGBackend::with_string(&mut out, (width, height)).into_drawing_area();
        root.fill(&WHITE)
            .map_err(|e| e.to_string())
            .and_then(|()| draw(&root))
            .and_then(|()| root.present().map_err(|e| e.to_string()))
    }))
    .unwrap_or_else(|_| Err("the chart library panicked".into()));
    match drawn {
        Ok(()) => {
            let name = askama::filters::escape(caption, askama::filters::Html)
                .map(|escaped| escaped.to_string())
                .unwrap_or_default();
            out.replacen(
                "<svg ",
                &format!("<svg role=\"img\" aria-label=\"{name}\" "),
                1,
            )
        }
        // A chart that cannot be drawn leaves its table to tell the numbers.
        Err(e) => {
            tracing::warn!("chart not drawn: {e}");
            String::new()
        }
    }
}

/// The percentage axis runs to the next ten above the largest value (at most 100), so small
/// rates are not squeezed against zero.
fn axis_top(percents: &[f64]) -> f64 {
    let largest = percents.iter().copied().fold(0.0, f64::max);
    ((largest / 10.0).floor() * 10.0 + 10.0).clamp(10.0, 100.0)
}

/// Vertical bars of percentages (0 to 100) with a label under each bar; nothing without bars.
pub fn percent_bars(caption: &str, labels: &[String], percents: &[f64]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let n = labels.len() as u32;
    svg(caption, 760, 320, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(caption, (FONT, 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(44)
            .build_cartesian_2d((0u32..(n - 1).max(1)).into_segmented(), 0f64..100f64)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .y_desc("%")
            .x_labels(labels.len())
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => labels.get(*i as usize).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .label_style((FONT, 12))
            .draw()
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(percents.iter().enumerate().map(|(i, p)| {
                let i = i as u32;
                let mut bar = Rectangle::new(
                    [
                        (SegmentValue::Exact(i), 0.0),
                        (SegmentValue::Exact(i + 1), p.clamp(0.0, 100.0)),
                    ],
                    BAR.filled(),
                );
                bar.set_margin(0, 0, 4, 4);
                bar
            }))
            .map_err(|e| e.to_string())?;
        Ok(())
    })
}

/// Horizontal bars of percentages, one per named unit, best at the top; nothing without units
/// (an empty axis would ask the chart library for zero labels, which it cannot draw).
pub fn ranking_bars(caption: &str, names: &[String], percents: &[f64]) -> String {
    if names.is_empty() {
        return String::new();
    }
    let n = names.len() as u32;
    let height = 60 + 24 * n;
    svg(caption, 760, height, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(caption, (FONT, 18))
            .margin(12)
            .x_label_area_size(28)
            .y_label_area_size(150)
            .build_cartesian_2d(
                0f64..axis_top(percents),
                (0u32..(n - 1).max(1)).into_segmented(),
            )
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(names.len())
            .y_label_formatter(&|v| match v {
                // The best is drawn at the top, so the first name goes to the highest row.
                SegmentValue::CenterOf(i) => n
                    .checked_sub(*i + 1)
                    .and_then(|k| names.get(k as usize))
                    .cloned()
                    .unwrap_or_default(),
                _ => String::new(),
            })
            .label_style((FONT, 12))
            .draw()
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(percents.iter().enumerate().map(|(i, p)| {
                let row = n - 1 - i as u32;
                let mut bar = Rectangle::new(
                    [
                        (0.0, SegmentValue::Exact(row)),
                        (p.clamp(0.0, 100.0), SegmentValue::Exact(row + 1)),
                    ],
                    BAR.filled(),
                );
                bar.set_margin(3, 3, 0, 0);
                bar
            }))
            .map_err(|e| e.to_string())?;
        Ok(())
    })
}

/// A line of counts by month; nothing without months.
pub fn monthly_line(caption: &str, points: &[(i8, i64)]) -> String {
    if points.is_empty() {
        return String::new();
    }
    let last = points.last().map_or(12, |(m, _)| *m).max(2) as i32;
    let top = points.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1) as f64 * 1.1;
    svg(caption, 760, 300, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(caption, (FONT, 18))
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(60)
            .build_cartesian_2d(1i32..last, 0f64..top)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_labels(last as usize)
            .x_label_formatter(&|m| format!("{m}月"))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .label_style((FONT, 12))
            .draw()
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(LineSeries::new(
                points.iter().map(|(m, n)| (i32::from(*m), *n as f64)),
                LINE.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(
                points
                    .iter()
                    .map(|(m, n)| Circle::new((i32::from(*m), *n as f64), 3, LINE.filled())),
            )
            .map_err(|e| e.to_string())?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_inline_svg_with_escaped_text() {
        let bars = ranking_bars(
            "排名",
            &["道里区<script>".to_string(), "南岗区".to_string()],
            &[75.0, 20.0],
        );
        assert!(bars.starts_with("<svg"), "{bars}");
        let named = ranking_bars("排名 <a&b>", &["x".to_string()], &[1.0]);
        assert!(
            named.starts_with(r#"<svg role="img" aria-label="排名 &#60;a&#38;b&#62;" "#),
            "{named}"
        );
        assert!(bars.contains("道里区&lt;script&gt;"));
        assert!(!bars.contains("<script>"));
        assert!(bars.matches("<rect").count() >= 3);
        let line = monthly_line("趋势", &[(1, 3), (2, 5), (3, 0)]);
        assert!(
            line.contains("<polyline") || line.contains("<path"),
            "{line}"
        );
        assert!(line.contains("3月"));
        let cats = percent_bars("覆盖", &["1".into(), "2".into()], &[50.0, 100.0]);
        assert!(cats.starts_with("<svg"));
        // One bar per value and no empty slot after the last.
        let one = ranking_bars("排名", &["道里区".to_string()], &[30.0]);
        assert!(one.contains("道里区"));
        assert_eq!(axis_top(&[26.4, 3.0]), 30.0);
        assert_eq!(axis_top(&[100.0]), 100.0);
        assert_eq!(axis_top(&[]), 10.0);
        // Nothing to draw is no chart, not a panic or an endless loop.
        assert_eq!(ranking_bars("排名", &[], &[]), "");
        assert_eq!(percent_bars("覆盖", &[], &[]), "");
        assert_eq!(monthly_line("趋势", &[]), "");
    }
}
