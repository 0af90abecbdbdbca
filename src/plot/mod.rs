//! Training curves: loss and accuracy per epoch from a metrics file (or a run's reports), a
//! benchmark's batch-size sweep and its GEMM sweep (`gemm`), drawn with plotters as SVG or PNG
//! (text needs a TrueType font, such as DejaVu Sans). Written atomically.
//!
//! Past 600 lines as one responsibility, a metrics file to a picture: reading and checking the
//! lines, laying out the axes, drawing SVG or PNG.

use std::path::Path;

use plotters::prelude::*;

use crate::checkpoint::write_atomic;
use crate::error::{Error, Result};

mod gemm;

/// One epoch's point, as `--metrics` writes it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Point {
    /// 1-based epoch number, over the whole run (resumed parts included).
    pub epoch: f64,
    /// Mean of the epoch's batch losses (data loss, before each update); None if not recorded.
    pub train_loss: Option<f64>,
    /// Mean loss on the validation rows after the epoch; None without a validation set.
    pub valid_loss: Option<f64>,
    /// Mean loss on the test set after the epoch; None where it was not evaluated.
    pub test_loss: Option<f64>,
    /// Validation accuracy, a fraction in [0, 1]; None without a validation set or classes.
    pub valid_accuracy: Option<f64>,
    /// Test accuracy, a fraction in [0, 1]; None where not evaluated or without classes.
    pub test_accuracy: Option<f64>,
}

/// `1e15` rather than `1000000000000000`.
fn short(v: f64) -> String {
    if v.abs() >= 1e6 {
        format!("{v:e}")
    } else {
        v.to_string()
    }
}

/// The largest loss a plot's axis takes: beyond it the run had diverged, and an axis over
/// hundreds of orders of magnitude has no usable ticks.
pub const MAX_PLOTTED: f64 = 1e15;

impl Point {
    /// From one `--metrics` JSON line. A field may be missing or null; one that is present must
    /// be a finite number in range (epoch at least 1, losses within `MAX_PLOTTED` of zero,
    /// accuracies in [0, 1]), else an error naming the field.
    pub fn from_json(v: &serde_json::Value) -> std::result::Result<Point, String> {
        let f = |k: &str, lo: f64, hi: f64| -> std::result::Result<Option<f64>, String> {
            match v.get(k) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(x) => match x.as_f64() {
                    Some(n) if n.is_finite() && (lo..=hi).contains(&n) => Ok(Some(n)),
                    _ => Err(format!(
                        "\"{k}\" is {x}, expected a number in [{}, {}]",
                        short(lo),
                        short(hi)
                    )),
                },
            }
        };
        let loss = |k| f(k, -MAX_PLOTTED, MAX_PLOTTED);
        let accuracy = |k| f(k, 0.0, 1.0);
        Ok(Point {
            epoch: f("epoch", 1.0, 1e12)?
                .ok_or("no numeric \"epoch\": not a wgtrain metrics line")?,
            train_loss: loss("train_loss")?,
            valid_loss: loss("valid_loss")?,
            test_loss: loss("test_loss")?,
            valid_accuracy: accuracy("valid_accuracy")?,
            test_accuracy: accuracy("test_accuracy")?,
        })
    }
}

impl From<&crate::train::EpochReport> for Point {
    fn from(r: &crate::train::EpochReport) -> Point {
        Point {
            epoch: r.epoch as f64,
            train_loss: Some(r.train_loss),
            valid_loss: r.valid_loss,
            test_loss: r.test_loss,
            valid_accuracy: r.valid_accuracy,
            test_accuracy: r.test_accuracy,
        }
    }
}

/// A metrics file's epochs as drawn, and what the reader left out.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metrics {
    /// The epochs, in increasing order.
    pub points: Vec<Point>,
    /// Notes for the user: lines replaced by later ones of the same or earlier epochs.
    pub notes: Vec<String>,
}

/// Reads a `--metrics` file: one JSON object per line; errors name the line.
pub fn read_metrics(path: &Path) -> Result<Metrics> {
    let bytes = crate::memory::read_file(path)?;
    parse_metrics(path, &bytes)
}

/// As `read_metrics`, from the file's bytes; `path` names the source in errors. A line whose
/// epoch is at or below an earlier line's replaces that line and those after it, as a run
/// resumed from an earlier epoch replaces them (a note names them: two runs appended to one
/// file read the same way). A file with no loss or accuracy in any line is an error.
pub fn parse_metrics(path: &Path, bytes: &[u8]) -> Result<Metrics> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| Error::data(path, format!("not UTF-8 text: {e}")))?;
    let mut lines: Vec<(usize, Point)> = Vec::new();
    let mut notes = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| Error::data(path, format!("line {}: not JSON: {e}", i + 1)))?;
        let p =
            Point::from_json(&v).map_err(|e| Error::data(path, format!("line {}: {e}", i + 1)))?;
        if let Some(at) = lines.iter().position(|(_, q)| q.epoch >= p.epoch) {
            let gone = lines.split_off(at);
            notes.push(replaced_note(path, &gone, i + 1, p.epoch));
        }
        lines.push((i + 1, p));
    }
    if lines.is_empty() {
        return Err(Error::data(path, "no epochs to plot"));
    }
    let drawable = |p: &Point| {
        [
            p.train_loss,
            p.valid_loss,
            p.test_loss,
            p.valid_accuracy,
            p.test_accuracy,
        ]
        .iter()
        .any(Option::is_some)
    };
    if !lines.iter().any(|(_, p)| drawable(p)) {
        return Err(Error::data(
            path,
            format!(
                "nothing to plot: its {} epochs hold no loss or accuracy (every value is null or missing)",
                lines.len()
            ),
        ));
    }
    let points = lines.into_iter().map(|(_, p)| p).collect();
    Ok(Metrics { points, notes })
}

/// The note for the lines `gone` (line number, point; at least one) replaced by line `line` of
/// epoch `epoch`.
fn replaced_note(path: &Path, gone: &[(usize, Point)], line: usize, epoch: f64) -> String {
    let (first, last) = (&gone[0], &gone[gone.len() - 1]);
    let span = |a: String, b: String| if a == b { a } else { format!("{a}-{b}") };
    format!(
        "{}: line {line} is epoch {epoch} again, after lines {} (epochs {}): a run resumed from an earlier epoch, or a second run appended to the file; drawing the later lines",
        path.display(),
        span(first.0.to_string(), last.0.to_string()),
        span(first.1.epoch.to_string(), last.1.epoch.to_string()),
    )
}

const SIZE: (u32, u32) = (1000, 420);

/// Where the plot's text gets its glyphs (plotters lays text out itself, SVG included).
const FONTS: [&str; 3] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/Library/Fonts/Arial.ttf",
];

/// The largest font file read: TrueType fonts are a few MiB; anything larger is not one.
const MAX_FONT_BYTES: u64 = 64 << 20;

/// Reads a font file: a regular file of at most `MAX_FONT_BYTES`.
fn read_font(path: &Path) -> std::result::Result<Vec<u8>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("{}: not a regular file", path.display()));
    }
    if meta.len() > MAX_FONT_BYTES {
        return Err(format!(
            "{}: {} bytes, larger than any TrueType font",
            path.display(),
            meta.len()
        ));
    }
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Makes the plots' font ready: `font` when given (an error when it cannot be used, never a
/// silent fallback), else the first of the usual DejaVu Sans / Arial locations. Call it before
/// a long run whose end draws a plot, so a missing font is found out at the start.
///
/// plotters keeps one font table for the whole process, so the first font registered stays:
/// a later call with another `font` does not replace it.
pub fn prepare_font(font: Option<&Path>) -> Result<()> {
    // Guards plotters' own process-wide font table: registered once, never changed after.
    static REGISTERED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    if REGISTERED.get().is_some() {
        return Ok(());
    }
    let bytes = match font {
        Some(p) => read_font(p).map_err(|e| Error::invalid("font", format!("({e})")))?,
        None => FONTS
            .iter()
            .find_map(|p| read_font(Path::new(p)).ok())
            .ok_or_else(|| {
                Error::usage(format!(
                    "plots need a TrueType font (looked in {}); install fonts-dejavu-core or name a .ttf file",
                    FONTS.join(", ")
                ))
            })?,
    };
    // Kept for the life of the process: plotters holds the font by reference.
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
        .map_err(|_| Error::invalid("font", "is not a usable TrueType font"))?;
    let _ = REGISTERED.set(());
    Ok(())
}

/// Draws loss (left) and accuracy (right, when there is any) per epoch into `path`: `.svg` or
/// `.png`, with the font `prepare_font(font)` makes ready.
pub fn draw(points: &[Point], path: &Path, font: Option<&Path>) -> Result<()> {
    output(&Curves(points), path, font)
}

/// Draws a batch-size sweep into `path` (`.svg` or `.png`): samples/s against batch size, both
/// axes logarithmic, one line per device, the batch from which the second device is faster
/// (`crossover`) marked. `note` goes under the title (what the devices are: a software adapter's
/// speed is CPU emulation, not GPU speed).
pub fn draw_sweep(
    points: &[crate::bench::SweepPoint],
    crossover: Option<usize>,
    note: &str,
    path: &Path,
    font: Option<&Path>,
) -> Result<()> {
    output(
        &Sweep {
            points,
            crossover,
            note,
        },
        path,
        font,
    )
}

/// Draws a GEMM sweep into `path` (`.svg` or `.png`): GFLOP/s per shape, a bar per device, on
/// a logarithmic axis, with each device's measured peak in `peaks` (device, GFLOP/s) as a
/// dashed line; `note` goes after the title.
pub fn draw_gemm(
    results: &[crate::bench::GemmResult],
    peaks: &[(String, f64)],
    note: &str,
    path: &Path,
    font: Option<&Path>,
) -> Result<()> {
    output(
        &gemm::Gemm {
            results,
            peaks,
            note,
        },
        path,
        font,
    )
}

/// The whole picture's area on a plotters backend.
type Area<DB> = DrawingArea<DB, plotters::coord::Shift>;

/// A picture that draws itself on any plotters backend, on the white `paint` gives it.
trait Picture {
    fn render<DB: DrawingBackend>(&self, root: &Area<DB>) -> std::result::Result<(), String>;
}

/// Fills `root` white, draws `picture` on it and presents it.
fn paint<DB: DrawingBackend>(
    picture: &impl Picture,
    root: &Area<DB>,
) -> std::result::Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    picture.render(root)?;
    root.present().map_err(|e| e.to_string())
}

/// Renders `picture` as SVG or PNG by `path`'s extension and writes it atomically.
fn output(picture: &impl Picture, path: &Path, font: Option<&Path>) -> Result<()> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let fail = |e: String| Error::usage(format!("{}: drawing failed: {e}", path.display()));
    match ext.as_str() {
        "svg" => {
            prepare_font(font)?;
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
                paint(picture, &root).map_err(fail)?;
            }
            write_atomic(path, svg.as_bytes())
        }
        "png" => {
            prepare_font(font)?;
            let mut rgb = vec![0u8; (SIZE.0 * SIZE.1 * 3) as usize];
            {
                let root = BitMapBackend::with_buffer(&mut rgb, SIZE).into_drawing_area();
                paint(picture, &root).map_err(fail)?;
            }
            let mut png_bytes = Vec::new();
            {
                let mut enc = png::Encoder::new(&mut png_bytes, SIZE.0, SIZE.1);
                enc.set_color(png::ColorType::Rgb);
                enc.set_depth(png::BitDepth::Eight);
                enc.set_compression(png::Compression::Best);
                let mut w = enc.write_header().map_err(|e| fail(e.to_string()))?;
                w.write_image_data(&rgb).map_err(|e| fail(e.to_string()))?;
            }
            write_atomic(path, &png_bytes)
        }
        _ => Err(Error::usage(format!(
            "{}: the plot's file name must end in .svg or .png",
            path.display()
        ))),
    }
}

/// A run's loss and accuracy curves.
struct Curves<'a>(&'a [Point]);

impl Picture for Curves<'_> {
    fn render<DB: DrawingBackend>(&self, root: &Area<DB>) -> std::result::Result<(), String> {
        let points = self.0;
        let losses = [
            curve(points, "train loss", BLUE, |p| p.train_loss),
            curve(points, "validation loss", RED, |p| p.valid_loss),
            curve(points, "test loss", GREEN, |p| p.test_loss),
        ];
        let accs = [
            curve(points, "validation accuracy", RED, |p| p.valid_accuracy),
            curve(points, "test accuracy", GREEN, |p| p.test_accuracy),
        ];
        let has_acc = accs.iter().any(|c| !c.2.is_empty());
        let panels = if has_acc {
            root.split_evenly((1, 2))
        } else {
            vec![root.clone()]
        };
        let last = points.iter().map(|p| p.epoch).fold(1.0, f64::max);
        panel(&panels[0], "loss per epoch", "loss", &losses, last)?;
        if has_acc {
            panel(&panels[1], "accuracy per epoch", "accuracy", &accs, last)?;
        }
        Ok(())
    }
}

/// A batch-size sweep.
struct Sweep<'a> {
    points: &'a [crate::bench::SweepPoint],
    crossover: Option<usize>,
    note: &'a str,
}

/// Line colours of a sweep's devices, in order of first appearance.
const DEVICE_COLORS: [RGBColor; 4] = [BLUE, RED, GREEN, MAGENTA];

impl Picture for Sweep<'_> {
    fn render<DB: DrawingBackend>(&self, root: &Area<DB>) -> std::result::Result<(), String> {
        let err = |e: &dyn std::fmt::Display| e.to_string();
        let mut devices: Vec<&str> = Vec::new();
        for p in self.points {
            if !devices.contains(&p.device.as_str()) {
                devices.push(&p.device);
            }
        }
        let batches = self.points.iter().map(|p| p.batch as f64);
        let (b0, b1) = batches.fold((f64::INFINITY, 1.0f64), |(a, b), x| (a.min(x), b.max(x)));
        let b0 = if b0.is_finite() { b0 } else { 1.0 };
        let rates = self.points.iter().map(|p| p.samples_per_sec);
        let (r0, r1) = rates
            .filter(|r| r.is_finite() && *r > 0.0)
            .fold((f64::INFINITY, 1.0f64), |(a, b), x| (a.min(x), b.max(x)));
        let r0 = if r0.is_finite() { r0 } else { 1.0 };
        let task = self.points.first().map_or("", |p| p.task);
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!("{task}: samples/s against batch size. {}", self.note),
                ("sans-serif", 16),
            )
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(
                (b0 / 1.3..b1 * 1.3).log_scale(),
                (r0 / 1.5..r1 * 1.5).log_scale(),
            )
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc("batch size (rows per step)")
            .y_desc("training samples/s")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .draw()
            .map_err(|e| err(&e))?;
        for (i, device) in devices.iter().enumerate() {
            let color = DEVICE_COLORS[i % DEVICE_COLORS.len()];
            let data: Vec<(f64, f64)> = self
                .points
                .iter()
                .filter(|p| p.device == *device && p.samples_per_sec > 0.0)
                .map(|p| (p.batch as f64, p.samples_per_sec))
                .collect();
            line_with_markers(&mut chart, device, color, &data)?;
        }
        if let Some(at) = self.crossover {
            let at = at as f64;
            chart
                .draw_series(LineSeries::new(
                    [(at, r0 / 1.5), (at, r1 * 1.5)],
                    BLACK.stroke_width(1),
                ))
                .map_err(|e| err(&e))?
                .label(format!("crossover: batch {at:.0}"))
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK));
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight)
    }
}

/// A series' line, labelled `name` in the legend, with a marker at each point (so a value
/// reported once, such as a final test score, shows).
fn line_with_markers<DB: DrawingBackend, X, Y>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
    name: &str,
    color: RGBColor,
    data: &[(f64, f64)],
) -> std::result::Result<(), String>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    chart
        .draw_series(LineSeries::new(data.iter().copied(), color.stroke_width(2)))
        .map_err(|e| e.to_string())?
        .label(name)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
    chart
        .draw_series(data.iter().map(|&p| Circle::new(p, 3, color.filled())))
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// The legend of the chart's labelled series at `position`, on a pale box with a black border.
fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> std::result::Result<(), String> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| e.to_string())
}

type Curve<'a> = (&'a str, RGBColor, Vec<(f64, f64)>);

fn curve(
    points: &[Point],
    name: &'static str,
    color: RGBColor,
    get: impl Fn(&Point) -> Option<f64>,
) -> Curve<'static> {
    (
        name,
        color,
        points
            .iter()
            .filter_map(|p| get(p).map(|v| (p.epoch, v)))
            .collect(),
    )
}

fn panel<DB: DrawingBackend>(
    area: &Area<DB>,
    title: &str,
    y_label: &str,
    curves: &[Curve],
    last_epoch: f64,
) -> std::result::Result<(), String> {
    let ys = curves.iter().flat_map(|c| c.2.iter().map(|p| p.1));
    let (lo, hi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| {
        (a.min(y), b.max(y))
    });
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    let pad = ((hi - lo) * 0.05).max(1e-6);
    let first = if last_epoch > 1.0 { 1.0 } else { 0.0 };
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(first..last_epoch.max(first + 1.0), (lo - pad)..(hi + pad))
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(y_label)
        .draw()
        .map_err(|e| e.to_string())?;
    for (name, color, data) in curves.iter().filter(|c| !c.2.is_empty()) {
        line_with_markers(&mut chart, name, *color, data)?;
    }
    // plotters' own default place for the legend.
    legend(&mut chart, SeriesLabelPosition::MiddleRight)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(line: &str) -> std::result::Result<Point, String> {
        Point::from_json(&serde_json::from_str(line).unwrap())
    }

    #[test]
    fn metrics_values_that_are_not_plottable_numbers_are_errors_naming_the_field() {
        let p = point(r#"{"epoch":2,"train_loss":0.5,"test_loss":null}"#).unwrap();
        assert_eq!((p.epoch, p.train_loss, p.test_loss), (2.0, Some(0.5), None));
        for (line, field) in [
            (r#"{"epoch":1,"train_loss":"abc"}"#, "train_loss"),
            (r#"{"epoch":1,"train_loss":1.7e308}"#, "train_loss"),
            (r#"{"epoch":1,"test_accuracy":1.5}"#, "test_accuracy"),
            (r#"{"epoch":-3}"#, "epoch"),
            (r#"{"epoch":"one"}"#, "epoch"),
        ] {
            let e = point(line).unwrap_err();
            assert!(e.starts_with(&format!("\"{field}\" is")), "{line}: {e}");
        }
        assert!(
            point(r#"{"train_loss":1}"#)
                .unwrap_err()
                .contains("no numeric")
        );
    }

    #[test]
    fn a_font_that_is_not_a_regular_file_is_refused_without_reading_it() {
        let e = read_font(Path::new("/dev/zero")).unwrap_err();
        assert!(e.contains("not a regular file"), "{e}");
    }

    fn points() -> Vec<Point> {
        (1..=5)
            .map(|e| Point {
                epoch: e as f64,
                train_loss: Some(1.0 / e as f64),
                valid_loss: Some(1.2 / e as f64),
                valid_accuracy: Some(0.5 + 0.08 * e as f64),
                ..Default::default()
            })
            .collect()
    }

    #[test]
    fn svg_plot_holds_both_panels_and_every_series() {
        let path = std::env::temp_dir().join(format!("wgtrain-plot-{}.svg", std::process::id()));
        draw(&points(), &path, None).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        for needle in [
            "loss per epoch",
            "accuracy per epoch",
            "train loss",
            "validation loss",
            "validation accuracy",
            "<polyline",
        ] {
            assert!(svg.contains(needle), "missing {needle}");
        }
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn plot_rejects_unknown_extensions_and_bad_metrics() {
        let e = draw(&points(), Path::new("plot.jpg"), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains(".svg or .png"), "{e}");
        let path =
            std::env::temp_dir().join(format!("wgtrain-bad-metrics-{}.jsonl", std::process::id()));
        std::fs::write(&path, "{\"epoch\": 1, \"train_loss\": 0.5}\nnot json\n").unwrap();
        let e = read_metrics(&path).unwrap_err().to_string();
        assert!(e.contains("line 2"), "{e}");
        std::fs::remove_file(&path).unwrap();
    }
}
