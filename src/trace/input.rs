//! What a trace reads in f64, exactly as written: rows given inline or in a CSV file, and
//! starting weights in a small CSV file (one line per row of W^\[l\], one per b^\[l\]).

use std::path::Path;

use crate::cpu::reference::Net64;
use crate::error::{Error, Result};

/// One line of numbers.
type Row = Vec<f64>;

/// Rows read in f64: inputs (n, inputs) and targets (n, width), row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceRows {
    /// Inputs, (n, inputs).
    pub x: Vec<f64>,
    /// Targets, (n, width): values, or one-hot rows for classes.
    pub y: Vec<f64>,
    /// Rows.
    pub n: usize,
    /// Inputs per row.
    pub inputs: usize,
    /// Targets per row.
    pub width: usize,
}

/// The comma-separated numbers of `cells`; the error says where (`at`) and which cell.
fn numbers(cells: &str, at: &dyn Fn() -> String) -> Result<Vec<f64>, String> {
    cells
        .split(',')
        .map(|c| {
            let c = c.trim();
            match c.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(v),
                _ => Err(format!("{}: '{c}' is not a finite number", at())),
            }
        })
        .collect()
}

/// Rows written inline: rows separated by `;` (or new lines), each `inputs : targets` with
/// values separated by commas, e.g. `0.85, 0.5 : 0.01, 0.99`. Every row the same widths.
pub fn parse_rows(text: &str) -> Result<TraceRows> {
    let mut rows = TraceRows {
        x: Vec::new(),
        y: Vec::new(),
        n: 0,
        inputs: 0,
        width: 0,
    };
    for (i, row) in text
        .split([';', '\n'])
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .enumerate()
    {
        let at = || format!("row {} ('{row}')", i + 1);
        let (x, y) = row.split_once(':').ok_or_else(|| {
            Error::invalid(
                "rows",
                format!("{}: expected inputs : targets, e.g. 0.5, 0.6 : 0.8", at()),
            )
        })?;
        let number = |s| numbers(s, &at).map_err(|m| Error::invalid("rows", m));
        let (x, y) = (number(x)?, number(y)?);
        push(&mut rows, x, y, &at)?;
    }
    if rows.n == 0 {
        return Err(Error::invalid("rows", "holds no rows"));
    }
    Ok(rows)
}

fn push(rows: &mut TraceRows, x: Vec<f64>, y: Vec<f64>, at: &dyn Fn() -> String) -> Result<()> {
    if rows.n == 0 {
        (rows.inputs, rows.width) = (x.len(), y.len());
    } else if (x.len(), y.len()) != (rows.inputs, rows.width) {
        return Err(Error::invalid(
            "rows",
            format!(
                "{}: {} inputs and {} targets, but the first row has {} and {}",
                at(),
                x.len(),
                y.len(),
                rows.inputs,
                rows.width
            ),
        ));
    }
    rows.x.extend(x);
    rows.y.extend(y);
    rows.n += 1;
    Ok(())
}

/// The text of `path`: a regular file that fits memory (`memory::read_file`: a pipe or a
/// device is refused before reading), as UTF-8.
fn read_text(path: &Path) -> Result<String> {
    let bytes = crate::memory::read_file(path)?;
    String::from_utf8(bytes).map_err(|e| Error::data(path, format!("not UTF-8 text: {e}")))
}

/// Rows from a CSV file: an optional header line, `#` comment lines, then one row per line,
/// the last `targets` columns the targets (values, or one-hot class columns).
pub fn read_rows_csv(path: &Path, targets: usize) -> Result<TraceRows> {
    let text = read_text(path)?;
    let mut rows = TraceRows {
        x: Vec::new(),
        y: Vec::new(),
        n: 0,
        inputs: 0,
        width: 0,
    };
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = || format!("line {}", i + 1);
        let first = line.split(',').next().unwrap_or("").trim();
        if rows.n == 0 && first.parse::<f64>().is_err() {
            continue; // the header
        }
        let v = numbers(line, &at).map_err(|m| Error::data(path, m))?;
        if v.len() <= targets {
            return Err(Error::data(
                path,
                format!(
                    "line {}: {} columns, but the last {targets} are the targets and at least one input is needed",
                    i + 1,
                    v.len()
                ),
            ));
        }
        let (x, y) = v.split_at(v.len() - targets);
        push(&mut rows, x.to_vec(), y.to_vec(), &at).map_err(|e| match e {
            Error::InvalidArgument { msg, .. } => Error::data(path, msg),
            e => e,
        })?;
    }
    if rows.n == 0 {
        return Err(Error::data(path, "holds no rows"));
    }
    Ok(rows)
}

/// Starting weights from a CSV file, exactly as written: lines `W<l>, v1, v2, ...` give the
/// rows of W^\[l\] in order (one per unit of layer l, n_{l-1} values each), one line
/// `b<l>, ...` its biases (n_l values); layers 1, 2, ... in order, `#` comments allowed.
/// Returns the layer sizes and the parameters (stored (fan_in, fan_out) as `Net64` holds them).
pub fn read_weights_csv(path: &Path) -> Result<(Vec<usize>, Net64)> {
    let text = read_text(path)?;
    let layers = weight_lines(path, &text)?;
    if layers.is_empty() {
        return Err(Error::data(
            path,
            "holds no weights: expected lines W1, ..., b1, ...",
        ));
    }
    weights_net(path, layers)
}

/// Per layer as written: the rows of W^\[l\], then b^\[l\] once its line is read.
type WeightLines = Vec<(Vec<Row>, Option<Row>)>;

/// The `W<l>` and `b<l>` lines of `text`, per layer, each checked against the lines before it.
fn weight_lines(path: &Path, text: &str) -> Result<WeightLines> {
    let bad = |line: usize, msg: String| Error::data(path, format!("line {line}: {msg}"));
    let mut layers: WeightLines = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, rest) = line.split_once(',').unwrap_or((line, ""));
        let name = name.trim();
        let (kind, l) = name.split_at(name.len().min(1));
        let l: usize = match l.parse() {
            Ok(l) if l >= 1 && (kind == "W" || kind == "b") => l,
            _ => {
                return Err(bad(
                    i + 1,
                    format!("'{name}' names no tensor: expected W1, b1, W2, b2, ..."),
                ));
            }
        };
        let at = || format!("line {}", i + 1);
        let v = numbers(rest, &at).map_err(|m| Error::data(path, m))?;
        add_weight_line(&mut layers, name, kind, l, v).map_err(|msg| bad(i + 1, msg))?;
    }
    Ok(layers)
}

/// Adds line `name` (tensor `kind` of layer `l`, values `v`) to `layers`; the error says why it
/// is out of order or of the wrong width.
fn add_weight_line(
    layers: &mut WeightLines,
    name: &str,
    kind: &str,
    l: usize,
    v: Row,
) -> Result<(), String> {
    if l > layers.len() + 1 || (l == layers.len() + 1 && kind == "b") {
        return Err(format!(
            "{name} comes before the rows of W{l}: give W1, b1, W2, b2, ... in order"
        ));
    }
    if l == layers.len() + 1 {
        layers.push((Vec::new(), None));
    }
    let last = layers.len();
    let (w, b) = &mut layers[l - 1];
    if b.is_some() || l < last {
        return Err(format!(
            "{name} after b{l}: each layer's W rows come first, then its one b line"
        ));
    }
    if kind == "W" {
        if let Some(first) = w.first().filter(|f| f.len() != v.len()) {
            return Err(format!(
                "W{l} row of {} values, its first row has {}",
                v.len(),
                first.len()
            ));
        }
        w.push(v);
    } else {
        if v.len() != w.len() {
            return Err(format!(
                "b{l} has {} values, W{l} {} rows (one per unit)",
                v.len(),
                w.len()
            ));
        }
        *b = Some(v);
    }
    Ok(())
}

/// The layer sizes and the parameters of `layers` (at least one), each W^\[l\] checked against
/// the layer before it and stored transposed, (fan_in, fan_out).
fn weights_net(path: &Path, layers: WeightLines) -> Result<(Vec<usize>, Net64)> {
    let mut sizes = vec![layers[0].0[0].len()];
    let mut net = Net64 {
        w: Vec::new(),
        b: Vec::new(),
    };
    for (l, (w, b)) in layers.into_iter().enumerate() {
        let b =
            b.ok_or_else(|| Error::data(path, format!("layer {} has no b{} line", l + 1, l + 1)))?;
        let (n, k) = (w.len(), w[0].len());
        if k != sizes[l] {
            return Err(Error::data(
                path,
                format!(
                    "W{} rows have {k} values, but layer {} has {} units",
                    l + 1,
                    l,
                    sizes[l]
                ),
            ));
        }
        let mut stored = vec![0.0; k * n];
        for (j, row) in w.iter().enumerate() {
            for (i, &v) in row.iter().enumerate() {
                stored[i * n + j] = v;
            }
        }
        net.w.push(stored);
        net.b.push(b);
        sizes.push(n);
    }
    Ok((sizes, net))
}
