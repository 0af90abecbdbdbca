//! What a benchmark run measured (`Report`), against the fp32 peaks measured beside it
//! (`Peaks`): as a table, the paths compared in words, or one JSON object per result.

use super::{BenchResult, GemmResult, SPAN, SweepPoint, TASKS};

/// The measured fp32 peaks of the two paths, in GFLOP/s: the share of them each result reaches.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Peaks {
    /// The CPU path's (vector FMA on the pool's threads); None when not asked for or not
    /// measurable on this CPU.
    pub cpu: Option<f64>,
    /// The GPU path's (an FMA shader); None when not asked for.
    pub gpu: Option<f64>,
}

impl Peaks {
    /// The peak of `device`'s path: a device named `cpu...` is the CPU path's, every other the
    /// GPU path's.
    pub fn of(&self, device: &str) -> Option<f64> {
        if device.starts_with("cpu") {
            self.cpu
        } else {
            self.gpu
        }
    }

    /// `gflops` on `device` as a share of its path's peak: `"42%"`, `"0.5%"` under a tenth,
    /// `"-"` without a peak.
    pub fn share(&self, device: &str, gflops: f64) -> String {
        match self.of(device) {
            Some(p) if gflops < 0.1 * p => format!("{:.1}%", 100.0 * gflops / p),
            Some(p) => format!("{:.0}%", 100.0 * gflops / p),
            None => "-".into(),
        }
    }

    /// Per path, the higher of `self` and `other`: whatever else runs on the machine can only
    /// make a measurement low.
    pub fn higher(self, other: Peaks) -> Peaks {
        let max = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        Peaks {
            cpu: max(self.cpu, other.cpu),
            gpu: max(self.gpu, other.gpu),
        }
    }
}

/// What a benchmark run (`Plan::run`) measured.
#[derive(Clone, Debug)]
pub enum Report {
    /// The tasks' results, task by task and path by path, and the peaks measured beside them.
    Tasks {
        /// One validated result per task and path, in the order run.
        results: Vec<BenchResult>,
        /// The higher of the peaks measured before and after the runs.
        peaks: Peaks,
    },
    /// The GEMM sweep's results, shape by shape, and the peaks measured beside them.
    Gemm {
        /// One result per shape and path, in the order measured.
        results: Vec<GemmResult>,
        /// The higher of the peaks measured before and after the sweep.
        peaks: Peaks,
    },
    /// The batch sweep's points, task by task.
    Sweep {
        /// Every task's points, in the order measured.
        points: Vec<SweepPoint>,
    },
}

impl Report {
    /// The results as a text table, a line each and every line ending in a newline: the tasks
    /// with their share of their path's peak, the first and last ten epochs where a task has
    /// them, and each task's paths compared in words; the GEMM shapes with their share of the
    /// peak; the sweep's points.
    pub fn table(&self) -> String {
        match self {
            Report::Tasks { results, peaks } => tasks_table(results, peaks),
            Report::Gemm { results, peaks } => gemm_table(results, peaks),
            Report::Sweep { points } => sweep_table(points),
        }
    }

    /// One JSON object per result, each holding its fields under their own names; a task's and
    /// a shape's with its path's peak as `peak_gflops` (null without one).
    pub fn json_lines(&self) -> Vec<String> {
        match self {
            Report::Tasks { results, peaks } => results
                .iter()
                .map(|r| {
                    let mut j = r.json();
                    j["peak_gflops"] = serde_json::json!(peaks.of(&r.device));
                    j.to_string()
                })
                .collect(),
            Report::Gemm { results, peaks } => results
                .iter()
                .map(|r| r.to_json(peaks.of(&r.device)))
                .collect(),
            Report::Sweep { points } => points.iter().map(SweepPoint::to_json).collect(),
        }
    }
}

/// The task results as a table, the first and last ten epochs, and the paths compared.
fn tasks_table(results: &[BenchResult], peaks: &Peaks) -> String {
    let mut out = aligned(
        &[
            ("", "task", 4),
            (" ", "samples/s", 11),
            (" ", "s/epoch", 9),
            (" ", "GFLOP/s", 9),
            (" ", "peak", 6),
            (" ", "test acc", 8),
            ("  ", "device", 0),
        ],
        results.iter().map(|r| {
            vec![
                r.task.to_string(),
                format!("{:.0}", r.samples_per_sec),
                format!("{:.3}", r.seconds_per_epoch),
                format!("{:.1}", r.gflops),
                peaks.share(&r.device, r.gflops),
                format!("{:.4}", r.test_accuracy),
                r.device.clone(),
            ]
        }),
    );
    for r in results {
        if let Some((first, last)) = r.first_last {
            out += &format!(
                "{} {}: first {SPAN} epochs {first:.0} samples/s, last {SPAN} {last:.0} ({:.2}x)\n",
                r.task,
                r.device,
                last / first,
            );
        }
    }
    for task in TASKS.iter() {
        let find = |p: &str| {
            results
                .iter()
                .find(|r| r.task == task.name && r.device.starts_with(p))
        };
        if let (Some(g), Some(c)) = (find("gpu"), find("cpu")) {
            out += &format!(
                "{}: {}\n",
                task.name,
                compare(g.samples_per_sec, c.samples_per_sec)
            );
        }
    }
    out
}

/// The GPU path's speed against the CPU path's, in words.
fn compare(gpu: f64, cpu: f64) -> String {
    let r = gpu / cpu;
    if r >= 1.0 {
        format!("the GPU path trains {r:.2}x as many samples/s as the CPU path")
    } else {
        format!(
            "the GPU path trains {r:.2}x the CPU path's samples/s (the CPU path is {:.1}x faster here)",
            1.0 / r
        )
    }
}

/// The GEMM results as a table, each with its share of its path's peak.
fn gemm_table(results: &[GemmResult], peaks: &Peaks) -> String {
    aligned(
        &[
            ("", "form", 8),
            (" ", "m", 6),
            (" ", "k", 6),
            (" ", "n", 6),
            ("  ", "GFLOP/s", 10),
            (" ", "peak", 6),
            ("  ", "device", 0),
        ],
        results.iter().map(|r| {
            vec![
                r.form.to_string(),
                r.m.to_string(),
                r.k.to_string(),
                r.n.to_string(),
                format!("{:.1}", r.gflops),
                peaks.share(&r.device, r.gflops),
                r.device.clone(),
            ]
        }),
    )
}

/// A header line and a line per row: each column's gap before it, name and width (the first
/// left-aligned, the others right-aligned; width 0, the device, unpadded).
fn aligned(columns: &[(&str, &str, usize)], rows: impl Iterator<Item = Vec<String>>) -> String {
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut s = String::new();
        for (i, (&(gap, _, width), cell)) in columns.iter().zip(cells).enumerate() {
            s += gap;
            s += &match (i, width) {
                (_, 0) => cell.to_string(),
                (0, w) => format!("{cell:<w$}"),
                (_, w) => format!("{cell:>w$}"),
            };
        }
        s + "\n"
    };
    let mut out = line(&mut columns.iter().map(|c| c.1));
    for row in rows {
        out += &line(&mut row.iter().map(String::as_str));
    }
    out
}

/// The sweep's points as a table.
fn sweep_table(points: &[SweepPoint]) -> String {
    let mut out = format!("{:<4} {:>6} {:>11}  device\n", "task", "batch", "samples/s");
    for p in points {
        out += &format!(
            "{:<4} {:>6} {:>11.0}  {}\n",
            p.task, p.batch, p.samples_per_sec, p.device
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(
        task: &'static str,
        device: &str,
        sps: f64,
        first_last: Option<(f64, f64)>,
    ) -> BenchResult {
        BenchResult {
            task,
            device: device.into(),
            samples_per_sec: sps,
            seconds_per_epoch: 1437.0 / sps,
            gflops: 2.0,
            test_accuracy: 0.96,
            first_step_error: 0.01,
            first_last,
        }
    }

    #[test]
    fn a_task_report_gives_shares_of_the_peaks_and_compares_the_paths() {
        let report = Report::Tasks {
            results: vec![
                result("T3", "cpu (f32, gemm)", 100_000.0, None),
                result(
                    "T5",
                    "cpu (f32, gemm)",
                    50_000.0,
                    Some((40_000.0, 60_000.0)),
                ),
                result("T3", "gpu: llvmpipe", 25_000.0, None),
            ],
            peaks: Peaks {
                cpu: Some(100.0),
                gpu: None,
            },
        };
        let want = "\
task   samples/s   s/epoch   GFLOP/s   peak test acc  device
T3        100000     0.014       2.0   2.0%   0.9600  cpu (f32, gemm)
T5         50000     0.029       2.0   2.0%   0.9600  cpu (f32, gemm)
T3         25000     0.057       2.0      -   0.9600  gpu: llvmpipe
T5 cpu (f32, gemm): first 10 epochs 40000 samples/s, last 10 60000 (1.50x)
T3: the GPU path trains 0.25x the CPU path's samples/s (the CPU path is 4.0x faster here)
";
        assert_eq!(report.table(), want);
        let lines = report.json_lines();
        assert_eq!(lines.len(), 3);
        let j: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(j["peak_gflops"], 100.0);
        assert_eq!(j["task"], "T3");
        let j: serde_json::Value = serde_json::from_str(&lines[2]).unwrap();
        assert!(j["peak_gflops"].is_null(), "{j}");
    }

    #[test]
    fn a_gemm_report_aligns_its_columns_and_leaves_the_device_unpadded() {
        let gemm = |device: &str, form, (m, k, n), gflops| GemmResult {
            device: device.into(),
            form,
            m,
            k,
            n,
            gflops,
        };
        let report = Report::Gemm {
            results: vec![
                gemm("cpu", "square", (1024, 1024, 1024), 91.4),
                gemm("gpu: llvmpipe (64x64 tiles)", "Xᵀ·dZ", (784, 64, 128), 7.0),
            ],
            peaks: Peaks {
                cpu: Some(100.0),
                gpu: Some(1000.0),
            },
        };
        // The columns as the two hand-aligned formatters wrote them before they shared one.
        let want = "\
form          m      k      n     GFLOP/s   peak  device
square     1024   1024   1024        91.4    91%  cpu
Xᵀ·dZ       784     64    128         7.0   0.7%  gpu: llvmpipe (64x64 tiles)
";
        assert_eq!(report.table(), want);
    }

    #[test]
    fn shares_under_a_tenth_keep_a_decimal_and_the_higher_peak_is_kept() {
        let peaks = Peaks {
            cpu: Some(50.0),
            gpu: None,
        }
        .higher(Peaks {
            cpu: Some(200.0),
            gpu: Some(1000.0),
        });
        assert_eq!(
            peaks,
            Peaks {
                cpu: Some(200.0),
                gpu: Some(1000.0)
            }
        );
        assert_eq!(peaks.share("cpu", 100.0), "50%");
        assert_eq!(peaks.share("llvmpipe (matmul 64)", 5.0), "0.5%");
        assert_eq!(Peaks::default().share("cpu", 5.0), "-");
        let gemm = Report::Gemm {
            results: vec![GemmResult {
                device: "cpu".into(),
                form: "square",
                m: 128,
                k: 128,
                n: 128,
                gflops: 12.34,
            }],
            peaks,
        };
        assert_eq!(
            gemm.table(),
            "form          m      k      n     GFLOP/s   peak  device\n\
             square      128    128    128        12.3   6.2%  cpu\n"
        );
        let j: serde_json::Value = serde_json::from_str(&gemm.json_lines()[0]).unwrap();
        assert_eq!(j["peak_gflops"], 200.0);
        assert_eq!(j["form"], "square");
    }
}
