//! The network a safetensors file holds: which tensors are its layers (wgtrain's `layers.{i}`,
//! or `nn.Sequential`'s `{N}` with gaps, under one common prefix such as `model.` or
//! `net.layers.`), the sizes their shapes chain to, and the architecture from wgtrain's metadata
//! or, for a file without it (a PyTorch `state_dict`), from the caller's [`Arch`].

use std::collections::{BTreeMap, HashMap};

use safetensors::Dtype;

use crate::model::{Activation, Loss, Output, Spec};

use super::FORMAT;

/// The metadata keys that hold wgtrain's architecture (besides `format`).
const ARCH_KEYS: [&str; 4] = ["sizes", "hidden", "output", "loss"];

/// Most tensor names an error lists before "and N more".
const LIST_NAMES: usize = 16;

/// What a caller says of a network's architecture. For a file without wgtrain's metadata the
/// layer sizes come from the tensors' shapes and the rest from here: `activations` (when there
/// are hidden layers) and `output` or `loss` are needed. For a file with the metadata, every
/// piece given must agree with it. `None`: not given.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Arch {
    /// Hidden layer sizes; the shapes give them, so this only checks them.
    pub hidden: Option<Vec<usize>>,
    /// Hidden activations: one for every hidden layer, or one each.
    pub activations: Option<Vec<Activation>>,
    /// The output activation; without it, the one that fits `loss`.
    pub output: Option<Output>,
    /// The loss; without it, the one that fits `output` (cross-entropy for softmax, mse for
    /// linear; sigmoid fits two, so it needs the loss).
    pub loss: Option<Loss>,
}

impl Arch {
    /// Every piece of `spec`.
    pub fn of(spec: &Spec) -> Arch {
        Arch {
            hidden: Some(spec.sizes[1..spec.sizes.len() - 1].to_vec()),
            activations: Some(spec.hidden.clone()),
            output: Some(spec.output),
            loss: Some(spec.loss),
        }
    }

    /// `activations` for `layers` hidden layers; None when not given or of another count.
    fn activations_for(&self, layers: usize) -> Option<Vec<Activation>> {
        match self.activations.as_deref()? {
            [one] => Some(vec![*one; layers]),
            many if many.len() == layers => Some(many.to_vec()),
            _ => None,
        }
    }

    /// Each piece that differs from `spec`'s: "hidden 16 (the file: 32)".
    pub(super) fn differences(&self, spec: &Spec) -> Vec<String> {
        let hidden = &spec.sizes[1..spec.sizes.len() - 1];
        let mut out = Vec::new();
        if let Some(h) = self.hidden.as_ref().filter(|h| h.as_slice() != hidden) {
            out.push(format!("hidden {} (the file: {})", join(h), join(hidden)));
        }
        if let Some(a) = &self.activations
            && self.activations_for(hidden.len()).as_ref() != Some(&spec.hidden)
        {
            out.push(format!(
                "activations {} (the file: {})",
                join(a),
                join(&spec.hidden)
            ));
        }
        if let Some(o) = self.output.filter(|&o| o != spec.output) {
            out.push(format!("output {o} (the file: {})", spec.output));
        }
        if let Some(l) = self.loss.filter(|&l| l != spec.loss) {
            out.push(format!("loss {l} (the file: {})", spec.loss));
        }
        out
    }

    /// The network of layer `sizes` these pieces describe, or what is missing or wrong, one
    /// item each.
    pub(super) fn spec(&self, sizes: Vec<usize>) -> Result<Spec, Vec<String>> {
        let n_hidden = sizes.len().saturating_sub(2);
        let mut problems = Vec::new();
        if let Some(h) = self
            .hidden
            .as_ref()
            .filter(|h| sizes.len() < 2 || h.as_slice() != &sizes[1..sizes.len() - 1])
        {
            problems.push(format!(
                "hidden {} contradicts the tensors' shapes, which give {}",
                join(h),
                sizes
                    .get(1..sizes.len().saturating_sub(1))
                    .map_or("none".into(), join)
            ));
        }
        let activations = match (&self.activations, self.activations_for(n_hidden)) {
            (_, Some(a)) => Some(a),
            (None, None) if n_hidden == 0 => Some(vec![]),
            (None, None) => {
                problems.push(format!(
                    "the hidden activations are needed (one for all {n_hidden} hidden layers, or one each)"
                ));
                None
            }
            (Some(a), None) => {
                problems.push(format!(
                    "{} activations for {n_hidden} hidden layers: give one for all or one each",
                    a.len()
                ));
                None
            }
        };
        let (output, loss) = match (self.output, self.loss) {
            (Some(o), Some(l)) => (Some(o), Some(l)),
            (None, Some(l)) => (Some(l.default_output()), Some(l)),
            (Some(Output::Softmax), None) => (Some(Output::Softmax), Some(Loss::CrossEntropy)),
            (Some(Output::Linear), None) => (Some(Output::Linear), Some(Loss::Mse)),
            (Some(Output::Sigmoid), None) => {
                problems.push("output sigmoid fits the losses bce and mse: give the loss".into());
                (None, None)
            }
            (None, None) => {
                problems.push("the output or the loss is needed".into());
                (None, None)
            }
        };
        match (activations, output, loss) {
            (Some(a), Some(o), Some(l)) if problems.is_empty() => {
                Spec::new(sizes, a, o, l).map_err(|e| vec![e.to_string()])
            }
            _ => Err(problems),
        }
    }
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    if items.is_empty() {
        return "none".into();
    }
    items
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// The architecture in wgtrain's metadata: None when the file has none (no `sizes`, `hidden`,
/// `output` or `loss`, and no `format` or another tool's, such as safetensors' `pt`). A file
/// with some of the keys is an error naming every one that is missing or unreadable.
pub(super) fn metadata_spec(info: &HashMap<String, String>) -> Result<Option<Spec>, String> {
    let any = ARCH_KEYS.iter().any(|k| info.contains_key(*k));
    match info.get("format") {
        Some(f) if f == FORMAT => {}
        Some(f) if f.starts_with("wgtrain") || any => {
            return Err(format!(
                "format '{f}' is not one this wgtrain reads ({FORMAT}): written by another version?"
            ));
        }
        _ if !any => return Ok(None),
        _ => {}
    }
    let mut problems = Vec::new();
    let missing: Vec<&str> = ARCH_KEYS
        .into_iter()
        .filter(|k| !info.contains_key(*k))
        .collect();
    if !missing.is_empty() {
        problems.push(format!(
            "the metadata has no {}",
            missing
                .iter()
                .map(|k| format!("'{k}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let text = |k: &str| info.get(k).map(String::as_str);
    let sizes = text("sizes").and_then(|s| {
        let v = s
            .split(',')
            .map(|p| p.trim().parse::<usize>())
            .collect::<Result<Vec<_>, _>>();
        if v.is_err() {
            problems.push(format!("metadata 'sizes' is not a list of sizes: {s}"));
        }
        v.ok()
    });
    let hidden = text("hidden").and_then(|s| {
        let v = if s.is_empty() {
            Ok(vec![])
        } else {
            s.split(',')
                .map(|p| p.parse::<Activation>())
                .collect::<crate::error::Result<Vec<_>>>()
        };
        v.map_err(|e| problems.push(format!("metadata 'hidden': {e}")))
            .ok()
    });
    let output = text("output").and_then(|s| {
        s.parse::<Output>()
            .map_err(|e| problems.push(format!("metadata 'output': {e}")))
            .ok()
    });
    let loss = text("loss").and_then(|s| {
        s.parse::<Loss>()
            .map_err(|e| problems.push(format!("metadata 'loss': {e}")))
            .ok()
    });
    match (sizes, hidden, output, loss) {
        (Some(s), Some(h), Some(o), Some(l)) if problems.is_empty() => Spec::new(s, h, o, l)
            .map(Some)
            .map_err(|e| format!("metadata: {e}")),
        _ => Err(problems.join("; ")),
    }
}

/// A tensor as the file's header lists it.
pub(super) struct Entry<'a> {
    pub name: &'a str,
    pub dtype: Dtype,
    pub shape: Vec<usize>,
}

/// One Linear layer's tensors: `weight` [out, in] and `bias` [out].
pub(super) struct LayerNames {
    pub weight: String,
    pub bias: String,
}

/// The layers a file holds, in order, and the sizes their shapes chain to (inputs first).
pub(super) struct Found {
    pub layers: Vec<LayerNames>,
    pub sizes: Vec<usize>,
}

/// `{prefix}{N}.weight` or `.bias`: the prefix (empty or ending in '.'), N as written (`02`
/// stays `02`), and whether it is the weight.
fn layer_name(name: &str) -> Option<(&str, &str, bool)> {
    let (stem, weight) = match name.strip_suffix(".weight") {
        Some(s) => (s, true),
        None => (name.strip_suffix(".bias")?, false),
    };
    let digits = stem.rsplit('.').next()?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((&stem[..stem.len() - digits.len()], digits, weight))
}

/// wgtrain's own tensors that are not layers: the input standardisation and the optimiser
/// state.
fn is_wgtrain_extra(name: &str) -> bool {
    name == "input.mean" || name == "input.std" || name.starts_with("optim.")
}

/// "a, b, c" with at most `LIST_NAMES` names, then "and N more".
fn list(names: &[&str]) -> String {
    let mut s = names
        .iter()
        .take(LIST_NAMES)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > LIST_NAMES {
        s += &format!(" and {} more", names.len() - LIST_NAMES);
    }
    s
}

/// The layer tensors among `entries`, checked: one prefix, a weight and a bias per index, F32,
/// `[out, in]` and `[out]` shapes that chain, and with `meta` (the metadata's architecture) its
/// layer count and shapes. `strict`: other tensors than wgtrain's own are an error too (a file
/// without metadata, where an unknown tensor may be a layer wgtrain would drop). The error
/// lists every problem at once and how the file's names were read.
pub(super) fn find(entries: &[Entry], meta: Option<&Spec>, strict: bool) -> Result<Found, String> {
    let (groups, others, spellings) = group(entries);
    let (prefix, layers) = one_stack(groups, &others)?;
    let mut problems = spellings;
    if strict && !others.is_empty() {
        problems.push(format!(
            "tensors that are not Linear layers: {} (wgtrain reads Linear layers only, and input.mean and input.std)",
            list(&others)
        ));
    }
    if let Some(spec) = meta
        && layers.len() != spec.n_layers()
    {
        problems.push(count_problem(prefix, &layers, spec));
    }
    let found = chain(prefix, &layers, meta, &mut problems);
    if !problems.is_empty() {
        return Err(report(&problems, prefix, &layers, &others));
    }
    Ok(found)
}

/// One layer of a stack: its index as written, its weight and bias.
type Layer<'a> = (&'a str, [Option<&'a Entry<'a>>; 2]);
/// A stack's layers by number.
type Stack<'a> = BTreeMap<usize, Layer<'a>>;

/// The layer tensors among `entries` per prefix and layer number, the other tensors' names
/// (sorted; wgtrain's own extras left out), and the layers written two ways. Names are kept as
/// written: `02.weight` is layer 2 spelt `02`, and `2.*` beside `02.*` is an error.
fn group<'a>(
    entries: &'a [Entry<'a>],
) -> (BTreeMap<&'a str, Stack<'a>>, Vec<&'a str>, Vec<String>) {
    let mut groups: BTreeMap<&str, Stack> = BTreeMap::new();
    let mut others: Vec<&str> = Vec::new();
    let mut spellings = Vec::new();
    for e in entries {
        match layer_name(e.name) {
            Some((prefix, digits, weight)) => {
                let Ok(n) = digits.parse::<usize>() else {
                    others.push(e.name);
                    continue;
                };
                let layer = groups
                    .entry(prefix)
                    .or_default()
                    .entry(n)
                    .or_insert((digits, [None, None]));
                if layer.0 != digits {
                    spellings.push(format!(
                        "{prefix}{}.* and {prefix}{digits}.* are both layer {n}",
                        layer.0
                    ));
                    continue;
                }
                layer.1[usize::from(!weight)] = Some(e);
            }
            None if is_wgtrain_extra(e.name) => {}
            None => others.push(e.name),
        }
    }
    others.sort_unstable();
    (groups, others, spellings)
}

/// The one prefix's stack of layers; an error when there is none (naming the `others`) or
/// several.
fn one_stack<'a>(
    mut groups: BTreeMap<&'a str, Stack<'a>>,
    others: &[&str],
) -> Result<(&'a str, Stack<'a>), String> {
    let expected = "wgtrain's layers.{i}.weight and layers.{i}.bias, or nn.Sequential's {N}.weight and {N}.bias (e.g. 0.weight, 0.bias, 2.weight, 2.bias), under one prefix at most (model.0.weight)";
    match groups.len() {
        0 => Err(format!(
            "no layer tensors: expected {expected}; found {}",
            if others.is_empty() {
                "none".into()
            } else {
                list(others)
            }
        )),
        1 => Ok(groups.pop_first().expect("one group")),
        _ => {
            let each: Vec<String> = groups
                .iter()
                .map(|(p, l)| {
                    let idx: Vec<String> = l.values().map(|(d, _)| d.to_string()).collect();
                    format!("'{p}' ({})", idx.join(", "))
                })
                .collect();
            Err(format!(
                "layer tensors under more than one prefix: {}: wgtrain reads one stack of Linear layers (one nn.Sequential); save that part alone",
                each.join(", ")
            ))
        }
    }
}

/// The problem of a stack whose layer count is not the metadata's (`spec`): the counts, and
/// the tensors missing.
fn count_problem(prefix: &str, layers: &Stack, spec: &Spec) -> String {
    let last = layers.keys().next_back().copied().unwrap_or(0);
    let missing: Vec<String> = (0..spec.n_layers().max(last + 1))
        .filter(|n| !layers.contains_key(n))
        .flat_map(|n| [format!("{prefix}{n}.weight"), format!("{prefix}{n}.bias")])
        .collect();
    format!(
        "the metadata's sizes {} give {} layers, the file holds {}{}",
        join(&spec.sizes),
        spec.n_layers(),
        layers.len(),
        if missing.is_empty() {
            String::new()
        } else {
            format!(
                ": missing {}",
                list(&missing.iter().map(String::as_str).collect::<Vec<_>>())
            )
        }
    )
}

/// The layers' names and the sizes their shapes chain to; `problems` gets each missing
/// tensor, a dtype that is not F32, a shape that is not a Linear's, does not chain or is not
/// the metadata's (`meta`).
fn chain(prefix: &str, layers: &Stack, meta: Option<&Spec>, problems: &mut Vec<String>) -> Found {
    let mut names = Vec::new();
    let mut sizes: Vec<usize> = Vec::new();
    // The previous layer's weight name and outputs, for the chain.
    let mut before: Option<(&str, usize)> = None;
    for (l, (_, (digits, [w, b]))) in layers.iter().enumerate() {
        let (wname, bname) = (
            format!("{prefix}{digits}.weight"),
            format!("{prefix}{digits}.bias"),
        );
        match (w, b) {
            (None, _) => problems.push(format!("{wname} is missing")),
            (_, None) => problems.push(format!(
                "{bname} is missing (a Linear with bias=False? wgtrain's layers have biases)"
            )),
            _ => {}
        }
        for e in [w, b].into_iter().flatten() {
            if e.dtype != Dtype::F32 {
                problems.push(format!(
                    "{} is {}, not F32 (in PyTorch: model.float() before saving)",
                    e.name, e.dtype
                ));
            }
        }
        let w_shape = w.map(|w| w.shape.as_slice());
        match w_shape {
            Some(&[out, inp]) => {
                if let Some((prev, prev_out)) = before
                    && prev_out != inp
                {
                    problems.push(format!(
                        "{wname} [{out}, {inp}] takes {inp} inputs, but {prev} gives {prev_out} outputs: the layers do not chain"
                    ));
                }
                if let Some(spec) = meta
                    && l < spec.n_layers()
                {
                    let (fi, fo) = spec.layer_shape(l);
                    if (fo, fi) != (out, inp) {
                        problems.push(format!(
                            "{wname} is [{out}, {inp}], but the metadata's sizes {} make layer {l} [{fo}, {fi}]",
                            join(&spec.sizes)
                        ));
                    }
                }
                if l == 0 {
                    sizes.push(inp);
                }
                sizes.push(out);
                if let Some(b) = b
                    && b.shape != [out]
                {
                    problems.push(format!(
                        "{bname} is {:?}, but {wname} [{out}, {inp}] needs [{out}]",
                        b.shape
                    ));
                }
                before = w.map(|w| (w.name, out));
            }
            Some(other) => {
                problems.push(format!(
                    "{wname} is {other:?}: a Linear weight is [out, in]"
                ));
                before = None;
            }
            None => before = None,
        }
        names.push(LayerNames {
            weight: wname,
            bias: bname,
        });
    }
    Found {
        layers: names,
        sizes,
    }
}

/// The error listing `problems`, the tensors found (the stack's under `prefix` and `others`),
/// and how they were read as layers.
fn report(problems: &[String], prefix: &str, layers: &Stack, others: &[&str]) -> String {
    let mut found: Vec<&str> = layers
        .values()
        .flat_map(|(_, [w, b])| [w, b].into_iter().flatten().map(|e| e.name))
        .collect();
    found.extend(others.iter().copied());
    let mapping: Vec<String> = layers
        .iter()
        .enumerate()
        .map(|(l, (n, (digits, _)))| {
            if prefix == "layers." && l == *n && *digits == l.to_string() {
                l.to_string()
            } else {
                format!("{l} ({prefix}{digits}.*)")
            }
        })
        .collect();
    format!(
        "{}; found {}: read as layers {}",
        problems.join("; "),
        list(&found),
        mapping.join(", ")
    )
}

#[cfg(test)]
mod tests;
