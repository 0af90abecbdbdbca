//! Checkpoints as safetensors: `layers.{i}.weight` `[out, in]` and `layers.{i}.bias` `[out]`, f32,
//! the `torch.nn.Linear` layout, with the architecture in the metadata (read also without it, and
//! with `nn.Sequential`'s names, from PyTorch: `arch`); for `--resume`, also the
//! optimiser state `optim.layers.{i}.weight.{slot}` / `optim.layers.{i}.bias.{slot}` (slot
//! `momentum`, or Adam's `m` and `v`, in the same layouts) and the run's settings and position
//! in the metadata. Written atomically.
//!
//! One file because writing and reading the format must stay in step: every tensor name and
//! metadata key `encode` writes, `decode` reads back here, next to it; which tensors form the
//! layers of a foreign file is `arch`'s.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use safetensors::{Dtype, SafeTensors, tensor::TensorView};

use crate::data::standardize::Standardize;
use crate::data::table::Table;
use crate::error::{Error, Result};
use crate::model::{Layer, Params, Spec};
use crate::optim::{OptimState, Optimizer, Schedule, number};
use crate::train::Progress;

mod arch;

pub use arch::Arch;

const FORMAT: &str = "wgtrain-1";

/// Marks a temporary file as wgtrain's own: `.{name}{TMP_MARK}{pid}`. Only files with it are
/// ever removed as stale, so a user's `.model.safetensors.tmp1` stays.
const TMP_MARK: &str = ".wgtrain-tmp";
/// The longest file name most file systems take (ext4, XFS, btrfs, APFS, NTFS: 255 bytes).
const NAME_MAX: usize = 255;

/// The folder `path` is written in, and its file name: refused when `path` ends in a separator
/// (it names a folder: renaming onto `model.safetensors/` would fail only after the work).
fn dir_and_name(path: &Path) -> Result<(&Path, &std::ffi::OsStr)> {
    let text = path.as_os_str().to_string_lossy();
    let name = path
        .file_name()
        .filter(|_| !text.ends_with(['/', std::path::MAIN_SEPARATOR]));
    let Some(name) = name else {
        return Err(Error::usage(format!(
            "{}: names a folder, not a file",
            path.display()
        )));
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    Ok((dir, name))
}

/// The temporary name's start, `.{name}{TMP_MARK}`, with `name` cut (at a character boundary)
/// so that with a process id the whole stays within `NAME_MAX` bytes: a legal long name must
/// not fail only at its save.
fn tmp_prefix(name: &std::ffi::OsStr) -> String {
    let name = name.to_string_lossy();
    let room = NAME_MAX - 1 - TMP_MARK.len() - 10; // '.', the mark, a u32 pid
    let mut cut = name.len().min(room);
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!(".{}{TMP_MARK}", &name[..cut])
}

/// The file a save to `path` writes: `path`, or, when `path` is a symbolic link, the file it
/// leads to (links followed to the end), so that the rename replaces the link's target and the
/// link stays. A link that leads nowhere is refused: writing through it would create a file
/// somewhere the user did not name.
fn resolve(path: &Path) -> Result<std::path::PathBuf> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => std::fs::canonicalize(path).map_err(|e| {
            let to = std::fs::read_link(path)
                .map(|t| t.display().to_string())
                .unwrap_or_else(|_| "?".into());
            Error::usage(format!(
                "{}: is a symbolic link to {to}, which cannot be followed ({e}); refusing to write through it",
                path.display()
            ))
        }),
        _ => Ok(path.to_path_buf()),
    }
}

/// The longest path the system takes (Linux's PATH_MAX counts the closing NUL).
#[cfg(unix)]
const PATH_MAX: usize = libc::PATH_MAX as usize - 1;

/// Fails before any work when `path` cannot be written by `write_atomic`: its folder does not
/// exist or cannot be written, it names a folder, it exists and is not a regular file (a
/// device or a FIFO, which renaming over would destroy) or is one its owner made read-only,
/// or its name or whole path is too long. A symbolic link to a regular file is followed. It
/// creates (and removes) the very temporary file a save would, so what passes here fails at
/// the save only if the file system changes in between.
pub fn check_output(path: &Path) -> Result<()> {
    dir_and_name(path)?;
    let target = resolve(path)?;
    let (dir, name) = dir_and_name(&target)?;
    if name.len() > NAME_MAX {
        return Err(Error::usage(format!(
            "{}: the file name is {} bytes long; file systems take at most {NAME_MAX}",
            path.display(),
            name.len()
        )));
    }
    #[cfg(unix)]
    if target.as_os_str().len() > PATH_MAX {
        return Err(Error::usage(format!(
            "{}: the path is {} bytes long; the system takes at most {PATH_MAX}",
            path.display(),
            target.as_os_str().len()
        )));
    }
    if !dir.is_dir() {
        let file = dir
            .ancestors()
            .find(|a| std::fs::metadata(a).is_ok())
            .filter(|a| !a.is_dir() && !a.as_os_str().is_empty());
        return Err(Error::usage(match file {
            Some(f) => format!(
                "{}: {} is a file, not a folder",
                path.display(),
                f.display()
            ),
            None => format!(
                "{}: the folder {} does not exist",
                path.display(),
                dir.display()
            ),
        }));
    }
    if target.is_dir() {
        return Err(Error::usage(format!(
            "{}: is a folder, not a file name",
            path.display()
        )));
    }
    refuse_special(path, &target)?;
    let probe = dir.join(format!("{}{}", tmp_prefix(name), std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(Error::usage(format!(
            "{}: the folder {} cannot be written ({e})",
            path.display(),
            dir.display()
        ))),
    }
}

/// A `target` (what `path` resolves to) that exists and is not a regular file is never
/// renamed over, nor one whose owner made it read-only for this process (as `cp` refuses to
/// overwrite it; root may, as with `cp`).
fn refuse_special(path: &Path, target: &Path) -> Result<()> {
    let Ok(m) = std::fs::symlink_metadata(target) else {
        return Ok(());
    };
    if !m.is_file() {
        return Err(Error::usage(format!(
            "{}: exists and is not a regular file; refusing to replace it",
            path.display()
        )));
    }
    #[cfg(unix)]
    if !may_write(target) {
        use std::os::unix::fs::PermissionsExt;
        return Err(Error::usage(format!(
            "{}: is read-only (mode {:o}); refusing to replace it",
            path.display(),
            m.permissions().mode() & 0o7777
        )));
    }
    Ok(())
}

/// Whether this process may write the existing file `path`: faccessat(2) with the effective
/// ids, the answer `open` for writing would give. Undecidable (a name with a NUL) counts as yes:
/// the save itself then fails, naming the file.
#[cfg(unix)]
fn may_write(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return true;
    };
    // SAFETY: `c` is a NUL-terminated string that outlives the call.
    let r = unsafe { libc::faccessat(libc::AT_FDCWD, c.as_ptr(), libc::W_OK, libc::AT_EACCESS) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EACCES)
}

/// Writes `path` through a temporary file in the same directory and a rename, so a crash leaves
/// the old file or the new one, never a torn one. A `path` that exists and is not a regular
/// file (a device, a pipe) or is read-only to this process is refused rather than renamed over;
/// a symbolic link to a regular file is followed (its target is replaced, the link stays); an
/// existing file's permission bits carry over to the new one (a private `0600` file stays
/// private). Temporary files that processes killed mid-save left for this path (named with
/// wgtrain's mark) are removed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    dir_and_name(path)?;
    let target = resolve(path)?;
    refuse_special(path, &target)?;
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        err: source,
    };
    let (dir, name) = dir_and_name(&target)?;
    let prefix = tmp_prefix(name);
    remove_stale(dir, &prefix);
    let tmp = dir.join(format!("{prefix}{}", std::process::id()));
    #[cfg(unix)]
    let mode = std::fs::metadata(&target).ok().map(|m| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::Permissions::from_mode(m.permissions().mode() & 0o777)
    });
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        #[cfg(unix)]
        if let Some(mode) = mode {
            f.set_permissions(mode)?;
        }
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &target)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

/// Removes `dir`'s files named `{prefix}{pid}` (`prefix` ends in wgtrain's mark) whose process
/// is gone: what a save killed mid-write leaves (tens of MB each, forever otherwise).
fn remove_stale(dir: &Path, prefix: &str) {
    #[cfg(unix)]
    {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            let Some(pid) = name
                .to_str()
                .and_then(|n| n.strip_prefix(prefix))
                .and_then(|p| p.parse::<i32>().ok())
                .filter(|&p| p > 0)
            else {
                continue;
            };
            // SAFETY: signal 0 only asks whether the process exists.
            let gone = unsafe { libc::kill(pid, 0) } != 0
                && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
            if gone && pid as u32 != std::process::id() {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (dir, prefix);
}

/// Everything `--resume` needs beyond the parameters: the optimiser with its state, the run's
/// settings, and where it stopped.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainingState {
    /// The optimiser, its hyper-parameters and its state (update count, slots) at the save.
    pub optim: OptimState,
    /// The learning-rate schedule; a resumed run must use the same.
    pub schedule: Schedule,
    /// The base learning rate of `train::Hyper`, before the schedule scales it; a resumed run
    /// must use the same.
    pub lr: f32,
    /// λ of the 2λW weight-gradient term (0: none); a resumed run must use the same.
    pub l2: f32,
    /// Rows per mini-batch; a resumed run must use the same.
    pub batch: usize,
    /// The run's seed (shuffles, validation hold-out); a resumed run must use the same.
    pub seed: u64,
    /// Epochs and batches done: where the resumed run continues.
    pub progress: Progress,
    /// The `--data` the run trained on: a built-in name, an IDX directory or a CSV path.
    pub data: String,
    /// Training rows after the validation hold-out; resuming on a different count is an error.
    pub train_rows: usize,
    /// The fraction of rows held out for validation, in (0, 1); None: no validation set.
    pub valid_split: Option<f64>,
    /// The hold-out was drawn per class (`Dataset::hold_out`); false in checkpoints from before
    /// it was, which resume with the plain shuffle they trained with.
    pub stratified: bool,
    /// The class weights of the training loss (`Config::class_weights`, resolved), one per
    /// class; None: unweighted.
    pub class_weights: Option<Vec<f32>>,
    /// `--standardize`: the training rows' feature statistics, which eval and predict apply to
    /// their inputs too (tensors `input.mean` and `input.std`).
    pub standardize: Option<Standardize>,
    /// The training rows' per-target mean and std the network's targets were standardised with
    /// (tensors `target.mean`, `target.std`); a resumed run must use the same.
    pub target_standardize: Option<Standardize>,
    /// The CSV layout of a run saved before tables (`table` supersedes it): the 1-based column
    /// of the class label (None: the last column).
    pub label_column: Option<usize>,
    /// `--targets`: the last k CSV columns are real-valued targets; None: a class label.
    pub targets: Option<usize>,
    /// The schema the run read its CSV file with (metadata `table`, JSON); resumed data is
    /// read with it.
    pub table: Option<Table>,
}

/// Saves the parameters with the architecture in the metadata.
pub fn save(path: &Path, spec: &Spec, params: &Params) -> Result<()> {
    encode(path, spec, params, &InputInfo::default(), None)
}

/// Saves the parameters and what `--resume` needs to continue the run exactly.
pub fn save_training(
    path: &Path,
    spec: &Spec,
    params: &Params,
    state: &TrainingState,
) -> Result<()> {
    write_atomic(path, &training_bytes(path, spec, params, state)?)
}

/// The bytes `save_training` writes (a browser offers them as a download); `name` is what
/// errors name.
pub fn training_bytes(
    name: &Path,
    spec: &Spec,
    params: &Params,
    state: &TrainingState,
) -> Result<Vec<u8>> {
    let input = InputInfo {
        standardize: state.standardize.clone(),
        target_standardize: state.target_standardize.clone(),
        label_column: state.label_column,
        targets: state.targets,
        table: state.table.clone(),
    };
    encode_bytes(name, spec, params, &input, Some(state))
}

/// (name, shape, bytes) of layer tensor `p`'s weight (transposed to `[out, in]`) and bias.
fn layer_tensors(
    spec: &Spec,
    p: &Params,
    prefix: &str,
    suffix: &str,
) -> Vec<(String, Vec<usize>, Vec<u8>)> {
    let mut bufs = Vec::new();
    for (l, layer) in p.layers.iter().enumerate() {
        let (fi, fo) = spec.layer_shape(l);
        // (in, out) in memory, [out, in] on disk.
        let mut wt = vec![0f32; fi * fo];
        for i in 0..fi {
            for o in 0..fo {
                wt[o * fi + i] = layer.w[i * fo + o];
            }
        }
        bufs.push((
            format!("{prefix}layers.{l}.weight{suffix}"),
            vec![fo, fi],
            bytemuck::cast_slice(&wt).to_vec(),
        ));
        bufs.push((
            format!("{prefix}layers.{l}.bias{suffix}"),
            vec![fo],
            bytemuck::cast_slice(&layer.b).to_vec(),
        ));
    }
    bufs
}

/// What a model knows of its inputs besides the parameters: the standardisation its run
/// applied (tensors `input.mean`, `input.std`), the one its targets were trained under (tensors
/// `target.mean`, `target.std`) and the CSV schema it read (metadata `table`, a JSON
/// `data::Table`; files from before tables have `label_column` and `targets` only).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InputInfo {
    /// The training rows' per-feature mean and std (tensors `input.mean`, `input.std`), applied
    /// to inputs before the network; None: inputs are used as they are.
    pub standardize: Option<Standardize>,
    /// The training rows' per-target mean and std (tensors `target.mean`, `target.std`, one
    /// value per output, in the targets' units): the network was trained on `(y - mean) / std`
    /// and its outputs are mapped back by `a·std + mean`, so a `Model`'s predictions and
    /// evaluations are in the targets' original units. Only for linear outputs under mse;
    /// None: targets as they are.
    pub target_standardize: Option<Standardize>,
    /// The 1-based CSV column of the class label of a model saved before tables (`table`
    /// supersedes it); None: the last column.
    pub label_column: Option<usize>,
    /// `--targets`: the last k CSV columns are real-valued targets; None: a class label.
    pub targets: Option<usize>,
    /// The schema of the CSV file the model was trained on: delimiter, columns and their roles,
    /// categorical levels, imputation means, class names. Other CSV files are read with it.
    pub table: Option<Table>,
}

/// Saves the parameters with the architecture and what the model knows of its inputs, without
/// a training state.
pub fn save_model(path: &Path, spec: &Spec, params: &Params, input: &InputInfo) -> Result<()> {
    encode(path, spec, params, input, None)
}

fn encode(
    path: &Path,
    spec: &Spec,
    params: &Params,
    input: &InputInfo,
    state: Option<&TrainingState>,
) -> Result<()> {
    write_atomic(path, &encode_bytes(path, spec, params, input, state)?)
}

/// The safetensors file `encode` writes to `path` (which errors name).
fn encode_bytes(
    path: &Path,
    spec: &Spec,
    params: &Params,
    input: &InputInfo,
    state: Option<&TrainingState>,
) -> Result<Vec<u8>> {
    params.check_shapes(spec)?;
    let mut bufs = layer_tensors(spec, params, "", "");
    let mut meta = metadata(spec);
    input_metadata(path, spec, input, &mut meta)?;
    input_tensors(path, spec, input, &mut bufs)?;
    if let Some(st) = state {
        training_entries(spec, st, &mut bufs, &mut meta)?;
    }
    safetensors_bytes(path, &bufs, meta)
}

/// (name, shape, f32 bytes) of one tensor to save.
type Tensor = (String, Vec<usize>, Vec<u8>);

/// The metadata of `input`: `label_column`, `targets` and the table (checked against `spec`).
fn input_metadata(
    path: &Path,
    spec: &Spec,
    input: &InputInfo,
    meta: &mut HashMap<String, String>,
) -> Result<()> {
    if let Some(c) = input.label_column {
        meta.insert("label_column".into(), c.to_string());
    }
    if let Some(k) = input.targets {
        meta.insert("targets".into(), k.to_string());
    }
    if let Some(t) = &input.table {
        if t.inputs() != spec.inputs() || t.outputs() != spec.outputs() {
            return Err(Error::Shape(format!(
                "a table of {} inputs and {} outputs for a {} network",
                t.inputs(),
                t.outputs(),
                spec.describe()
            )));
        }
        let json = serde_json::to_string(t)
            .map_err(|e| Error::checkpoint(path, format!("cannot encode the table: {e}")))?;
        meta.insert("table".into(), json);
    }
    Ok(())
}

/// The tensors of `input`'s standardisations (`input.mean`, `input.std`, `target.mean`,
/// `target.std`), each checked against `spec`.
fn input_tensors(
    path: &Path,
    spec: &Spec,
    input: &InputInfo,
    bufs: &mut Vec<Tensor>,
) -> Result<()> {
    if let Some(z) = &input.standardize {
        if z.mean.len() != spec.inputs() || z.std.len() != spec.inputs() {
            return Err(Error::Shape(format!(
                "standardisation of {} features for a network of {} inputs",
                z.mean.len(),
                spec.inputs()
            )));
        }
        let n = spec.inputs();
        bufs.push((
            "input.mean".into(),
            vec![n],
            bytemuck::cast_slice(&z.mean).to_vec(),
        ));
        bufs.push((
            "input.std".into(),
            vec![n],
            bytemuck::cast_slice(&z.std).to_vec(),
        ));
    }
    if let Some(z) = &input.target_standardize {
        check_target_standardize(spec, z).map_err(|m| Error::checkpoint(path, m))?;
        let n = spec.outputs();
        bufs.push((
            "target.mean".into(),
            vec![n],
            bytemuck::cast_slice(&z.mean).to_vec(),
        ));
        bufs.push((
            "target.std".into(),
            vec![n],
            bytemuck::cast_slice(&z.std).to_vec(),
        ));
    }
    Ok(())
}

/// What `--resume` needs: the optimiser's state tensors (checked against `spec`), its and the
/// schedule's metadata, and the run's settings and progress.
fn training_entries(
    spec: &Spec,
    st: &TrainingState,
    bufs: &mut Vec<Tensor>,
    meta: &mut HashMap<String, String>,
) -> Result<()> {
    st.optim.check(spec)?;
    for (slot, name) in st.optim.slots.iter().zip(st.optim.optimizer.method.slots()) {
        bufs.extend(layer_tensors(spec, slot, "optim.", &format!(".{name}")));
    }
    st.optim.optimizer.to_metadata(meta);
    st.schedule.to_metadata(meta);
    let mut put = |k: &str, v: String| {
        meta.insert(k.into(), v);
    };
    put("lr", st.lr.to_string());
    put("l2", st.l2.to_string());
    put("batch", st.batch.to_string());
    put("seed", st.seed.to_string());
    put("epoch", st.progress.epoch.to_string());
    put("epoch_batches", st.progress.batch.to_string());
    put("step", st.optim.step.to_string());
    put("data", st.data.clone());
    put("train_rows", st.train_rows.to_string());
    if let Some(w) = &st.class_weights {
        put(
            "class_weights",
            w.iter().map(f32::to_string).collect::<Vec<_>>().join(","),
        );
    }
    if let Some(f) = st.valid_split {
        put("valid_split", f.to_string());
        if st.stratified {
            put("valid_split_by", "class".to_string());
        }
    }
    Ok(())
}

/// The safetensors bytes of `bufs` and `meta`, the header's keys sorted.
fn safetensors_bytes(
    path: &Path,
    bufs: &[Tensor],
    meta: HashMap<String, String>,
) -> Result<Vec<u8>> {
    let views = bufs
        .iter()
        .map(|(name, shape, data)| {
            TensorView::new(Dtype::F32, shape.clone(), data)
                .map(|v| (name.clone(), v))
                .map_err(|e| Error::checkpoint(path, format!("cannot encode {name}: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let bytes = safetensors::serialize(views, Some(meta))
        .map_err(|e| Error::checkpoint(path, format!("cannot encode: {e}")))?;
    sorted_header(bytes)
        .map_err(|e| Error::checkpoint(path, format!("cannot encode the header: {e}")))
}

/// The same file with its JSON header's keys (the metadata's and the tensors') in sorted order:
/// safetensors writes the metadata in a HashMap's order, which differs between saves, so two
/// saves of one state would not be byte-identical. The header keeps its length (the same JSON,
/// reordered, padded with the same spaces), so no data offset moves.
fn sorted_header(mut bytes: Vec<u8>) -> std::result::Result<Vec<u8>, String> {
    use std::collections::BTreeMap;
    let len = bytes
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().unwrap()) as usize)
        .filter(|&n| 8 + n <= bytes.len())
        .ok_or("no header")?;
    let header = &bytes[8..8 + len];
    let mut top: BTreeMap<String, serde_json::Value> =
        serde_json::from_slice(header).map_err(|e| e.to_string())?;
    if let Some(meta) = top.get_mut("__metadata__") {
        let sorted: BTreeMap<String, String> =
            serde_json::from_value(meta.take()).map_err(|e| e.to_string())?;
        *meta = serde_json::to_value(sorted).map_err(|e| e.to_string())?;
    }
    let mut json = serde_json::to_vec(&top).map_err(|e| e.to_string())?;
    if json.len() > len {
        return Err(format!(
            "sorted header of {} bytes exceeds {len}",
            json.len()
        ));
    }
    json.resize(len, b' ');
    bytes[8..8 + len].copy_from_slice(&json);
    Ok(bytes)
}

fn metadata(spec: &Spec) -> HashMap<String, String> {
    let join = |v: Vec<String>| v.join(",");
    HashMap::from([
        ("format".into(), FORMAT.into()),
        (
            "sizes".into(),
            join(spec.sizes.iter().map(|s| s.to_string()).collect()),
        ),
        (
            "hidden".into(),
            join(spec.hidden.iter().map(|a| a.to_string()).collect()),
        ),
        ("output".into(), spec.output.to_string()),
        ("loss".into(), spec.loss.to_string()),
    ])
}

/// Loads a checkpoint and the architecture stored in it.
pub fn load(path: &Path) -> Result<(Spec, Params)> {
    load_bytes(path, &read(path)?)
}

fn read(path: &Path) -> Result<Vec<u8>> {
    crate::memory::read_file(path)
}

/// As `load`, from the file's bytes; `path` names the source in errors.
pub fn load_bytes(path: &Path, bytes: &[u8]) -> Result<(Spec, Params)> {
    decode(path, bytes, false, &Arch::default()).map(|d| (d.spec, d.params))
}

/// Loads a checkpoint with its training state, `None` when it holds parameters only.
pub fn load_training(path: &Path) -> Result<(Spec, Params, Option<TrainingState>)> {
    decode(path, &read(path)?, true, &Arch::default()).map(|d| (d.spec, d.params, d.state))
}

/// Loads a checkpoint's architecture, parameters and what it knows of its inputs, ignoring any
/// training state.
pub fn load_model(path: &Path) -> Result<(Spec, Params, InputInfo)> {
    load_model_with(path, &Arch::default())
}

/// As `load_model`, for files with or without wgtrain's metadata: without it (a PyTorch
/// `state_dict` saved with safetensors), the layer sizes come from the tensors' shapes and the
/// rest of the architecture from `arch`; with it, every piece `arch` gives must agree with the
/// metadata. The layers may be named `layers.{i}` or as `nn.Sequential` names them (`{N}`,
/// gaps allowed, under one common prefix).
pub fn load_model_with(path: &Path, arch: &Arch) -> Result<(Spec, Params, InputInfo)> {
    load_model_bytes_with(path, &read(path)?, arch)
}

/// As `load_model_with`, from the file's bytes; `path` names the source in errors.
pub fn load_model_bytes_with(
    path: &Path,
    bytes: &[u8],
    arch: &Arch,
) -> Result<(Spec, Params, InputInfo)> {
    decode(path, bytes, false, arch).map(|d| (d.spec, d.params, d.input))
}

/// What a checkpoint says of itself, short of its tensors' values.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    /// The architecture in wgtrain's metadata; None for a file without it (a PyTorch
    /// `state_dict`), whose architecture the caller gives (`load_model_with`).
    pub spec: Option<Spec>,
    /// The layer sizes the tensors' shapes chain to, inputs first.
    pub sizes: Vec<usize>,
    /// Each layer's weight and bias tensor names, in the order the layers run
    /// (`["0.weight", "0.bias"]`, `["2.weight", "2.bias"]` for a `nn.Sequential`).
    pub layers: Vec<[String; 2]>,
    /// The `data` its training run read (a built-in name, an IDX folder, a CSV path), when
    /// the file holds a run's state.
    pub data: Option<String>,
    /// The CSV layout its training run read: the class label's 1-based column.
    pub label_column: Option<usize>,
    /// The CSV layout its training run read: the last k columns are targets.
    pub targets: Option<usize>,
    /// The CSV table its training run read its data with (files from before tables: None, and
    /// `label_column`/`targets` say the layout).
    pub table: Option<Table>,
}

/// Reads what a checkpoint holds without converting its parameters: the architecture of its
/// metadata if it has one, and the layer sizes of its tensors, checked as a load checks them
/// (names, dtypes, shapes).
pub fn inspect(path: &Path) -> Result<Header> {
    inspect_bytes(path, &read(path)?)
}

/// As `inspect`, from the file's bytes; `path` names the source in errors.
pub fn inspect_bytes(path: &Path, bytes: &[u8]) -> Result<Header> {
    let bad = |msg: String| Error::checkpoint(path, msg);
    let (info, st) = parse(path, bytes)?;
    let spec = arch::metadata_spec(&info).map_err(bad)?;
    let found = arch::find(&entries(&st), spec.as_ref(), spec.is_none()).map_err(bad)?;
    let layout = |k: &str| {
        info.contains_key(k)
            .then(|| number(&info, k))
            .transpose()
            .map_err(|e| bad(format!("{e}")))
    };
    Ok(Header {
        data: spec.as_ref().and(info.get("data").cloned()),
        label_column: layout("label_column")?,
        targets: layout("targets")?,
        table: match (info.get("table"), &spec) {
            (Some(json), Some(spec)) => Some(table_of(json, spec).map_err(bad)?),
            _ => None,
        },
        spec,
        sizes: found.sizes,
        layers: found
            .layers
            .into_iter()
            .map(|l| [l.weight, l.bias])
            .collect(),
    })
}

/// The `table` metadata of a network `spec`: a valid table of its inputs and outputs.
fn table_of(json: &str, spec: &Spec) -> std::result::Result<Table, String> {
    let t: Table =
        serde_json::from_str(json).map_err(|e| format!("metadata 'table' is not a table: {e}"))?;
    t.validate().map_err(|e| format!("metadata {e}"))?;
    if t.inputs() != spec.inputs() || t.outputs() != spec.outputs() {
        return Err(format!(
            "metadata 'table' gives {} inputs and {} outputs, the network has {} and {}",
            t.inputs(),
            t.outputs(),
            spec.inputs(),
            spec.outputs()
        ));
    }
    Ok(t)
}

/// The metadata and the tensors of a safetensors file.
fn parse<'a>(path: &Path, bytes: &'a [u8]) -> Result<(HashMap<String, String>, SafeTensors<'a>)> {
    let bad = |e: safetensors::SafeTensorError| {
        Error::checkpoint(
            path,
            not_safetensors(bytes).unwrap_or_else(|| format!("not a safetensors file ({e})")),
        )
    };
    let (_, meta) = SafeTensors::read_metadata(bytes).map_err(bad)?;
    let st = SafeTensors::deserialize(bytes).map_err(bad)?;
    Ok((meta.metadata().clone().unwrap_or_default(), st))
}

/// Why `bytes`, which the safetensors reader refused, are not a checkpoint, when they say: a
/// text file (a CSV given as the model), or a safetensors file cut short (its header, or the
/// tensors its header lists, run past the end). None when neither fits.
fn not_safetensors(bytes: &[u8]) -> Option<String> {
    let len = bytes.len();
    let head = &bytes[..len.min(512)];
    let text = !head.is_empty()
        && std::str::from_utf8(head)
            .is_ok_and(|t| t.chars().all(|c| !c.is_control() || c.is_whitespace()));
    if len == 0 {
        return Some("an empty file, not a checkpoint".into());
    }
    if len < 8 || !bytes[8..].starts_with(b"{") {
        return text.then(|| {
            "a text file (a table of data?), not a checkpoint: a model is the safetensors file a training run saves".to_string()
        });
    }
    let n = u64::from_le_bytes(bytes[..8].try_into().ok()?);
    let cut = |least: &str, needed: u64| {
        format!(
            "cut short: its header says the file holds {least}{needed} bytes, but it has {len}; it was truncated (an interrupted copy, download or save): copy or save it again"
        )
    };
    if n.saturating_add(8) > len as u64 {
        return Some(cut("at least ", n.saturating_add(8)));
    }
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n as usize]).ok()?;
    let end = header
        .as_object()?
        .values()
        .filter_map(|t| t.get("data_offsets")?.get(1)?.as_u64())
        .max()?;
    let needed = end.saturating_add(8 + n);
    (needed > len as u64).then(|| cut("", needed))
}

/// The name, dtype and shape of every tensor in `st`.
fn entries<'a>(st: &'a SafeTensors<'a>) -> Vec<arch::Entry<'a>> {
    st.iter()
        .map(|(name, t)| arch::Entry {
            name,
            dtype: t.dtype(),
            shape: t.shape().to_vec(),
        })
        .collect()
}

/// What `decode` finds in a file.
struct Decoded {
    spec: Spec,
    params: Params,
    input: InputInfo,
    state: Option<TrainingState>,
}

/// The architecture (from the metadata, or from `arch` and the shapes when there is none) and
/// parameters, and with `with_state` the training state if there is one.
fn decode(path: &Path, bytes: &[u8], with_state: bool, arch: &Arch) -> Result<Decoded> {
    let (info, st) = parse(path, bytes)?;
    let t = Tensors { path, st: &st };
    t.check_memory()?;
    let stored = arch::metadata_spec(&info).map_err(|m| t.bad(m))?;
    if with_state && stored.is_none() {
        return Err(t.bad(
            "has no wgtrain metadata (format, sizes, hidden, output, loss), so it holds no training run to continue: start a new run from its parameters instead".into(),
        ));
    }
    let found =
        arch::find(&entries(&st), stored.as_ref(), stored.is_none()).map_err(|m| t.bad(m))?;
    let spec = t.spec(arch, stored, &found)?;
    let params = Params {
        layers: found
            .layers
            .into_iter()
            .enumerate()
            .map(|(l, n)| t.layer(&spec, l, n.weight, n.bias))
            .collect::<Result<Vec<_>>>()?,
    };
    if !params.all_finite() {
        return Err(t.bad("holds non-finite parameters".into()));
    }
    let input = t.input(&info, &spec)?;
    let optimizer = if with_state {
        Optimizer::from_metadata(&info).map_err(|e| t.bad(format!("optimizer: {e}")))?
    } else {
        None
    };
    let state = match optimizer {
        Some(optimizer) => Some(t.state(&info, &spec, optimizer, &input)?),
        None => None,
    };
    Ok(Decoded {
        spec,
        params,
        input,
        state,
    })
}

/// A checkpoint's tensors as `decode` reads them, with the file's path for its errors.
struct Tensors<'a> {
    path: &'a Path,
    st: &'a SafeTensors<'a>,
}

impl Tensors<'_> {
    /// The error `msg` about the checkpoint.
    fn bad(&self, msg: String) -> Error {
        Error::checkpoint(self.path, msg)
    }

    /// The decoded tensors (as f32) come on top of the file's bytes, held until they are done:
    /// refused now, with both figures, rather than an abort halfway.
    fn check_memory(&self) -> Result<()> {
        let decoded: u64 = self
            .st
            .iter()
            .map(|(_, t)| t.shape().iter().product::<usize>() as u64 * 4)
            .sum();
        crate::memory::check(
            &format!("decoding the tensors of {}", self.path.display()),
            decoded,
        )
    }

    /// The architecture: the `stored` one (which `arch` must not contradict), or `arch`'s
    /// given the layer sizes `found`.
    fn spec(&self, arch: &Arch, stored: Option<Spec>, found: &arch::Found) -> Result<Spec> {
        if let Some(spec) = stored {
            let differences = arch.differences(&spec);
            if !differences.is_empty() {
                return Err(self.bad(format!(
                    "its metadata gives the architecture ({}), which the one asked for contradicts: {}",
                    spec.describe(),
                    differences.join("; ")
                )));
            }
            return Ok(spec);
        }
        arch.spec(found.sizes.clone()).map_err(|problems| {
            let mapping: Vec<String> = found
                .layers
                .iter()
                .enumerate()
                .map(|(l, n)| format!("{l} = {}, {}", n.weight, n.bias))
                .collect();
            self.bad(format!(
                "has no wgtrain metadata (format, sizes, hidden, output, loss), so the architecture beyond the layer sizes must be given: {}; the tensors read as layers {} of sizes {}",
                problems.join("; "),
                mapping.join("; "),
                found
                    .sizes
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join("-")
            ))
        })
    }

    /// The F32 tensor `name` of `shape`, as numbers.
    fn read(&self, name: String, shape: &[usize]) -> Result<Vec<f32>> {
        let t = self
            .st
            .tensor(&name)
            .map_err(|_| self.bad(format!("tensor {name} is missing")))?;
        if t.dtype() != Dtype::F32 || t.shape() != shape {
            return Err(self.bad(format!(
                "tensor {name}: expected F32 {shape:?}, got {:?} {:?}",
                t.dtype(),
                t.shape()
            )));
        }
        Ok(t.data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    /// Layer l's tensors `weight` ([out, in] on disk, transposed straight from the bytes: no
    /// second copy of the largest tensor) and `bias`.
    fn layer(&self, spec: &Spec, l: usize, weight: String, bias: String) -> Result<Layer> {
        let (fi, fo) = spec.layer_shape(l);
        let t = self
            .st
            .tensor(&weight)
            .map_err(|_| self.bad(format!("tensor {weight} is missing")))?;
        if t.dtype() != Dtype::F32 || t.shape() != [fo, fi] {
            return Err(self.bad(format!(
                "tensor {weight}: expected F32 {:?}, got {:?} {:?}",
                [fo, fi],
                t.dtype(),
                t.shape()
            )));
        }
        let data = t.data();
        let mut w = vec![0f32; fi * fo];
        for o in 0..fo {
            for i in 0..fi {
                let at = 4 * (o * fi + i);
                w[i * fo + o] =
                    f32::from_le_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]);
            }
        }
        let b = self.read(bias, &[fo])?;
        Ok(Layer { w, b })
    }

    /// One optimiser slot of every layer: `optim.layers.{l}.weight{suffix}` and
    /// `.bias{suffix}`.
    fn slot(&self, spec: &Spec, suffix: &str) -> Result<Params> {
        let layers = (0..spec.n_layers())
            .map(|l| {
                self.layer(
                    spec,
                    l,
                    format!("optim.layers.{l}.weight{suffix}"),
                    format!("optim.layers.{l}.bias{suffix}"),
                )
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Params { layers })
    }

    /// How the model reads its inputs: the label column or targets, the table, and the
    /// standardisations of inputs and targets.
    fn input(&self, info: &HashMap<String, String>, spec: &Spec) -> Result<InputInfo> {
        let bad = |msg: String| self.bad(msg);
        Ok(InputInfo {
            label_column: info
                .contains_key("label_column")
                .then(|| number(info, "label_column"))
                .transpose()
                .map_err(|e| bad(format!("{e}")))?,
            targets: info
                .contains_key("targets")
                .then(|| number(info, "targets"))
                .transpose()
                .map_err(|e| bad(format!("{e}")))?,
            table: info
                .get("table")
                .map(|json| table_of(json, spec))
                .transpose()
                .map_err(bad)?,
            standardize: self.input_standardize(spec)?,
            target_standardize: self.target_standardize(spec)?,
        })
    }

    /// The inputs' standardisation, when `input.mean` and `input.std` are there: both or
    /// neither, finite, the stds positive.
    fn input_standardize(&self, spec: &Spec) -> Result<Option<Standardize>> {
        match (
            self.st.tensor("input.mean").is_ok(),
            self.st.tensor("input.std").is_ok(),
        ) {
            (false, false) => Ok(None),
            (true, false) | (false, true) => Err(self.bad(
                "holds only one of input.mean and input.std: a standardisation needs both".into(),
            )),
            (true, true) => {
                let n = spec.inputs();
                let z = Standardize {
                    mean: self.read("input.mean".into(), &[n])?,
                    std: self.read("input.std".into(), &[n])?,
                };
                if let Some(j) = z.mean.iter().position(|m| !m.is_finite()) {
                    return Err(self.bad(format!(
                        "input.mean holds {} for input {j}: not a finite number",
                        z.mean[j]
                    )));
                }
                if let Some(j) = z.std.iter().position(|s| !(s.is_finite() && *s > 0.0)) {
                    return Err(self.bad(format!(
                        "input.std holds {} for input {j}: not positive and finite",
                        z.std[j]
                    )));
                }
                Ok(Some(z))
            }
        }
    }

    /// The targets' standardisation, when `target.mean` or `target.std` is there
    /// (`check_target_standardize`).
    fn target_standardize(&self, spec: &Spec) -> Result<Option<Standardize>> {
        if !(self.st.tensor("target.mean").is_ok() || self.st.tensor("target.std").is_ok()) {
            return Ok(None);
        }
        let n = spec.outputs();
        let z = Standardize {
            mean: self.read("target.mean".into(), &[n])?,
            std: self.read("target.std".into(), &[n])?,
        };
        check_target_standardize(spec, &z).map_err(|m| self.bad(m))?;
        Ok(Some(z))
    }

    /// The training run to continue: `optimizer`'s slots and step, the schedule and the
    /// settings, where the run stopped, its data; an error says "training state".
    fn state(
        &self,
        info: &HashMap<String, String>,
        spec: &Spec,
        optimizer: Optimizer,
        input: &InputInfo,
    ) -> Result<TrainingState> {
        let slots = optimizer
            .method
            .slots()
            .iter()
            .map(|name| self.slot(spec, &format!(".{name}")))
            .collect::<Result<Vec<_>>>()?;
        let get = |k: &str| {
            info.get(k).ok_or_else(|| {
                self.bad(format!(
                    "metadata has no '{k}': not a wgtrain checkpoint (expected format {FORMAT})"
                ))
            })
        };
        (|| -> Result<TrainingState> {
            let optim = OptimState {
                optimizer,
                step: number(info, "step")?,
                slots,
            };
            optim.check(spec)?;
            Ok(TrainingState {
                optim,
                schedule: Schedule::from_metadata(info)?,
                lr: number(info, "lr")?,
                l2: number(info, "l2")?,
                batch: number(info, "batch")?,
                seed: number(info, "seed")?,
                progress: Progress {
                    epoch: number(info, "epoch")?,
                    batch: number(info, "epoch_batches")?,
                },
                data: get("data")?.clone(),
                train_rows: number(info, "train_rows")?,
                valid_split: info
                    .contains_key("valid_split")
                    .then(|| number(info, "valid_split"))
                    .transpose()?,
                stratified: info.get("valid_split_by").is_some_and(|b| b == "class"),
                class_weights: info
                    .get("class_weights")
                    .map(|w| class_weights(w, spec))
                    .transpose()?,
                label_column: input.label_column,
                targets: input.targets,
                table: input.table.clone(),
                standardize: input.standardize.clone(),
                target_standardize: input.target_standardize.clone(),
            })
        })()
        .map_err(|e| match e {
            Error::Checkpoint { .. } => e,
            e => self.bad(format!("training state: {e}")),
        })
    }
}

/// A target standardisation must fit `spec`: a linear output under mse (outputs that are values
/// in the targets' units), one finite mean and one positive finite std per output.
pub(crate) fn check_target_standardize(
    spec: &Spec,
    z: &Standardize,
) -> std::result::Result<(), String> {
    use crate::model::{Loss, Output};
    if spec.output != Output::Linear || spec.loss != Loss::Mse {
        return Err(format!(
            "target.mean/target.std (standardised targets) need a linear output under mse, not a {} network",
            spec.describe()
        ));
    }
    let n = spec.outputs();
    if z.mean.len() != n || z.std.len() != n {
        return Err(format!(
            "target.mean/target.std hold {} and {} values for {n} outputs",
            z.mean.len(),
            z.std.len()
        ));
    }
    if z.mean.iter().any(|m| !m.is_finite()) {
        return Err("target.mean holds a value that is not finite".into());
    }
    if z.std.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
        return Err("target.std holds a value that is not positive and finite".into());
    }
    Ok(())
}

/// Loads a checkpoint for the network `want`; a different architecture is an error that says how.
/// A file without wgtrain's metadata is read as `want`'s architecture.
pub fn load_for(path: &Path, want: &Spec) -> Result<Params> {
    let (got, params, _) = load_model_with(path, &Arch::of(want))?;
    if got != *want {
        return Err(Error::checkpoint(
            path,
            format!(
                "holds a {} network, but this run builds {}: build the checkpoint's network (hidden sizes, activations, output, loss) on data of its shape",
                got.describe(),
                want.describe()
            ),
        ));
    }
    Ok(params)
}

/// A checkpoint's `class_weights`: comma-separated positive finite numbers, one per class of
/// `spec`, a classifier under cross-entropy.
fn class_weights(text: &str, spec: &Spec) -> Result<Vec<f32>> {
    if spec.loss != crate::model::Loss::CrossEntropy {
        return Err(Error::usage(format!(
            "class_weights {text:?}: class weights weigh the cross-entropy loss, but this network trains with {}",
            spec.loss
        )));
    }
    let w = text
        .split(',')
        .map(|v| {
            v.parse::<f32>()
                .ok()
                .filter(|w| w.is_finite() && *w > 0.0)
                .ok_or_else(|| {
                    Error::usage(format!(
                        "class_weights {text:?}: {v:?} is not a positive finite number"
                    ))
                })
        })
        .collect::<Result<Vec<f32>>>()?;
    if w.len() != spec.outputs() {
        return Err(Error::usage(format!(
            "class_weights {text:?}: {} weights for {} classes",
            w.len(),
            spec.outputs()
        )));
    }
    Ok(w)
}
