//! Samples/s against batch size on each device: from which batch on does the GPU path beat the
//! CPU path on this machine? One point per device and power-of-two batch, each a short run of a
//! task's network on a prefix of its training rows, validated once per device first.

use web_time::Instant;

use crate::config::{Config, Device};
use crate::data::Split;
use crate::error::{Error, Result};
use crate::model::Params;
use crate::optim::Optimizer;
use crate::session::Trainer;
use crate::trained::Model;

use super::{Task, check_first_step};

/// The batch sizes swept: powers of two from 16 to 8192.
pub const BATCHES: [usize; 10] = [16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192];
/// Training steps timed per point (at least; more while the rows last up to `MIN_ROWS`).
const MIN_STEPS: usize = 8;
/// Rows timed per point at least, so small batches are not timed on a handful of steps.
const MIN_ROWS: usize = 4096;

/// One measured point of a sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepPoint {
    /// The task whose network and data were trained.
    pub task: &'static str,
    /// The training path and device, as the session describes it.
    pub device: String,
    /// Rows per step.
    pub batch: usize,
    /// Training rows per second over the timed epoch (the second: the first warms up).
    pub samples_per_sec: f64,
    /// The timed epoch's rows (whole batches only).
    pub rows: usize,
}

impl SweepPoint {
    /// One JSON object holding every field under its own name.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "task": self.task,
            "device": self.device,
            "batch": self.batch,
            "samples_per_sec": self.samples_per_sec,
            "rows": self.rows,
        })
        .to_string()
    }

    /// One line of progress, indented: the task, the batch, its samples/s and the device.
    pub fn progress_line(&self) -> String {
        format!(
            "  {} batch {:>5}: {:>10.0} samples/s  {}",
            self.task, self.batch, self.samples_per_sec, self.device
        )
    }
}

/// Where the second device overtakes the first.
#[derive(Clone, Debug, PartialEq)]
pub enum Crossover {
    /// From this batch on (every larger batch measured on both included), the second device
    /// is faster.
    At(usize),
    /// At no batch measured on both (or not for good: it falls behind again at the largest).
    Never {
        /// The best ratio of the second device's samples/s to the first's.
        best_ratio: f64,
        /// The batch where it was seen.
        at: usize,
    },
    /// No batch was measured on both devices.
    Unknown,
}

impl Crossover {
    /// In words, for task `task`, the first device being the CPU path and the second the GPU
    /// path: `"T1: the GPU path overtakes the CPU path from batch 256 on"`.
    pub fn describe(&self, task: &str) -> String {
        match self {
            Crossover::At(b) => {
                format!("{task}: the GPU path overtakes the CPU path from batch {b} on")
            }
            Crossover::Never { best_ratio, at } => format!(
                "{task}: the GPU path does not overtake the CPU path here (at best {best_ratio:.2}x its samples/s, at batch {at})"
            ),
            Crossover::Unknown => format!("{task}: no batch ran on both paths"),
        }
    }
}

/// Where `b`'s samples/s overtake `a`'s for good among the batches measured on both.
pub fn crossover(points: &[SweepPoint], a: &str, b: &str) -> Crossover {
    let find = |device: &str, batch| {
        points
            .iter()
            .find(|p| p.device == device && p.batch == batch)
    };
    let both: Vec<(usize, f64)> = BATCHES
        .iter()
        .filter_map(|&batch| {
            let (pa, pb) = (find(a, batch)?, find(b, batch)?);
            Some((batch, pb.samples_per_sec / pa.samples_per_sec))
        })
        .collect();
    if both.is_empty() {
        return Crossover::Unknown;
    }
    match both.iter().rposition(|&(_, r)| r <= 1.0) {
        None => Crossover::At(both[0].0),
        Some(i) if i + 1 < both.len() => Crossover::At(both[i + 1].0),
        Some(_) => {
            let &(at, best_ratio) = both
                .iter()
                .max_by(|x, y| x.1.total_cmp(&y.1))
                .expect("not empty");
            Crossover::Never { best_ratio, at }
        }
    }
}

/// Trains `task`'s network on each of `devices` at every batch of `BATCHES` up to the training
/// rows, calling `on_point` as each point is measured. A device's sweep stops early (with a
/// line to `log`) once it has spent `seconds_per_device`: larger batches take longer per step,
/// and the small ones are where the question is. Each device's first-step gradients are checked
/// against the f64 reference before any point is timed.
pub fn sweep_batch(
    task: &'static Task,
    split: &Split,
    devices: &[Device],
    seconds_per_device: f64,
    log: &mut dyn FnMut(&str),
    on_point: &mut dyn FnMut(&SweepPoint),
) -> Result<Vec<SweepPoint>> {
    let spec = task.spec();
    let train = &split.train;
    if train.dim != spec.inputs() || train.target_width() != spec.outputs() {
        return Err(Error::Shape(format!(
            "{} does not fit task {}'s network {}",
            task.data,
            task.name,
            spec.describe()
        )));
    }
    let params = Params::init(&spec, 0);
    let mut points = Vec::new();
    for device in devices {
        let start = Instant::now();
        let mut checked = false;
        for &batch in BATCHES.iter().filter(|&&b| b <= train.n) {
            if start.elapsed().as_secs_f64() > seconds_per_device {
                log(&format!(
                    "  {}: stopped before batch {batch}, after {:.0} s on this device",
                    task.name, seconds_per_device
                ));
                break;
            }
            let steps = MIN_STEPS.max(MIN_ROWS.div_ceil(batch));
            let rows = (steps * batch).min(train.n / batch * batch);
            let part = train.subset(&(0..rows).collect::<Vec<_>>());
            let config = Config {
                lr: task.lr,
                batch,
                epochs: 2,
                optimizer: Optimizer::new(task.method),
                ..Config::default()
            };
            let model = Model::new(spec.clone(), params.clone())?;
            let mut session = Trainer::new(model, part, config).device(device.clone());
            let name = session.open()?.description.clone();
            if !checked {
                check_first_step(session.backend()?, &spec, &params, train)?;
                checked = true;
            }
            let fit = session.fit(|_| Ok(()))?;
            let seconds = fit.reports.last().map_or(f64::NAN, |r| r.seconds);
            let point = SweepPoint {
                task: task.name,
                device: name,
                batch,
                samples_per_sec: rows as f64 / seconds,
                rows,
            };
            on_point(&point);
            points.push(point);
        }
    }
    Ok(points)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(device: &str, batch: usize, sps: f64) -> SweepPoint {
        SweepPoint {
            task: "T1",
            device: device.into(),
            batch,
            samples_per_sec: sps,
            rows: 4096,
        }
    }

    #[test]
    fn the_crossover_is_where_the_second_device_stays_ahead() {
        let mut pts = vec![
            p("cpu", 16, 100.0),
            p("cpu", 32, 100.0),
            p("cpu", 64, 100.0),
        ];
        pts.extend([p("gpu", 16, 50.0), p("gpu", 32, 150.0), p("gpu", 64, 200.0)]);
        assert_eq!(crossover(&pts, "cpu", "gpu"), Crossover::At(32));
        // Ahead, behind, ahead again: only the last stretch counts.
        pts[3].samples_per_sec = 150.0;
        pts[4].samples_per_sec = 90.0;
        assert_eq!(crossover(&pts, "cpu", "gpu"), Crossover::At(64));
        pts[3].samples_per_sec = 150.0;
        pts[4].samples_per_sec = 150.0;
        assert_eq!(crossover(&pts, "cpu", "gpu"), Crossover::At(16));
    }

    #[test]
    fn a_device_that_never_overtakes_reports_its_best_ratio() {
        let pts = vec![
            p("cpu", 16, 100.0),
            p("cpu", 32, 100.0),
            p("gpu", 16, 10.0),
            p("gpu", 32, 50.0),
        ];
        assert_eq!(
            crossover(&pts, "cpu", "gpu"),
            Crossover::Never {
                best_ratio: 0.5,
                at: 32
            }
        );
        assert_eq!(crossover(&pts, "cpu", "other"), Crossover::Unknown);
        assert_eq!(
            crossover(&pts, "cpu", "gpu").describe("T3"),
            "T3: the GPU path does not overtake the CPU path here (at best 0.50x its samples/s, at batch 32)"
        );
        assert_eq!(
            Crossover::At(256).describe("T1"),
            "T1: the GPU path overtakes the CPU path from batch 256 on"
        );
    }
}
