//! `bench --gemm --plot`: GFLOP/s per matmul shape, a bar per device, each device's measured
//! fp32 peak drawn as a dashed line of its colour, on a logarithmic axis (a CPU and a GPU differ
//! by orders of magnitude).

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{Area, DEVICE_COLORS, Picture, legend};
use crate::bench::GemmResult;

/// The sweep's results and the peaks they are measured against.
pub(super) struct Gemm<'a> {
    pub results: &'a [GemmResult],
    /// (device, GFLOP/s): the peak of every device that has one.
    pub peaks: &'a [(String, f64)],
    pub note: &'a str,
}

/// A shape's label under its bars: `X·W 1024x784x1024`.
fn label(r: &GemmResult) -> String {
    format!("{} {}x{}x{}", r.form, r.m, r.k, r.n)
}

impl Gemm<'_> {
    /// The devices in order of first appearance, and the shapes likewise.
    fn axes(&self) -> (Vec<&str>, Vec<String>) {
        let (mut devices, mut shapes): (Vec<&str>, Vec<String>) = (vec![], vec![]);
        for r in self.results {
            if !devices.contains(&r.device.as_str()) {
                devices.push(&r.device);
            }
            let l = label(r);
            if !shapes.contains(&l) {
                shapes.push(l);
            }
        }
        (devices, shapes)
    }

    /// The y range: from below the slowest result to well above the highest result or peak.
    fn range(&self) -> (f64, f64) {
        let values = self
            .results
            .iter()
            .map(|r| r.gflops)
            .chain(self.peaks.iter().map(|p| p.1))
            .filter(|v| v.is_finite() && *v > 0.0);
        let (lo, hi) = values.fold((f64::INFINITY, 0.0f64), |(a, b), v| (a.min(v), b.max(v)));
        // Headroom above the highest for the legend, which would cover bars.
        if lo.is_finite() {
            (lo / 2.0, hi * 30.0)
        } else {
            (0.1, 1.0)
        }
    }
}

impl Picture for Gemm<'_> {
    fn render<DB: DrawingBackend>(&self, root: &Area<DB>) -> std::result::Result<(), String> {
        let err = |e: &dyn std::fmt::Display| e.to_string();
        let (devices, shapes) = self.axes();
        let (y0, y1) = self.range();
        let s = shapes.len().max(1) as f64;
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!(
                    "GFLOP/s per matmul shape against each device's measured peak. {}",
                    self.note
                ),
                ("sans-serif", 16),
            )
            .margin(12)
            .x_label_area_size(150)
            .y_label_area_size(64)
            .build_cartesian_2d(-0.5..s - 0.5, (y0..y1).log_scale())
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_desc("GFLOP/s")
            .y_labels(12)
            .y_label_formatter(&|y| {
                if *y < 1.0 {
                    format!("{y:.2}")
                } else {
                    format!("{y:.0}")
                }
            })
            .draw()
            .map_err(|e| err(&e))?;
        // The shapes' names under their bars, written downwards from the axis (plotters'
        // rotated axis labels are centred on the axis line, half of them above it).
        let style = ("sans-serif", 11)
            .into_font()
            .transform(FontTransform::Rotate90)
            .into_text_style(root)
            .pos(Pos::new(HPos::Left, VPos::Center));
        for (i, shape) in shapes.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(i as f64, y0));
            root.draw(&Text::new(shape.clone(), (px, py + 6), style.clone()))
                .map_err(|e| err(&e))?;
        }
        let width = 0.8 / devices.len().max(1) as f64;
        for (i, device) in devices.iter().enumerate() {
            let color = DEVICE_COLORS[i % DEVICE_COLORS.len()];
            let peak = self.peaks.iter().find(|p| p.0 == *device).map(|p| p.1);
            let bars = self
                .results
                .iter()
                .filter(|r| r.device == *device)
                .filter_map(|r| {
                    let at = shapes.iter().position(|l| *l == label(r))? as f64;
                    let x0 = at - 0.4 + i as f64 * width;
                    Some(Rectangle::new(
                        [(x0, y0), (x0 + width, r.gflops.max(y0))],
                        color.filled(),
                    ))
                });
            // One legend line per device, its peak (the dashed line of its colour) named there.
            let name = match peak {
                Some(p) => format!("{device}; dashed: its peak, {p:.0} GFLOP/s"),
                None => device.to_string(),
            };
            chart
                .draw_series(bars)
                .map_err(|e| err(&e))?
                .label(name)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
                });
            if let Some(peak) = peak {
                let dashes = (0..(s * 4.0) as usize).map(|k| {
                    let x = -0.5 + k as f64 / 4.0;
                    PathElement::new(vec![(x, peak), (x + 0.15, peak)], color.stroke_width(2))
                });
                chart.draw_series(dashes).map_err(|e| err(&e))?;
            }
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    }
}
