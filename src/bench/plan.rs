//! A whole benchmark run as one record (`Plan`): what to measure, which tasks, on which paths
//! (CPU, GPU), the fp32 peaks measured before and after; progress handed to a callback as it is
//! measured, the results handed back as a `Report`.
//!
//! Past 600 lines as one responsibility: the benchmark run as a whole (checking, then each kind
//! of measurement and its report), the measuring itself being in the sibling modules.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use web_time::Instant;

use crate::config::{Device, GpuOptions};
use crate::data::Split;
use crate::error::{Error, Result};
use crate::gpu::context;
use crate::gpu::tuning::{self, Setting};

#[cfg(feature = "plot")]
use crate::plot::{draw_gemm as plot_gemm, draw_sweep as plot_sweep};

use super::report::{Peaks, Report};
use super::{
    BenchResult, GemmGpu, GemmResult, SweepPoint, TASKS, Task, crossover, gemm_cpu, gemm_gpu,
    gemm_shapes, load_data, run_task, sweep_batch,
};

/// What a benchmark run measures.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Measure {
    /// Each task trained on every path (`run_task`): its speed, and the share of its path's
    /// fp32 peak it reaches.
    #[default]
    Tasks,
    /// Every shape of `gemm_shapes` on every path, GFLOP/s each.
    Gemm {
        /// An `.svg` or `.png` file to draw GFLOP/s per shape into, a bar per device and each
        /// path's peak as a dashed line (needs the `plot` feature).
        plot: Option<PathBuf>,
    },
    /// Samples/s against batch size for each task on every path (`sweep_batch`), and in words
    /// from which batch on the GPU path beats the CPU path.
    BatchSweep {
        /// Seconds spent on each path per task at most (the larger batches are left out once
        /// they are spent): a positive number.
        seconds: f64,
        /// An `.svg` or `.png` file to draw samples/s against batch size into, the crossover
        /// marked (needs the `plot` feature); a second task's goes beside it, named
        /// `TASK-NAME`.
        plot: Option<PathBuf>,
    },
}

/// A benchmark run: `run` measures it.
///
/// ```no_run
/// # fn demo() -> wgtrain::Result<()> {
/// use wgtrain::bench::{Plan, Progress};
/// let plan = Plan {
///     tasks: Some(vec!["T3".into()]),
///     devices: Some(vec!["cpu".into()]),
///     ..Plan::default()
/// };
/// let report = plan.run(&mut |p| {
///     if let Progress::Note(line) = p {
///         eprintln!("{line}");
///     }
/// })?;
/// print!("{}", report.table());
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// What to measure.
    pub measure: Measure,
    /// The tasks, by name (`Task::by_name`), in order. None: T1, T2 and T3; for a sweep T1, or
    /// T3 when T1's Fashion-MNIST is not installed.
    pub tasks: Option<Vec<String>>,
    /// The paths, each `"cpu"` or `"gpu"`, in order. None: cpu, and gpu when a hardware adapter
    /// exists (a `Progress::Skipped` says why not otherwise).
    pub devices: Option<Vec<String>>,
    /// The GPU path's adapter and options; its backend is also where `devices`' default looks.
    pub gpu: GpuOptions,
    /// Where named datasets are looked for (`load_data`).
    pub data_roots: Vec<PathBuf>,
    /// The plots' font; None: the library's usual locations (`plot::prepare_font`).
    pub font: Option<PathBuf>,
}

/// What a run reports as it goes, in order.
#[derive(Debug)]
#[non_exhaustive]
pub enum Progress<'a> {
    /// A line of progress or a note: a dataset loaded, an epoch trained, a sweep cut short, a
    /// peak measured, the crossover in words, a picture drawn.
    Note(&'a str),
    /// A path left out of the default list (`path`, `"gpu"`), and `why`.
    Skipped {
        /// The path left out.
        path: &'a str,
        /// Why, naming settings as "the setting `NAME`".
        why: &'a str,
    },
    /// A GEMM result as it is measured (`GemmResult::progress_line`, `GemmResult::to_json`),
    /// with its path's peak as measured before the sweep.
    Gemm {
        /// The shape measured.
        result: &'a GemmResult,
        /// Its path's peak, measured before the sweep.
        peak: Option<f64>,
    },
    /// A sweep point as it is measured (`SweepPoint::progress_line`, `SweepPoint::to_json`).
    Point(&'a SweepPoint),
}

/// Which paths are asked for: (CPU, GPU).
type Wants = (bool, bool);

impl Plan {
    /// Measures what `measure` asks for, every step and result handed to `on` as it happens;
    /// the results with the peaks measured beside them. Fails before any work on a plot that
    /// cannot be written or drawn, an unknown path or task, or a sweep's `seconds` that is not
    /// positive; later on a run that does not validate (`run_task`, `sweep_batch`).
    pub fn run(&self, on: &mut dyn FnMut(Progress<'_>)) -> Result<Report> {
        if let Measure::Gemm { plot: Some(path) } = &self.measure {
            self.prepare_plot(path)?;
        }
        let paths = self.paths(on)?;
        match &self.measure {
            Measure::BatchSweep { seconds, plot } => {
                self.sweep(&paths, *seconds, plot.as_deref(), on)
            }
            Measure::Gemm { plot } => self.gemm(&paths, plot.as_deref(), on),
            Measure::Tasks => self.tasks(&paths, on),
        }
    }

    /// The paths to run: `devices`, else cpu and, with a hardware adapter, gpu (saying why not
    /// when there is none).
    fn paths(&self, on: &mut dyn FnMut(Progress<'_>)) -> Result<Vec<String>> {
        let devices = match &self.devices {
            Some(d) => d.clone(),
            None => {
                let backend = self.gpu.backend;
                let mut d = vec!["cpu".to_string()];
                if context::pick_adapter(backend, false)?.is_some() {
                    d.push("gpu".into());
                } else {
                    let why = match context::pick_adapter(backend, true)? {
                        Some(s) => format!(
                            "the only adapter is the software one '{}' (CPU emulation; the setting `device` cpu,gpu uses it)",
                            s.get_info().name
                        ),
                        None => format!("no adapter; {}", context::no_adapter_hint(backend)),
                    };
                    on(Progress::Skipped {
                        path: "gpu",
                        why: &why,
                    });
                }
                d
            }
        };
        if devices.is_empty() {
            return Err(Error::usage(
                "the setting `device` names no path: expected cpu, gpu or both",
            ));
        }
        if let Some(bad) = devices.iter().find(|d| *d != "cpu" && *d != "gpu") {
            return Err(Error::usage(format!(
                "the setting `device`: unknown path '{bad}': expected cpu or gpu"
            )));
        }
        Ok(devices)
    }

    /// The device a path (`"cpu"`, `"gpu"`) trains on.
    fn device(&self, path: &str) -> Device {
        if path == "cpu" {
            Device::cpu()
        } else {
            Device::Gpu(self.gpu.clone())
        }
    }

    /// Fails early when `path` is not an .svg or .png name, cannot be written, or the font
    /// cannot be loaded.
    fn prepare_plot(&self, path: &Path) -> Result<()> {
        crate::run::check_plot(path, self.font.as_deref())?;
        crate::run::check_output(path)
    }

    /// `Measure::Tasks`: the peaks before, the tasks on every path, the peaks after.
    fn tasks(&self, paths: &[String], on: &mut dyn FnMut(Progress<'_>)) -> Result<Report> {
        let want = wants(paths);
        let before = self.measure_peaks(want)?;
        let results = self.run_tasks(paths, on)?;
        let peaks = self.final_peaks(before, want, on)?;
        Ok(Report::Tasks { results, peaks })
    }

    /// `Measure::Gemm`: the peaks before, the shapes on every path, the peaks after, the
    /// picture.
    fn gemm(
        &self,
        paths: &[String],
        plot: Option<&Path>,
        on: &mut dyn FnMut(Progress<'_>),
    ) -> Result<Report> {
        let want = wants(paths);
        let before = self.measure_peaks(want)?;
        let (results, software) = self.gemm_sweep(want, before, on)?;
        let peaks = self.final_peaks(before, want, on)?;
        if let Some(path) = plot {
            self.draw_gemm(&results, peaks, software, path, on)?;
        }
        Ok(Report::Gemm { results, peaks })
    }

    /// The fp32 peaks of the paths asked for, each measured now; `None` for a path not asked
    /// for or a CPU without a measurement.
    fn measure_peaks(&self, (want_cpu, want_gpu): Wants) -> Result<Peaks> {
        let cpu = want_cpu
            .then(|| crate::cpu::peak::measure(rayon::current_num_threads()))
            .flatten();
        let gpu = if want_gpu {
            Some(crate::gpu::peak::measure(&self.gpu.open()?)?)
        } else {
            None
        };
        Ok(Peaks {
            cpu: cpu.map(|p| p.gflops),
            gpu,
        })
    }

    /// The peaks measured again after the runs, the higher of them and `before` kept, each said
    /// (the CPU's lack of one too, when the CPU path ran).
    fn final_peaks(
        &self,
        before: Peaks,
        (want_cpu, want_gpu): Wants,
        on: &mut dyn FnMut(Progress<'_>),
    ) -> Result<Peaks> {
        let peaks = before.higher(self.measure_peaks((want_cpu, want_gpu))?);
        match peaks.cpu {
            Some(p) => on(Progress::Note(&format!(
                "cpu fp32 peak: {p:.0} GFLOP/s (vector FMA on {} thread(s), measured)",
                rayon::current_num_threads()
            ))),
            None if want_cpu => on(Progress::Note("cpu fp32 peak: not measured on this CPU")),
            None => {}
        }
        if let Some(p) = peaks.gpu {
            on(Progress::Note(&format!(
                "gpu fp32 peak: {p:.0} GFLOP/s (FMA shader, measured)"
            )));
        }
        Ok(peaks)
    }

    /// The tasks (T1, T2, T3 by default), each trained on every path, each dataset loaded once
    /// and its load time said.
    fn run_tasks(
        &self,
        paths: &[String],
        on: &mut dyn FnMut(Progress<'_>),
    ) -> Result<Vec<BenchResult>> {
        let default = || ["T1", "T2", "T3"].map(String::from).to_vec();
        let tasks = self
            .tasks
            .clone()
            .unwrap_or_else(default)
            .iter()
            .map(|name| Task::by_name(name))
            .collect::<Result<Vec<_>>>()?;
        let mut results = Vec::new();
        let mut splits: HashMap<&str, Split> = HashMap::new();
        for task in tasks {
            if !splits.contains_key(task.data) {
                let t = Instant::now();
                let split = load_data(task.data, &self.data_roots)?;
                on(Progress::Note(&format!(
                    "loaded {} in {:.2} s",
                    task.data,
                    t.elapsed().as_secs_f64()
                )));
                splits.insert(task.data, split);
            }
            let split = &splits[task.data];
            for path in paths {
                let device = self.device(path);
                results.push(run_task(task, split, &device, &mut |l| {
                    on(Progress::Note(l))
                })?);
            }
        }
        Ok(results)
    }

    /// Every shape on the paths asked for, each handed to `on` as it is measured (with the
    /// peak measured `before`, so a sweep cut short keeps what ran). The results, and whether
    /// the GPU was a software adapter.
    fn gemm_sweep(
        &self,
        (want_cpu, want_gpu): Wants,
        before: Peaks,
        on: &mut dyn FnMut(Progress<'_>),
    ) -> Result<(Vec<GemmResult>, bool)> {
        let mut software = false;
        let gpu = if want_gpu {
            let ctx = self.gpu.open()?;
            // A forced variant (WGTRAIN_MATMUL=64 or =128) sweeps that one; otherwise the
            // adapter's rule.
            let variant = match self.gpu.matmul.setting {
                Setting::Force(v) => v,
                _ => tuning::rule(&ctx.info),
            };
            software = !context::is_hardware(&ctx.info);
            Some(GemmGpu::new(ctx, variant)?)
        } else {
            None
        };
        let mut results = Vec::new();
        for (form, m, k, n) in gemm_shapes() {
            if want_cpu {
                results.push(gemm_cpu(form, m, k, n));
            }
            if let Some(gpu) = &gpu {
                results.push(gemm_gpu(gpu, form, m, k, n)?);
            }
            let r: &GemmResult = results.last().expect("a device ran");
            on(Progress::Gemm {
                result: r,
                peak: before.of(&r.device),
            });
        }
        Ok((results, software))
    }

    /// The GEMM results drawn into `path` against the `peaks`, each device's peak being its
    /// path's; a software adapter's bars are labelled as CPU emulation.
    fn draw_gemm(
        &self,
        results: &[GemmResult],
        peaks: Peaks,
        software: bool,
        path: &Path,
        on: &mut dyn FnMut(Progress<'_>),
    ) -> Result<()> {
        let mut lines: Vec<(String, f64)> = Vec::new();
        for r in results {
            if let Some(p) = peaks.of(&r.device)
                && !lines.iter().any(|(d, _)| *d == r.device)
            {
                lines.push((r.device.clone(), p));
            }
        }
        let note = if software {
            "The GPU bars are a software adapter: CPU emulation, not GPU speed."
        } else {
            ""
        };
        plot_gemm(results, &lines, note, path, self.font.as_deref())?;
        on(Progress::Note(&format!(
            "drew the GEMM sweep into {}",
            path.display()
        )));
        Ok(())
    }

    /// `Measure::BatchSweep`: each task's points on every path, the crossover in words, each
    /// task's picture.
    fn sweep(
        &self,
        paths: &[String],
        seconds: f64,
        plot: Option<&Path>,
        on: &mut dyn FnMut(Progress<'_>),
    ) -> Result<Report> {
        if !(seconds.is_finite() && seconds > 0.0) {
            return Err(Error::usage(format!(
                "the setting `seconds`: must be a positive number of seconds, got {seconds}"
            )));
        }
        if let Some(p) = plot {
            self.prepare_plot(p)?;
        }
        let names = self.tasks.clone().unwrap_or_else(|| vec!["T1".into()]);
        let devices: Vec<Device> = paths.iter().map(|p| self.device(p)).collect();
        let mut all = Vec::new();
        for name in names {
            let (task, split) = self.sweep_data(&name, on)?;
            let on = RefCell::new(&mut *on);
            let points = sweep_batch(
                task,
                &split,
                &devices,
                seconds,
                &mut |l| (on.borrow_mut())(Progress::Note(l)),
                &mut |p| (on.borrow_mut())(Progress::Point(p)),
            )?;
            let on = on.into_inner();
            let (gpu, marked) = say_crossover(task.name, &points, on);
            if let Some(path) = plot {
                let target = if all.is_empty() {
                    path.to_path_buf()
                } else {
                    path.with_file_name(format!(
                        "{}-{}",
                        task.name,
                        path.file_name()
                            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
                    ))
                };
                self.draw_sweep(&points, marked, gpu.as_deref(), &target, on)?;
            }
            all.extend(points);
        }
        Ok(Report::Sweep { points: all })
    }

    /// Task `name` and its data for a sweep; by default (no `tasks`), T3 on the built-in
    /// digits when T1's Fashion-MNIST cannot be loaded, with a note saying so.
    fn sweep_data(
        &self,
        name: &str,
        on: &mut dyn FnMut(Progress<'_>),
    ) -> Result<(&'static Task, Split)> {
        let mut task = Task::by_name(name)?;
        let split = match load_data(task.data, &self.data_roots) {
            Err(e) if self.tasks.is_none() => {
                task = Task::by_name("T3")?;
                on(Progress::Note(&format!(
                    "note: sweeping T3 (the built-in digits): T1's {} ({e})",
                    TASKS[0].data
                )));
                load_data(task.data, &self.data_roots)?
            }
            other => other?,
        };
        Ok((task, split))
    }

    /// One task's points drawn into `target`, the crossover `marked`; a software GPU adapter's
    /// line (`gpu` names the device) is labelled as CPU emulation.
    fn draw_sweep(
        &self,
        points: &[SweepPoint],
        marked: Option<usize>,
        gpu: Option<&str>,
        target: &Path,
        on: &mut dyn FnMut(Progress<'_>),
    ) -> Result<()> {
        let software = gpu.is_some_and(|g| g.contains("Cpu"));
        let note = if software {
            "The GPU line is a software adapter: CPU emulation, not GPU speed."
        } else {
            ""
        };
        plot_sweep(points, marked, note, target, self.font.as_deref())?;
        on(Progress::Note(&format!(
            "drew the sweep into {}",
            target.display()
        )));
        Ok(())
    }
}

/// Which of the CPU and GPU paths `paths` asks for.
fn wants(paths: &[String]) -> Wants {
    (
        paths.iter().any(|d| d == "cpu"),
        paths.iter().any(|d| d == "gpu"),
    )
}

/// Where the GPU path (the first device that is not the CPU) overtakes the CPU path in task
/// `name`'s points, in words to `on` when both ran. The GPU device, and the batch to mark on
/// the plot, if any.
fn say_crossover(
    name: &str,
    points: &[SweepPoint],
    on: &mut dyn FnMut(Progress<'_>),
) -> (Option<String>, Option<usize>) {
    let first = |cpu: bool| {
        points
            .iter()
            .find(|p| p.device.starts_with("cpu") == cpu)
            .map(|p| p.device.clone())
    };
    let (cpu, gpu) = (first(true), first(false));
    let mut marked = None;
    if let (Some(c), Some(g)) = (&cpu, &gpu) {
        let found = crossover(points, c, g);
        if let super::Crossover::At(b) = found {
            marked = Some(b);
        }
        on(Progress::Note(&found.describe(name)));
    }
    (gpu, marked)
}

/// A picture asked for where the library was built without drawing.
#[cfg(not(feature = "plot"))]
fn no_plot() -> Error {
    Error::usage("the setting `plot` needs wgtrain built with its `plot` feature")
}

/// Without the `plot` feature: never reached, `run::check_plot` having failed.
#[cfg(not(feature = "plot"))]
fn plot_gemm(
    _: &[GemmResult],
    _: &[(String, f64)],
    _: &str,
    _: &Path,
    _: Option<&Path>,
) -> Result<()> {
    Err(no_plot())
}

/// Without the `plot` feature: never reached, `run::check_plot` having failed.
#[cfg(not(feature = "plot"))]
fn plot_sweep(
    _: &[SweepPoint],
    _: Option<usize>,
    _: &str,
    _: &Path,
    _: Option<&Path>,
) -> Result<()> {
    Err(no_plot())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(measure: Measure, devices: &[&str]) -> Plan {
        Plan {
            measure,
            tasks: Some(vec!["T3".into()]),
            devices: Some(devices.iter().map(|d| d.to_string()).collect()),
            ..Plan::default()
        }
    }

    #[test]
    fn a_sweep_out_of_time_says_so_and_reports_no_points() {
        let sweep = Measure::BatchSweep {
            seconds: 1e-12,
            plot: None,
        };
        let mut notes = Vec::new();
        let report = plan(sweep, &["cpu"])
            .run(&mut |p| {
                if let Progress::Note(l) = p {
                    notes.push(l.to_string());
                }
            })
            .unwrap();
        assert_eq!(
            notes,
            ["  T3: stopped before batch 16, after 0 s on this device"]
        );
        assert_eq!(report.table(), "task  batch   samples/s  device\n");
        assert!(report.json_lines().is_empty());
    }

    #[test]
    fn unknown_paths_and_a_sweep_without_time_are_refused_naming_the_setting() {
        let e = plan(Measure::Tasks, &["cpu", "tpu"])
            .run(&mut |_| {})
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "the setting `device`: unknown path 'tpu': expected cpu or gpu"
        );
        let gemm = Measure::Gemm { plot: None };
        let e = plan(gemm, &[]).run(&mut |_| {}).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the setting `device` names no path: expected cpu, gpu or both"
        );
        let sweep = Measure::BatchSweep {
            seconds: 0.0,
            plot: None,
        };
        let e = plan(sweep, &["cpu"]).run(&mut |_| {}).unwrap_err();
        assert_eq!(
            e.show(|n| format!("--{n}")),
            "--seconds: must be a positive number of seconds, got 0"
        );
    }
}
