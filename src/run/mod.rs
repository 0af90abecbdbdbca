//! A training run as one record, checked whole before anything trains: where the model comes
//! from (a new network, an init file, a resumed run), the data (sources by name or path, or
//! rows in memory), the settings, the device and the outputs (checkpoint, metrics, plot).
//!
//! `RunPlan::open` does every check a run can have before it trains, for every caller alike:
//! each output creatable under the very name a save uses and distinct from every input the
//! run reads (the validation and test files, each file of an IDX folder, the data an init or
//! resume file points to) and from every other output; the settings reconciled with a resumed
//! checkpoint (each contradiction named); the architecture checked against an init or resume
//! file; the data loaded and checked against the network; the device opened. It gives a `Run`:
//! the `Trainer`, the notes a caller should show, and `fit`, which also writes the metrics.
//!
//! One file past 600 lines because the plan's checking and opening (`checked`, `open`,
//! `model`, `init_model`) are one flow, read top to bottom; the settings, the architecture, the
//! outputs' checks, the opened run and eval/predict's helpers are modules of their own.
//!
//! ```no_run
//! use wgtrain::run::{Data, Outputs, RunPlan, Start};
//! # fn main() -> wgtrain::Result<()> {
//! let mut plan = RunPlan::default();
//! plan.data = Some(Data::Source("data/digits.csv.gz".into()));
//! plan.settings.epochs = Some(5);
//! plan.outputs.metrics = Some("metrics.jsonl".into());
//! let mut run = plan.open()?;
//! for note in run.notes() {
//!     eprintln!("note: {note}");
//! }
//! let end = run.fit(|r| Ok(println!("epoch {} loss {:.4}", r.epoch, r.train_loss)))?;
//! assert!(end.metrics_error.is_none());
//! // Resume it later, its settings from the file:
//! let again = RunPlan { start: Start::Resume("run.safetensors".into()), ..RunPlan::default() };
//! # let _ = again; Ok(()) }
//! ```

use std::path::{Path, PathBuf};

mod apply;
mod arch;
mod outputs;
mod running;
mod settings;
#[cfg(test)]
mod tests;

pub use crate::checkpoint::write_atomic;
pub use crate::checkpoint::{Arch, check_output};
pub use apply::{
    EvalRows, Part, PredictRows, eval_rows, predict_rows, predictions_csv, predictions_csv_with,
    schema_for,
};
pub use arch::{build, check, check_plain, expand, load_model};
pub use outputs::{Named, check_distinct};
pub use running::{Finished, Run};
pub use settings::{ScheduleName, Settings, TABLE_EPOCHS};

use crate::checkpoint::{self, Header, InputInfo, TrainingState};
use crate::config::Device;
use crate::data::{self, CsvOptions, Dataset, Need, Split, Table, Targets};
use crate::error::{Error, Result};
use crate::model::Loss;
use crate::session::{Checkpoints, Trainer};
use crate::trained::Model;

/// Where an interrupted run without a checkpoint path saves.
pub const INTERRUPTED_FILE: &str = "wgtrain-interrupted.safetensors";

/// Where a run's model comes from.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Start {
    /// A new network, from the architecture given and the data's shape, seeded parameters.
    #[default]
    New,
    /// A new run from the parameters of this file: a wgtrain checkpoint (its architecture,
    /// input standardisation and, without data given, its run's data) or a file without
    /// wgtrain's metadata (a PyTorch `state_dict`: layer sizes from the shapes, the rest given).
    Init(PathBuf),
    /// The run saved in this checkpoint, continued exactly where it stopped, with its settings.
    Resume(PathBuf),
}

/// A run's data.
#[derive(Clone, Debug)]
pub enum Data {
    /// Read by name or path: `digits`, `xor`, `mnist`, `fashion-mnist`, `kmnist`, a folder of
    /// IDX files, or a CSV file (a validation or test file is read with the training file's
    /// table).
    Source(String),
    /// Rows in memory.
    Rows(Dataset),
}

/// What a run writes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outputs {
    /// Where and when the session saves its checkpoint.
    pub checkpoint: Option<Checkpoints>,
    /// One JSON line per epoch, appended as each ends (a resumed run appends to its file).
    pub metrics: Option<PathBuf>,
    /// Loss and accuracy per epoch as a picture (.svg or .png), drawn by `Run::draw`.
    pub plot: Option<PathBuf>,
    /// The plot's TrueType font (default: DejaVu Sans where installed).
    pub font: Option<PathBuf>,
}

/// A training run, described whole. `Default`: a new 64-relu network on the built-in digits,
/// `Config::default()`'s settings, `Device::Auto`, no outputs.
#[derive(Clone, Debug)]
pub struct RunPlan {
    /// Where the model comes from.
    pub start: Start,
    /// The training data; None: an init or resume file's run's data, else `digits`.
    pub data: Option<Data>,
    /// A validation set, evaluated every epoch (instead of `Settings::valid_split`).
    pub valid: Option<Data>,
    /// A test set, evaluated after the last epoch (every epoch without a validation set).
    pub test: Option<Data>,
    /// How to read a CSV training file (a resumed run's given options must agree with it).
    pub csv: CsvOptions,
    /// The architecture: a new network's (64 relu units by default, the loss and output that
    /// fit the targets); an init or resume file's when it has wgtrain's metadata, which what
    /// is given must agree with.
    pub arch: Arch,
    /// The training settings.
    pub settings: Settings,
    /// Standardise the inputs (None: tabular data yes, images no; an init file's choice; a
    /// resumed run's).
    pub standardize: Option<bool>,
    /// Standardise a regression's targets (None: yes for tabular data in a new run).
    pub standardize_targets: Option<bool>,
    /// Where to train.
    pub device: Device,
    /// What the run writes.
    pub outputs: Outputs,
    /// Where named IDX sets (mnist, ...) are looked for: `ROOT/NAME` for each.
    pub data_roots: Vec<PathBuf>,
    /// The class count of an IDX dataset (every label below it; classes without rows
    /// allowed). None: the largest label + 1 (an init or resume file's run: its model's),
    /// and a top class of a handful of rows beside thousands is refused as a corrupt label.
    pub classes: Option<usize>,
}

impl Default for RunPlan {
    fn default() -> RunPlan {
        RunPlan {
            start: Start::New,
            data: None,
            valid: None,
            test: None,
            csv: CsvOptions::default(),
            arch: Arch::default(),
            settings: Settings::default(),
            standardize: None,
            standardize_targets: None,
            device: Device::default(),
            outputs: Outputs::default(),
            data_roots: data::idx::default_roots(),
            classes: None,
        }
    }
}

/// A checkpoint to continue: its file, model and run state.
struct Resumed {
    path: PathBuf,
    /// Taken when the run is built (never cloned: it may be most of memory).
    model: Option<Model>,
    state: TrainingState,
}

/// What `RunPlan::check` settles before any data is read.
struct Checked {
    resumed: Option<Resumed>,
    init: Option<(PathBuf, Header)>,
    /// The training source to read (None: rows in memory).
    source: Option<String>,
    csv: CsvOptions,
    /// The table a resumed run's or an init file's data is read with.
    table: Option<Table>,
    config: crate::config::Config,
    valid_split: Option<f64>,
    notes: Vec<String>,
}

/// The note for `n` rows of `file` left out because their label or target is missing.
pub(crate) fn dropped_note(file: &str, n: usize) -> String {
    format!(
        "{file}: {n} row{} left out: the label or target is missing ({})",
        if n == 1 { "" } else { "s" },
        setting("drop_missing_target")
    )
}

/// The setting `name`, as errors and notes name it.
fn setting(name: &str) -> String {
    format!("the setting `{name}`")
}

impl RunPlan {
    /// Every check that needs no data read: the init or resume file, the settings against it,
    /// the outputs. `open` does this first.
    pub fn check(&self) -> Result<()> {
        self.checked().map(drop)
    }

    fn checked(&self) -> Result<Checked> {
        if let Some(c) = &self.outputs.checkpoint {
            c.check()?;
        }
        let resumed = match &self.start {
            Start::Resume(p) => Some(load_resumed(p)?),
            _ => None,
        };
        let init = match &self.start {
            Start::Init(p) => Some((p.clone(), checkpoint::inspect(p)?)),
            _ => None,
        };
        let mut notes = Vec::new();
        let mut csv = self.csv.clone();
        let mut table = None;
        let mut source = match &self.data {
            Some(Data::Source(s)) => Some(s.clone()),
            Some(Data::Rows(_)) => None,
            None => Some("digits".to_string()),
        };
        // Without data, an init file trains on its run's data, read as that run read it.
        if let (Some((path, h)), None) = (&init, &self.data)
            && let Some(d) = &h.data
        {
            let d = data::stored_source(d, path);
            notes.push(format!(
                "training on {d}, the data {}'s run trained on ({} to change)",
                path.display(),
                setting("data")
            ));
            source = Some(d);
            if h.table.is_some() {
                if csv != CsvOptions::default() {
                    return Err(Error::usage(format!(
                        "{}: its run's data is read with the CSV table stored in it; the CSV settings apply to data given with {}",
                        path.display(),
                        setting("data")
                    )));
                }
                table = h.table.clone();
            } else {
                // A file from before tables: its stored layout.
                csv.label = csv.label.or(h.label_column.map(data::Column::Number));
                csv.targets = csv.targets.or(h.targets.map(data::TargetColumns::Last));
            }
        }
        let stored = resumed.as_ref().map(|r| (&r.state, r.path.as_path()));
        let r = self.settings.reconcile(stored)?;
        if let Some((st, p)) = stored {
            if self.data.is_none() {
                source = Some(data::stored_source(&st.data, p));
            }
            let (c, t) = settings::resumed_csv(&csv, st, p)?;
            csv = c;
            table = t;
        }
        if let (Some(p), None, None) = (r.config.patience, r.valid_split, &self.valid) {
            return Err(Error::invalid(
                "patience",
                format!(
                    "{p} stops on the validation loss, and this run has no validation set: give {} (a fraction of the training rows to hold out) or {} (a validation set)",
                    setting("valid_split"),
                    setting("valid")
                ),
            ));
        }
        self.check_outputs(source.as_deref(), &init, &resumed)?;
        Ok(Checked {
            resumed,
            init,
            source,
            csv,
            table,
            config: r.config,
            valid_split: r.valid_split,
            notes,
        })
    }

    /// Each output creatable (the temporary name a save uses too), of a kind it can be, and
    /// distinct from every input and every other output. The checkpoint may update the file a
    /// run starts from (it is written atomically, only with finite parameters).
    fn check_outputs(
        &self,
        source: Option<&str>,
        init: &Option<(PathBuf, Header)>,
        resumed: &Option<Resumed>,
    ) -> Result<()> {
        let o = &self.outputs;
        let save = o.checkpoint.as_ref().map(|c| c.path.as_path());
        for path in save
            .iter()
            .chain(&o.metrics.as_deref())
            .chain(&o.plot.as_deref())
        {
            checkpoint::check_output(path)?;
        }
        let names = ["data", "valid", "test"].map(setting);
        let mut data_files: Vec<(usize, PathBuf)> = Vec::new();
        let (valid, test) = (source_of(&self.valid), source_of(&self.test));
        let given = [source, valid.as_deref(), test.as_deref()];
        for (i, s) in given.into_iter().enumerate() {
            for f in s
                .map(|s| outputs::source_files(s, &self.data_roots))
                .unwrap_or_default()
            {
                data_files.push((i, f));
            }
        }
        let data: Vec<Named> = data_files
            .iter()
            .map(|(i, f)| (names[*i].as_str(), f.as_path()))
            .collect();
        let (save_name, init_name, resume_name) =
            (setting("save"), setting("init"), setting("resume"));
        let saves: Vec<Named> = save.map(|p| (save_name.as_str(), p)).into_iter().collect();
        check_distinct(&data, &saves)?;
        let starts: Vec<Named> = init
            .iter()
            .map(|(p, _)| (init_name.as_str(), p.as_path()))
            .chain(
                resumed
                    .iter()
                    .map(|r| (resume_name.as_str(), r.path.as_path())),
            )
            .collect();
        let inputs: Vec<Named> = data.iter().chain(&saves).chain(&starts).copied().collect();
        let (metrics_name, plot_name) = (setting("metrics"), setting("plot"));
        let others: Vec<Named> = o
            .metrics
            .iter()
            .map(|p| (metrics_name.as_str(), p.as_path()))
            .chain(o.plot.iter().map(|p| (plot_name.as_str(), p.as_path())))
            .collect();
        check_distinct(&inputs, &others)?;
        if let Some(p) = &o.plot {
            check_plot(p, o.font.as_deref())?;
        }
        Ok(())
    }

    /// Checks the whole plan, reads the data, builds or loads the model, opens the device: the
    /// run, ready to `fit`. Nothing is written yet.
    pub fn open(self) -> Result<Run> {
        crate::blocking::block("RunPlan::open_async", self.open_async())
    }

    /// `open`, awaited (the device is opened asynchronously: in a browser, WebGPU's adapter).
    pub async fn open_async(self) -> Result<Run> {
        let mut c = self.checked()?;
        let (split, source) = self.load(&c)?;
        let Split {
            train,
            mut test,
            table,
            counts,
        } = split;
        if counts.dropped > 0 {
            c.notes.push(dropped_note(
                source.as_deref().unwrap_or("the data"),
                counts.dropped,
            ));
        }
        if self.settings.epochs.is_none() && table.is_some() {
            c.config.epochs = settings::TABLE_EPOCHS;
        }
        if c.init.is_none() && c.resumed.is_none() {
            // A new network too wide for the GPU is refused before its parameters fill memory.
            let classes = matches!(train.targets, Targets::Classes { .. });
            let spec = build(
                &self.arch,
                train.dim,
                train.target_width(),
                classes,
                source.as_deref(),
            )?;
            crate::session::check_params_fit(&self.device, &spec).await?;
        }
        let model = self.model(&mut c, &train, table.as_ref())?;
        let from_file = matches!(self.start, Start::Init(_)).then(|| {
            (
                model.input.standardize.is_some(),
                model.input.target_standardize.is_some(),
            )
        });
        let config = c.config.clone();
        let mut t = Trainer::new(model, train, config).device(self.device.clone());
        if let Some(s) = &source {
            t = t.source(data::source_to_store(s));
        }
        // An init file's parameters were trained on inputs (and targets) as its file says:
        // standardised with its statistics, or raw when it has none, unless set otherwise.
        if let Some(yes) = self.standardize.or(from_file.map(|f| f.0)) {
            t = t.standardize(yes);
        }
        if let Some(yes) = self.standardize_targets.or(from_file.map(|f| f.1)) {
            t = t.standardize_targets(yes);
        }
        if let Some(d) = &self.test {
            test = Some(extra(d, "test", table.as_ref(), &mut c.notes)?);
        }
        // A run that keeps its best epoch reports that epoch's model on the test rows at the
        // end, so it keeps them as given.
        let keep_best = self
            .outputs
            .checkpoint
            .as_ref()
            .is_some_and(|c| c.keep_best);
        let kept_test = test.as_ref().filter(|_| keep_best).cloned();
        if let Some(test) = test {
            t = t.test(test);
        }
        if let Some(d) = &self.valid {
            t = t.validation(extra(d, "valid", table.as_ref(), &mut c.notes)?);
        }
        if let Some(f) = c.valid_split {
            t = t.hold_out(f);
        }
        if let Some(cp) = &self.outputs.checkpoint {
            t = t.checkpoints(cp.clone());
        }
        let resumed = c.resumed.is_some();
        if let Some(r) = c.resumed {
            t = t.resume(r.state);
        }
        t.open_async().await?;
        let done = t.progress().epoch;
        let Some(last_epoch) = done.checked_add(c.config.epochs) else {
            return Err(Error::invalid(
                "epochs",
                format!(
                    "{}: with the {done} epochs already trained, the count overflows",
                    c.config.epochs
                ),
            ));
        };
        if resumed && let Some(m) = &self.outputs.metrics {
            c.notes.extend(replaced_epochs_note(m, done));
        }
        Ok(Run {
            trainer: t,
            notes: c.notes,
            data: source.unwrap_or_else(|| "rows in memory".into()),
            table,
            counts,
            outputs: self.outputs,
            resumed,
            last_epoch,
            kept_test,
        })
    }

    /// The training rows: a resumed run's or an init file's CSV data read with its table, else
    /// the source read as the CSV options say, or the rows given.
    fn load(&self, c: &Checked) -> Result<(Split, Option<String>)> {
        if let Some(Data::Rows(d)) = &self.data {
            return Ok((Split::new(d.clone(), None), None));
        }
        let source = c.source.clone().unwrap_or_else(|| "digits".into());
        if let Some(t) = &c.table {
            let rows = t.read(Path::new(&source), Need::Targets, None)?;
            let split = Split {
                train: rows.data,
                test: None,
                table: Some(t.clone()),
                counts: rows.counts,
            };
            return Ok((split, Some(source)));
        }
        // A resumed or init file's IDX run had its model's class count.
        let stored = || {
            let spec = match (&c.resumed, &c.init) {
                (Some(r), _) => r.model.as_ref().map(|m| &m.spec),
                (None, Some((_, h))) => h.spec.as_ref(),
                _ => None,
            };
            spec.filter(|s| s.loss == Loss::CrossEntropy)
                .map(|s| s.outputs())
        };
        let classes = self
            .classes
            .or_else(|| data::is_idx(&source).then(stored).flatten());
        let split = data::load_source(&source, &c.csv, &self.data_roots, classes)?;
        Ok((split, Some(source)))
    }

    /// The model to train: the checkpoint's when resuming (what is given must describe it),
    /// else the init file's, else a new network for the data with seeded parameters.
    fn model(&self, c: &mut Checked, train: &Dataset, table: Option<&Table>) -> Result<Model> {
        if let Some(r) = &mut c.resumed {
            let Some(model) = r.model.take() else {
                return Err(Error::usage("the resumed model was taken before"));
            };
            let why = format!("{} takes the architecture from the file", setting("resume"));
            check(&self.arch, &model.spec, &r.path, &why)?;
            let file = r.path.display();
            let refuse = |what: String| {
                Err(Error::usage(format!(
                    "{file}: {what} on {}",
                    setting("resume")
                )))
            };
            match (self.standardize, r.state.standardize.is_some()) {
                (Some(true), false) => {
                    return refuse(format!(
                        "its run did not standardise its inputs; {} cannot be added",
                        setting("standardize")
                    ));
                }
                (Some(false), true) => {
                    return refuse(format!(
                        "its run standardised its inputs; {} off cannot take that away",
                        setting("standardize")
                    ));
                }
                _ => {}
            }
            if self.standardize_targets == Some(false) && r.state.target_standardize.is_some() {
                return refuse(format!(
                    "its run standardised its targets; {} off cannot take that away",
                    setting("standardize_targets")
                ));
            }
            return Ok(model);
        }
        let classes = matches!(train.targets, Targets::Classes { .. });
        let mut model = match &c.init {
            Some((path, header)) => {
                let model = self.init_model(path, header, train, c.source.as_deref())?;
                same_inputs(path, &model, table, c.source.as_deref())?;
                model
            }
            None => Model::init(
                build(
                    &self.arch,
                    train.dim,
                    train.target_width(),
                    classes,
                    c.source.as_deref(),
                )?,
                c.config.seed,
            )?,
        };
        model.input.table = table.cloned();
        if table.is_none() {
            // A legacy layout for sources without a table (built-in sets with targets).
            model.input.targets = match &c.csv.targets {
                Some(data::TargetColumns::Last(k)) => Some(*k),
                _ => None,
            };
        }
        Ok(model)
    }

    /// The model of an init file: its parameters and input standardisation, with the
    /// architecture of its metadata (what is given must agree), or for a file without metadata
    /// of the tensors' shapes and what is given (the loss and output as for a new network).
    fn init_model(
        &self,
        path: &Path,
        header: &Header,
        train: &Dataset,
        source: Option<&str>,
    ) -> Result<Model> {
        let hidden_layers = header.sizes.len().saturating_sub(2);
        let classes = matches!(train.targets, Targets::Classes { .. });
        let arch = match &header.spec {
            Some(spec) => {
                let why = format!("{} takes the architecture from the file", setting("init"));
                check(&self.arch, spec, path, &why)?;
                expand(&self.arch, hidden_layers)?
            }
            None => {
                check_plain(&self.arch, &header.sizes, path, false)?;
                let mut arch = expand(&self.arch, hidden_layers)?;
                let loss = arch.loss.unwrap_or(if classes {
                    Loss::CrossEntropy
                } else {
                    Loss::Mse
                });
                arch.output = arch.output.or(Some(loss.default_output()));
                arch.loss = Some(loss);
                arch
            }
        };
        let model = Model::load_with(path, &arch)?;
        let spec = &model.spec;
        if spec.inputs() != train.dim || spec.outputs() != train.target_width() {
            return Err(Error::usage(format!(
                "{} holds a {} network ({} inputs, {} outputs), but {} has {} inputs and {} {}: give {} of its shape",
                path.display(),
                spec.describe(),
                spec.inputs(),
                spec.outputs(),
                source.unwrap_or("the rows given"),
                train.dim,
                train.target_width(),
                if classes { "classes" } else { "targets" },
                setting("data"),
            )));
        }
        Ok(model)
    }
}

/// An init file trained on a table must meet the same inputs and classes in the new data: the
/// same feature columns (by name, with the same categories) in the same order, the same class
/// names. Its weights and input standardisation belong to those columns; on others (a file whose
/// columns are in another order) they would train on, silently wrong.
fn same_inputs(
    path: &Path,
    model: &Model,
    table: Option<&Table>,
    source: Option<&str>,
) -> Result<()> {
    let (Some(old), Some(new)) = (&model.input.table, table) else {
        return Ok(());
    };
    let inputs = |t: &Table| -> Vec<String> {
        t.columns
            .iter()
            .filter_map(|c| match &c.kind {
                data::table::Kind::Numeric { .. } => Some(c.name.clone()),
                data::table::Kind::Categorical { levels } => {
                    Some(format!("{} ({})", c.name, levels.join("|")))
                }
                data::table::Kind::Date { form, time, .. } => Some(format!(
                    "{} (dates {}{})",
                    c.name,
                    form.pattern(),
                    if *time { " with times" } else { "" }
                )),
                _ => None,
            })
            .collect()
    };
    let data = source.unwrap_or("the data");
    let (a, b) = (inputs(old), inputs(new));
    if a != b {
        return Err(Error::usage(format!(
            "{} was trained on the inputs {} in this order, but {data} gives {}: its weights and input standardisation belong to its own columns; give data with those columns in that order, or start a new run (without the setting `init`)",
            path.display(),
            a.join(", "),
            b.join(", ")
        )));
    }
    if old.classes != new.classes {
        let show = |c: &Option<Vec<String>>| c.as_ref().map_or("none".into(), |c| c.join(", "));
        return Err(Error::usage(format!(
            "{} was trained on the classes {}, but {data} has {}: its outputs mean those classes; give data of the same classes, or start a new run (without the setting `init`)",
            path.display(),
            show(&old.classes),
            show(&new.classes)
        )));
    }
    Ok(())
}

/// The name or path a `Data` reads, if it reads one.
fn source_of(d: &Option<Data>) -> Option<String> {
    match d {
        Some(Data::Source(s)) => Some(s.clone()),
        _ => None,
    }
}

/// A plot's name must end in .svg or .png, and a PNG needs its font now, not after the run.
pub(crate) fn check_plot(path: &Path, font: Option<&Path>) -> Result<()> {
    if !path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("svg") || e.eq_ignore_ascii_case("png"))
    {
        return Err(Error::invalid(
            "plot",
            format!("{}: the file name must end in .svg or .png", path.display()),
        ));
    }
    #[cfg(feature = "plot")]
    return crate::plot::prepare_font(font);
    #[cfg(not(feature = "plot"))]
    {
        let _ = font;
        Err(Error::invalid(
            "plot",
            "drawing needs wgtrain built with the feature `plot`",
        ))
    }
}

/// The checkpoint of a resumed run, which must hold a run's state, not only parameters.
fn load_resumed(path: &Path) -> Result<Resumed> {
    let (spec, params, state) = checkpoint::load_training(path)?;
    let Some(state) = state else {
        return Err(Error::invalid(
            "resume",
            format!(
                "{}: holds parameters but no optimizer state or run settings (written by an older wgtrain), so it cannot be resumed: use {} {} to start a new run from its parameters",
                path.display(),
                setting("init"),
                path.display()
            ),
        ));
    };
    let model = Model {
        spec,
        params,
        input: InputInfo {
            standardize: state.standardize.clone(),
            target_standardize: state.target_standardize.clone(),
            label_column: state.label_column,
            targets: state.targets,
            table: state.table.clone(),
        },
    };
    Ok(Resumed {
        path: path.to_path_buf(),
        model: Some(model),
        state,
    })
}

/// A validation or test set: rows as given, or a file read with the training file's table.
fn extra(d: &Data, what: &str, table: Option<&Table>, notes: &mut Vec<String>) -> Result<Dataset> {
    let path = match d {
        Data::Rows(rows) => return Ok(rows.clone()),
        Data::Source(s) => Path::new(s),
    };
    let Some(t) = table else {
        return Err(Error::usage(format!(
            "{} {}: applies when the training data is a CSV file",
            setting(what),
            path.display()
        )));
    };
    let rows = t.read(path, Need::Targets, None)?;
    if rows.counts.dropped > 0 {
        notes.push(dropped_note(
            &path.display().to_string(),
            rows.counts.dropped,
        ));
    }
    if rows.counts.unseen > 0 {
        notes.push(format!(
            "{}: {} categorical cells hold values the training file does not have; read as none of its levels",
            path.display(),
            rows.counts.unseen
        ));
    }
    Ok(rows.data)
}

/// A resumed run's metrics file `m` holding epochs after the `done` its checkpoint holds (a run
/// that kept its best epoch trained on past it): which, and that this run's replace them.
fn replaced_epochs_note(m: &Path, done: usize) -> Option<String> {
    let later = running::epochs_after(m, done);
    let (first, last) = (later.first()?, later.last()?);
    Some(format!(
        "{} holds epochs {first}-{last}, trained after the epoch {done} the checkpoint holds (it kept its best epoch): this run's epochs replace them",
        m.display()
    ))
}
