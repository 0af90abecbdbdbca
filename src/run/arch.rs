//! The architecture a run or a command is given (`checkpoint::Arch`: hidden sizes,
//! activations, output, loss, each `None` where not given): a new network from it, or a
//! checkpoint's checked against it, every contradiction named at once.

use std::path::Path;

use crate::checkpoint::{self, Arch, Header};
use crate::error::{Error, Result};
use crate::model::{Activation, Loss, Output, Spec};
use crate::trained::Model;

/// The items of a list, comma separated.
fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn bad<T>(msg: String) -> Result<T> {
    Err(Error::usage(msg))
}

/// The hidden sizes given, none zero.
fn hidden_sizes(hidden: &[usize]) -> Result<&[usize]> {
    if hidden.contains(&0) {
        return Err(Error::invalid(
            "hidden",
            format!(
                "{}: a hidden layer of zero units; every layer needs at least one",
                join(hidden)
            ),
        ));
    }
    Ok(hidden)
}

/// The activations given, for `layers` hidden layers (one given for all, or one each).
fn hidden_activations(acts: &[Activation], layers: usize) -> Result<Vec<Activation>> {
    match acts.len() {
        1 => Ok(vec![acts[0]; layers]),
        n if n == layers => Ok(acts.to_vec()),
        n => Err(Error::invalid(
            "activation",
            format!(
                "gives {n} activations for {layers} hidden layers: give one for all or one per layer"
            ),
        )),
    }
}

/// A new network for data of `inputs` features and `outputs` targets (`classes`: the targets
/// are class labels): 64 relu units, and the loss and output that fit the targets, unless given.
/// `data` names the data in errors (its source, when it has one).
pub fn build(
    arch: &Arch,
    inputs: usize,
    outputs: usize,
    classes: bool,
    data: Option<&str>,
) -> Result<Spec> {
    let hidden = hidden_sizes(arch.hidden.as_deref().unwrap_or(&[64]))?.to_vec();
    let acts = hidden_activations(
        arch.activations.as_deref().unwrap_or(&[Activation::Relu]),
        hidden.len(),
    )?;
    let loss = arch.loss.unwrap_or(if classes {
        Loss::CrossEntropy
    } else {
        Loss::Mse
    });
    if loss == Loss::CrossEntropy && !classes {
        return Err(Error::invalid(
            "loss",
            format!(
                "cross-entropy needs class labels, but the targets of {} are real values: use mse or bce",
                data.unwrap_or("the data")
            ),
        ));
    }
    let output = arch.output.unwrap_or(loss.default_output());
    let mut sizes = vec![inputs];
    sizes.extend(hidden);
    sizes.push(outputs);
    Spec::new(sizes, acts, output, loss)
}

/// For a checkpoint `file` whose metadata gives the architecture (`spec`), the pieces that are
/// given must describe it; `why` says who takes it from the file ("the setting `resume` takes
/// the architecture from the file"). Every piece that contradicts it is named.
pub fn check(arch: &Arch, spec: &Spec, file: &Path, why: &str) -> Result<()> {
    let n = spec.sizes.len();
    let mut wrong: Vec<(&str, String)> = Vec::new();
    if let Some(h) = &arch.hidden
        && hidden_sizes(h)? != &spec.sizes[1..n - 1]
    {
        wrong.push(("hidden", join(h)));
    }
    if let Some(act) = &arch.activations
        && hidden_activations(act, n - 2).ok().as_ref() != Some(&spec.hidden)
    {
        wrong.push(("activation", join(act)));
    }
    if let Some(o) = arch.output.filter(|&o| o != spec.output) {
        wrong.push(("output", o.to_string()));
    }
    if let Some(l) = arch.loss.filter(|&l| l != spec.loss) {
        wrong.push(("loss", l.to_string()));
    }
    let given = wrong
        .iter()
        .map(|(f, v)| format!("the setting `{f}` {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    match wrong.as_slice() {
        [] => Ok(()),
        [(what, _)] => bad(format!(
            "{given} contradicts {}, which holds a {} network: {why}; leave the setting `{what}` out",
            file.display(),
            spec.describe()
        )),
        _ => bad(format!(
            "{given} contradict {}, which holds a {} network: {why}; leave them out",
            file.display(),
            spec.describe()
        )),
    }
}

/// For a checkpoint `file` without wgtrain's metadata, whose tensors chain to layer `sizes`:
/// the architecture must give what the shapes cannot (the activations when there are hidden
/// layers; with `need_output`, the output or the loss), and the hidden sizes, if given, must
/// match them. Every missing or contradicting piece is named.
pub fn check_plain(arch: &Arch, sizes: &[usize], file: &Path, need_output: bool) -> Result<()> {
    let hidden = &sizes[1..sizes.len().saturating_sub(1).max(1)];
    let mut give = Vec::new();
    let mut wrong = Vec::new();
    if let Some(h) = &arch.hidden
        && hidden_sizes(h)? != hidden
    {
        wrong.push(format!(
            "the setting `hidden` {} contradicts the tensors' hidden sizes {}",
            join(h),
            if hidden.is_empty() {
                "(none)".to_string()
            } else {
                join(hidden)
            }
        ));
    }
    match &arch.activations {
        None if !hidden.is_empty() => give.push(match hidden.len() {
            1 => "the setting `activation` (for its hidden layer)".to_string(),
            n => format!("the setting `activation` (one for its {n} hidden layers, or one each)"),
        }),
        Some(act) if !hidden.is_empty() => {
            if let Err(Error::InvalidArgument { msg, .. }) = hidden_activations(act, hidden.len()) {
                wrong.push(format!("the setting `activation` {msg}"));
            }
        }
        _ => {}
    }
    match (arch.output, arch.loss) {
        (None, None) if need_output => {
            give.push("the setting `output` or the setting `loss`".into())
        }
        (Some(Output::Sigmoid), None) if need_output => {
            give.push("the setting `loss` (output sigmoid fits bce and mse)".into())
        }
        _ => {}
    }
    if !give.is_empty() {
        wrong.insert(0, format!("give {}", give.join(" and ")));
    }
    if wrong.is_empty() {
        return Ok(());
    }
    let shape = sizes
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join("-");
    bad(format!(
        "{} has no wgtrain metadata (a PyTorch state_dict?), so its layer sizes come from the tensors' shapes ({shape}) and the rest from the settings: {}",
        file.display(),
        wrong.join("; ")
    ))
}

/// The pieces given, for loading a file of `hidden_layers` hidden layers (one activation for
/// all of them is repeated).
pub fn expand(arch: &Arch, hidden_layers: usize) -> Result<Arch> {
    Ok(Arch {
        hidden: arch
            .hidden
            .as_deref()
            .map(hidden_sizes)
            .transpose()?
            .map(<[usize]>::to_vec),
        activations: match &arch.activations {
            Some(a) if hidden_layers > 0 => Some(hidden_activations(a, hidden_layers)?),
            _ => None,
        },
        output: arch.output,
        loss: arch.loss,
    })
}

/// The model in `path` for eval or predict: the architecture from its metadata (the pieces of
/// `arch` that are given must agree), or without metadata from its tensors' shapes and `arch`
/// (which must then give the output or the loss). With the model, a note when the file had no
/// metadata, saying how it was read.
pub fn load_model(path: &Path, arch: &Arch) -> Result<(Model, Option<String>)> {
    let bytes = crate::memory::read_file(path)?;
    let header = checkpoint::inspect_bytes(path, &bytes)?;
    match &header.spec {
        Some(spec) => check(arch, spec, path, "its metadata gives the architecture")?,
        None => check_plain(arch, &header.sizes, path, true)?,
    }
    let expanded = expand(arch, header.sizes.len().saturating_sub(2))?;
    let (spec, params, input) = checkpoint::load_model_bytes_with(path, &bytes, &expanded)?;
    let note = header
        .spec
        .is_none()
        .then(|| plain_note(path, &header, &spec));
    Ok((
        Model {
            spec,
            params,
            input,
        },
        note,
    ))
}

/// "FILE has no wgtrain metadata: read 0.weight/0.bias, ... as a ... network".
fn plain_note(path: &Path, header: &Header, spec: &Spec) -> String {
    let layers: Vec<String> = header.layers.iter().map(|l| l.join("/")).collect();
    format!(
        "{} has no wgtrain metadata: read {} as a {} network",
        path.display(),
        layers.join(", "),
        spec.describe()
    )
}
