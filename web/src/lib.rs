//! wgtrain in a browser: the WebAssembly module behind the page in `web/static/`, and the run
//! the browser tests compare with the native CPU path.
//!
//! The library's async core (`Trainer::fit_async`) trains on the browser's WebGPU adapter
//! without blocking the page; this crate only turns what the page chose into a `Trainer` and
//! hands its reports to JavaScript.

use wgtrain::data::{self, Split};
use wgtrain::{Config, Device, Model, Spec, Trainer};

/// The run the browser tests train on WebGPU and compare, epoch by epoch, with the native CPU
/// path's figures (`tests/digits-cpu.json`): the built-in digits (1,437 training rows, 360
/// test rows), a 64-32(relu)-10 softmax network from seed 0, plain SGD at lr 0.1, batch 32,
/// shuffled with seed 0, on `device`.
pub fn check_run(epochs: usize, device: Device) -> wgtrain::Result<Trainer> {
    let Split { train, test, .. } = data::load("digits", None)?;
    let spec = Spec::classifier(64, &[32], 10)?;
    let config = Config {
        lr: 0.1,
        batch: 32,
        epochs,
        seed: 0,
        ..Config::default()
    };
    let mut trainer = Trainer::new(Model::init(spec, 0)?, train, config).device(device);
    if let Some(test) = test {
        trainer = trainer.test(test);
    }
    Ok(trainer)
}

/// One epoch of a run as the fixture and the page's result keep it.
pub fn epoch_json(r: &wgtrain::EpochReport) -> serde_json::Value {
    serde_json::json!({
        "epoch": r.epoch,
        "train_loss": r.train_loss,
        "test_loss": r.test_loss,
        "test_acc": r.test_accuracy,
    })
}

// ---- The page's API (wasm-bindgen). ----

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;

use wasm_bindgen::prelude::*;
use wgtrain::data::{CsvOptions, CsvText};
use wgtrain::files::{GivenFile, with_files, with_files_async};
use wgtrain::run::{Arch, Data, Run, RunPlan, Settings, Start};
use wgtrain::session::Fallback;
use wgtrain::{Error, StopToken};

/// An error for JavaScript: the message the CLI would print for it (settings named as the
/// library names them, "the setting `lr`", since the page's fields carry those names).
fn js_error(e: Error) -> JsError {
    JsError::new(&e.to_string())
}

/// What the page chose, as JSON: every field optional but `data`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    /// `digits`, `xor`, or the name of a CSV file given with the run.
    pub data: String,
    /// A CSV file given with the run to test on after every epoch.
    pub test: Option<String>,
    /// A checkpoint given with the run to start from (`init`) or continue (`resume`).
    pub init: Option<String>,
    pub resume: Option<String>,
    /// The class label column of a CSV file (name or 1-based number); default the last.
    pub label: Option<String>,
    /// Value target columns of a CSV file (names or numbers, comma separated): a regression.
    pub targets: Option<String>,
    /// How to read a CSV file where the reader's detection is not what the file means (each as
    /// `wgtrain train`'s flag of the same name takes it).
    pub delimiter: Option<String>,
    pub decimal: Option<String>,
    pub thousands: Option<String>,
    pub encoding: Option<String>,
    pub comment: Option<String>,
    pub na_values: Option<String>,
    pub drop_missing_target: bool,
    /// Dates with slashes are dd/mm/yyyy.
    pub day_first: bool,
    pub hidden: Option<Vec<usize>>,
    pub activation: Option<String>,
    pub optimizer: Option<String>,
    pub lr: Option<f32>,
    pub batch: Option<usize>,
    pub epochs: Option<usize>,
    pub seed: Option<u64>,
    pub l2: Option<f32>,
    pub valid_split: Option<f64>,
    /// `auto` (default: WebGPU when the browser has it, else the CPU), `gpu` or `cpu`.
    pub device: Option<String>,
}

impl Options {
    /// The run plan these options describe.
    pub fn plan(&self) -> wgtrain::Result<RunPlan> {
        let mut plan = RunPlan {
            data: Some(Data::Source(self.data.clone())),
            test: self.test.clone().map(Data::Source),
            data_roots: Vec::new(),
            ..RunPlan::default()
        };
        plan.start = match (&self.init, &self.resume) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid(
                    "init",
                    "and the setting `resume` both given: start from one checkpoint",
                ));
            }
            (Some(f), None) => Start::Init(PathBuf::from(f)),
            (None, Some(f)) => Start::Resume(PathBuf::from(f)),
            (None, None) => Start::New,
        };
        let csv = wgtrain::data::is_csv(&self.data);
        plan.csv = if csv {
            CsvText {
                label: self.label.clone(),
                targets: self.targets.clone(),
                delimiter: self.delimiter.clone(),
                decimal: self.decimal.clone(),
                thousands: self.thousands.clone(),
                encoding: self.encoding.clone(),
                comment: self.comment.clone(),
                na_values: self.na_values.clone(),
                drop_missing_target: self.drop_missing_target,
                day_first: self.day_first,
                ..CsvText::default()
            }
            .options()?
        } else {
            CsvOptions::default()
        };
        let activations = match &self.activation {
            Some(a) => Some(vec![a.parse()?]),
            None => None,
        };
        plan.arch = Arch {
            hidden: self.hidden.clone(),
            activations,
            ..Arch::default()
        };
        plan.settings = Settings {
            epochs: self.epochs,
            lr: self.lr,
            l2: self.l2,
            batch: self.batch,
            seed: self.seed,
            optimizer: match &self.optimizer {
                Some(m) => Some(m.parse()?),
                None => None,
            },
            valid_split: self.valid_split,
            ..Settings::default()
        };
        plan.device = match self.device.as_deref().unwrap_or("auto") {
            "auto" => Device::default(),
            "gpu" => Device::Gpu(wgtrain::GpuOptions::default()),
            "cpu" => Device::cpu(),
            d => {
                return Err(Error::invalid(
                    "device",
                    format!("{d:?}: expected auto, gpu or cpu"),
                ));
            }
        };
        Ok(plan)
    }
}

/// A file the page was given (dropped or chosen), by name.
fn given(name: String, bytes: Vec<u8>) -> GivenFile {
    (PathBuf::from(name), Arc::from(bytes))
}

/// The schema a CSV file would be read with under `options` (JSON, as `WebRun::open` takes
/// them; their CSV settings apply), as `wgtrain schema` prints it: JSON `{"lines": [...],
/// "schema": {...}}`, the lines in the library's words (settings
/// named "the setting `label`"), or the reader's error.
#[wasm_bindgen]
pub fn schema(name: String, bytes: Vec<u8>, options: String) -> Result<String, JsError> {
    let mut options: Options = serde_json::from_str(&options)
        .map_err(|e| JsError::new(&format!("the page's options: {e}")))?;
    options.data = name.clone();
    let csv = options.plan().map_err(js_error)?.csv;
    let file = given(name, bytes);
    let schema = with_files(std::slice::from_ref(&file), || {
        wgtrain::data::Schema::of(&file.0, &csv)
    })
    .map_err(js_error)?;
    Ok(serde_json::json!({
        "lines": schema.lines(|s| format!("the setting `{s}`")),
        "schema": schema,
    })
    .to_string())
}

/// A training run in the page: opened by `open`, trained by `fit` (which never blocks the
/// page), stopped by `stop`, saved by `checkpoint`.
#[wasm_bindgen]
pub struct WebRun {
    inner: Rc<RefCell<Option<Run>>>,
    files: Vec<GivenFile>,
    stop: StopToken,
    device: String,
    notes: Vec<String>,
    /// The test rows' source, to evaluate the trained model on (digits: its test split).
    test: Option<String>,
}

/// `WebRun::checkpoint`'s file name (what errors name).
const CHECKPOINT_NAME: &str = "wgtrain-model.safetensors";

#[wasm_bindgen]
impl WebRun {
    /// Plans and opens a run: `options` as JSON (`Options`), `names` and `contents` the files
    /// it names (CSV files, checkpoints), in the same order.
    pub async fn open(
        options: String,
        names: Vec<String>,
        contents: Vec<js_sys::Uint8Array>,
    ) -> Result<WebRun, JsError> {
        let options: Options = serde_json::from_str(&options)
            .map_err(|e| JsError::new(&format!("the page's options: {e}")))?;
        let files: Vec<GivenFile> = names
            .into_iter()
            .zip(contents)
            .map(|(n, c)| given(n, c.to_vec()))
            .collect();
        let plan = options.plan().map_err(js_error)?;
        let run = with_files_async(files.clone(), plan.open_async())
            .await
            .map_err(js_error)?;
        let mut run = run;
        let stop = run.trainer().stop_token();
        let opened = run.trainer().open().map_err(js_error)?.clone();
        let mut device = opened.description.clone();
        match opened.fallback {
            Some(Fallback::NoAdapter) => {
                device += " (this browser offers no WebGPU adapter: training on the CPU path)"
            }
            Some(Fallback::SoftwareAdapter(name)) => {
                device += &format!(" (the only adapter, {name}, emulates a GPU on the CPU)")
            }
            None => {}
        }
        let test = match (&options.test, options.data.as_str()) {
            (Some(t), _) => Some(t.clone()),
            (None, "digits") => Some("digits".to_string()),
            _ => None,
        };
        let mut notes = run.notes().to_vec();
        if let Some(t) = run.table() {
            notes.extend(t.notes());
        }
        Ok(WebRun {
            notes,
            inner: Rc::new(RefCell::new(Some(run))),
            files,
            stop,
            device,
            test,
        })
    }

    /// The device it trains on, in words (and why the CPU, when it is).
    pub fn device(&self) -> String {
        self.device.clone()
    }

    /// What opening the run settled that a person should know, one line each.
    pub fn notes(&self) -> Vec<String> {
        self.notes.clone()
    }

    /// The CSV schema the run reads, as JSON (null for the built-in sets).
    pub fn table(&self) -> Result<String, JsError> {
        let inner = self.inner.try_borrow().map_err(|_| busy())?;
        let run = inner.as_ref().ok_or_else(busy)?;
        Ok(serde_json::to_string(&run.table()).unwrap_or_else(|_| "null".into()))
    }

    /// Asks the run to stop after the step under way (the epoch ends there and is reported).
    pub fn stop(&self) {
        self.stop.stop();
    }

    /// Trains; `on_epoch` gets each epoch's figures as JSON as the epoch ends. The run as
    /// JSON: `{"device", "epochs": [{"epoch", "train_loss", "test_loss", "test_acc",
    /// "valid_loss", "valid_acc", "samples_per_sec"}, ...], "interrupted"}`.
    pub async fn fit(&self, on_epoch: js_sys::Function) -> Result<String, JsError> {
        let files = self.files.clone();
        let mut epochs = Vec::new();
        let finished = self
            .with_run(async |run: &mut Run| {
                let fit = run.fit_async(|r| {
                    let mut e = epoch_json(r);
                    e["samples_per_sec"] = serde_json::json!(r.samples_per_sec);
                    e["valid_loss"] = serde_json::json!(r.valid_loss);
                    e["valid_acc"] = serde_json::json!(r.valid_accuracy);
                    let _ = on_epoch.call1(&JsValue::NULL, &JsValue::from_str(&e.to_string()));
                    epochs.push(e);
                    Ok(())
                });
                with_files_async(files, fit).await
            })
            .await?
            .map_err(js_error)?;
        Ok(serde_json::json!({
            "device": self.device,
            "epochs": epochs,
            "interrupted": finished.fit.interrupted,
        })
        .to_string())
    }

    /// The trained model evaluated on the test rows (the built-in set's test split, or the
    /// test file): JSON `{"accuracy", "loss", "confusion", "class_names"}` (`Evaluation`'s
    /// JSON), or null without test rows.
    pub async fn evaluate(&self) -> Result<String, JsError> {
        let Some(test) = self.test.clone() else {
            return Ok("null".into());
        };
        let model = self.model().await?;
        let rows = with_files(&self.files, || {
            wgtrain::run::eval_rows(&model, &test, None, None, None, &[], false)
        })
        .map_err(js_error)?;
        let e = model.evaluate(&rows.set).map_err(js_error)?;
        let names = model.input.table.as_ref().and_then(|t| t.classes.clone());
        Ok(e.to_json_named(names.as_deref()))
    }

    /// The checkpoint as the CLI's `--save` writes it (safetensors with the run's state):
    /// `wgtrain eval`, `predict`, `--init` and `--resume` read it, and PyTorch loads its
    /// tensors.
    pub async fn checkpoint(&self) -> Result<Vec<u8>, JsError> {
        let name = std::path::Path::new(CHECKPOINT_NAME);
        self.with_run(async |run: &mut Run| run.trainer().checkpoint_bytes_async(name).await)
            .await?
            .map_err(js_error)
    }

    /// Predictions of the trained model for the rows of a CSV file, as the CLI's `predict`
    /// prints them (CSV).
    pub async fn predict(&self, name: String, bytes: Vec<u8>) -> Result<String, JsError> {
        let model = self.model().await?;
        let file = given(name.clone(), bytes);
        let rows = with_files(std::slice::from_ref(&file), || {
            wgtrain::run::predict_rows(&model, &name, false, &[], &[])
        })
        .map_err(js_error)?;
        let probs = model.predict(&rows.x, rows.n).map_err(js_error)?;
        Ok(wgtrain::run::predictions_csv(&model, &probs))
    }
}

impl WebRun {
    async fn model(&self) -> Result<wgtrain::Model, JsError> {
        self.with_run(async |run: &mut Run| run.trainer().model_async().await)
            .await?
            .map_err(js_error)
    }

    /// `f` on the run, which is taken out of the page's hands while `f` runs: a call that
    /// comes meanwhile (a second Train, a download during training) is told the run is busy,
    /// rather than finding it half-used. `stop` needs no run and always works.
    async fn with_run<T>(&self, f: impl AsyncFnOnce(&mut Run) -> T) -> Result<T, JsError> {
        let mut run = self
            .inner
            .try_borrow_mut()
            .map_err(|_| busy())?
            .take()
            .ok_or_else(busy)?;
        let value = f(&mut run).await;
        *self.inner.borrow_mut() = Some(run);
        Ok(value)
    }
}

fn busy() -> JsError {
    JsError::new("the run is busy (training, or saving): wait until it is done, or stop it")
}
