//! An opened run (`Run`): its trainer, its notes, and the outputs it writes as it trains (the
//! metrics, appended per epoch; the plot; a stopped run's save).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::{INTERRUPTED_FILE, Outputs};
use crate::checkpoint;
use crate::data::{Counts, Table};
use crate::error::{Error, Result};
use crate::evaluate::Evaluation;
use crate::session::{Fit, Trainer};
use crate::train::EpochReport;

/// An opened run: its `Trainer`, what to tell its user, and the outputs it writes.
pub struct Run {
    pub(super) trainer: Trainer,
    pub(super) notes: Vec<String>,
    pub(super) data: String,
    pub(super) table: Option<Table>,
    pub(super) counts: Counts,
    pub(super) outputs: Outputs,
    pub(super) resumed: bool,
    pub(super) last_epoch: usize,
    /// The test rows as given, for a run that keeps its best epoch.
    pub(super) kept_test: Option<crate::data::Dataset>,
}

/// What `Run::fit` did: the session's `Fit`, and a metrics file that could not be written
/// (which stopped the run at that epoch, as a stop token does, and saved it).
#[derive(Debug)]
pub struct Finished {
    /// The session's account of the run.
    pub fit: Fit,
    /// Why the metrics file could not be written, when it could not.
    pub metrics_error: Option<Error>,
    /// A run that kept its best epoch (`Checkpoints::keep_best`) and has a test set: the saved
    /// model, read back from its file, evaluated on the test rows; its figures, not the last
    /// epoch's, are what the file gives. None otherwise, or when the run was interrupted.
    pub kept_test: Option<Evaluation>,
}

impl Run {
    /// The session.
    pub fn trainer(&mut self) -> &mut Trainer {
        &mut self.trainer
    }

    /// What the plan settled that its user should know (the data an init file chose, unseen
    /// categories in a validation file), in the library's words: settings are named as "the
    /// setting `NAME`".
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The training source as read ("rows in memory" for rows given).
    pub fn data_name(&self) -> &str {
        &self.data
    }

    /// The CSV table the training file was read with.
    pub fn table(&self) -> Option<&Table> {
        self.table.as_ref()
    }

    /// Missing cells imputed and unseen categories in the training rows.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// The epoch the run ends at: those already trained (a resumed run's) and this run's.
    pub fn last_epoch(&self) -> usize {
        self.last_epoch
    }

    /// The plan's outputs.
    pub fn outputs(&self) -> &Outputs {
        &self.outputs
    }

    /// Trains (`Trainer::fit`), appending each epoch's report to the metrics file after
    /// `on_epoch` has seen it: created at the first epoch's end (a resumed run appends to its
    /// file), one line flushed per epoch. A metrics file that cannot be written stops the run
    /// at that epoch (the checkpoint is saved as at any stop) and is returned in `Finished`.
    pub fn fit(&mut self, on_epoch: impl FnMut(&EpochReport) -> Result<()>) -> Result<Finished> {
        crate::blocking::block("Run::fit_async", self.fit_async(on_epoch))
    }

    /// `fit`, awaited (`Trainer::fit_async`).
    pub async fn fit_async(
        &mut self,
        mut on_epoch: impl FnMut(&EpochReport) -> Result<()>,
    ) -> Result<Finished> {
        let token = self.trainer.stop_token();
        let mut file: Option<(std::fs::File, u64)> = None;
        let mut metrics_error = None;
        // A resumed run appends after the epochs up to its start.
        let start = self.resumed.then(|| self.trainer.progress().epoch);
        let path = self.outputs.metrics.clone();
        let fit = self
            .trainer
            .fit_async(|r| {
                on_epoch(r)?;
                if let Some(path) = &path
                    && metrics_error.is_none()
                    && let Err(e) = append_metrics(&mut file, path, &r.to_json(), start)
                {
                    metrics_error = Some(e);
                    token.stop();
                }
                Ok(())
            })
            .await?;
        let kept_test = self.evaluate_kept(&fit)?;
        Ok(Finished {
            fit,
            metrics_error,
            kept_test,
        })
    }

    /// The kept model (the checkpoint file `fit` saved its best epoch to) on the test rows.
    fn evaluate_kept(&self, fit: &Fit) -> Result<Option<Evaluation>> {
        let (Some(test), Some(_), Some(path), false) =
            (&self.kept_test, fit.kept, &fit.saved, fit.interrupted)
        else {
            return Ok(None);
        };
        if fit.save_error.is_some() {
            return Ok(None);
        }
        let model = crate::trained::Model::load(path)?;
        model.evaluate(test).map(Some)
    }

    /// Saves a stopped run that `fit` did not save (no checkpoint path: `INTERRUPTED_FILE`,
    /// or when a file has that name, the first free `wgtrain-interrupted-N.safetensors`, so an
    /// earlier interrupted run's model is never replaced); where the model is.
    pub fn save_stopped(&mut self, fit: &Fit) -> Result<PathBuf> {
        if let Some(p) = &fit.saved {
            return Ok(p.clone());
        }
        let p = match &self.outputs.checkpoint {
            Some(c) => c.path.clone(),
            None => interrupted_file(Path::new(""))?,
        };
        self.trainer.save(&p)?;
        Ok(p)
    }

    /// Draws the plan's plot of the run's epochs; the picture's path, or None without a plot
    /// or epochs.
    #[cfg(feature = "plot")]
    pub fn draw(&self, fit: &Fit) -> Result<Option<PathBuf>> {
        let Some(path) = &self.outputs.plot else {
            return Ok(None);
        };
        if fit.reports.is_empty() {
            return Ok(None);
        }
        let points: Vec<crate::plot::Point> = fit.reports.iter().map(Into::into).collect();
        crate::plot::draw(&points, path, self.outputs.font.as_deref())?;
        Ok(Some(path.clone()))
    }
}

/// The first name of `INTERRUPTED_FILE`, `wgtrain-interrupted-2.safetensors`, ... that nothing
/// in `dir` has (a link included).
fn interrupted_file(dir: &Path) -> Result<PathBuf> {
    let stem = INTERRUPTED_FILE.trim_end_matches(".safetensors");
    (1..1000)
        .map(|n| match n {
            1 => dir.join(INTERRUPTED_FILE),
            n => dir.join(format!("{stem}-{n}.safetensors")),
        })
        .find(|p| std::fs::symlink_metadata(p).is_err())
        .ok_or_else(|| {
            Error::usage(format!(
                "{} and 998 more numbered files exist: nowhere to save the interrupted run",
                dir.join(INTERRUPTED_FILE).display()
            ))
        })
}

/// Appends `line` to the metrics file, opened on the first call: created afresh, or for a run
/// resumed after epoch `start` added to, once the lines of any later epochs (a run resumed from
/// its best epoch trained past it) and a last line torn by a full disk are taken out,
/// atomically. A line that cannot be written whole is cut back off (`file` holds the length of
/// its complete lines), so the file stays one JSON object per line for a resumed run to add to.
fn append_metrics(
    file: &mut Option<(std::fs::File, u64)>,
    path: &Path,
    line: &str,
    start: Option<usize>,
) -> Result<()> {
    let io = |err| Error::Io {
        path: path.to_path_buf(),
        err,
    };
    if file.is_none() {
        if let Some(done) = start
            && let Ok(text) = std::fs::read_to_string(path)
        {
            // A torn last line has no '\n' after it.
            let whole = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
            let later = whole.lines().any(|l| epoch_of(l).is_some_and(|e| e > done));
            if later || whole.len() < text.len() {
                let kept: String = whole
                    .lines()
                    .filter(|l| epoch_of(l).is_none_or(|e| e <= done))
                    .flat_map(|l| [l, "\n"])
                    .collect();
                checkpoint::write_atomic(path, kept.as_bytes())?;
            }
        }
        let f = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(start.is_some())
            .truncate(start.is_none())
            .open(path)
            .map_err(io)?;
        let len = f.metadata().map_err(io)?.len();
        *file = Some((f, len));
    }
    if let Some((f, good)) = file.as_mut() {
        let bytes = format!("{line}\n");
        if let Err(e) = f.write_all(bytes.as_bytes()) {
            // Best effort: the run stops on the error either way.
            let _ = f.set_len(*good);
            return Err(io(e));
        }
        *good += bytes.len() as u64;
    }
    Ok(())
}

/// The epoch a metrics line reports, if it is one.
fn epoch_of(line: &str) -> Option<usize> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    v.get("epoch")?.as_u64().map(|e| e as usize)
}

/// The epochs after `done` that the metrics file at `path` reports (none when it cannot be
/// read).
pub(super) fn epochs_after(path: &Path, done: usize) -> Vec<usize> {
    std::fs::read_to_string(path)
        .map(|t| {
            t.lines()
                .filter_map(epoch_of)
                .filter(|&e| e > done)
                .collect()
        })
        .unwrap_or_default()
}
