//! Safetensors checkpoints read and written by hand, not through the tool's own reader and
//! writer, so the CLI tests check the file format itself.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

/// (name, dtype, shape, data offsets) of one tensor in a safetensors header.
pub type TensorEntry = (String, String, Vec<usize>, (usize, usize));

/// A parsed safetensors file: the header object and the data region after it.
pub struct SafeTensors {
    header: serde_json::Map<String, Value>,
    data: Vec<u8>,
}

impl SafeTensors {
    /// 8-byte little-endian header length, the JSON header, then the tensor bytes.
    #[track_caller]
    pub fn read(path: &Path) -> SafeTensors {
        let bytes = std::fs::read(path).unwrap();
        assert!(bytes.len() >= 8, "{} bytes", bytes.len());
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        assert!(
            8 + n <= bytes.len(),
            "header of {n} bytes in {}",
            bytes.len()
        );
        let header = match serde_json::from_slice(&bytes[8..8 + n]) {
            Ok(Value::Object(o)) => o,
            other => panic!("header is not a JSON object: {other:?}"),
        };
        SafeTensors {
            header,
            data: bytes[8 + n..].to_vec(),
        }
    }

    #[track_caller]
    pub fn metadata(&self, key: &str) -> &str {
        self.header["__metadata__"][key]
            .as_str()
            .unwrap_or_else(|| panic!("metadata {key:?} missing: {:?}", self.header))
    }

    /// The tensor names with their (dtype, shape, data offsets).
    pub fn tensors(&self) -> Vec<TensorEntry> {
        self.header
            .iter()
            .filter(|(k, _)| *k != "__metadata__")
            .map(|(k, v)| {
                let shape = v["shape"].as_array().expect("shape");
                let off = v["data_offsets"].as_array().expect("data_offsets");
                (
                    k.clone(),
                    v["dtype"].as_str().expect("dtype").to_string(),
                    shape.iter().map(|d| d.as_u64().unwrap() as usize).collect(),
                    (
                        off[0].as_u64().unwrap() as usize,
                        off[1].as_u64().unwrap() as usize,
                    ),
                )
            })
            .collect()
    }

    /// Checks names, F32, shapes and that the offsets tile the data region exactly.
    #[track_caller]
    pub fn assert_layout(&self, want: &[(&str, &[usize])]) {
        let mut got = self.tensors();
        let names: BTreeSet<&str> = got.iter().map(|t| t.0.as_str()).collect();
        let want_names: BTreeSet<&str> = want.iter().map(|w| w.0).collect();
        assert_eq!(names, want_names, "tensor names");
        for (name, shape) in want {
            let t = got.iter().find(|t| t.0 == *name).unwrap();
            assert_eq!(t.1, "F32", "{name} dtype");
            assert_eq!(t.2, *shape, "{name} shape");
            let bytes = 4 * shape.iter().product::<usize>();
            assert_eq!(t.3.1 - t.3.0, bytes, "{name} offsets {:?}", t.3);
        }
        got.sort_by_key(|t| t.3);
        let mut at = 0;
        for t in &got {
            assert_eq!(t.3.0, at, "{} starts at {}, expected {at}", t.0, t.3.0);
            at = t.3.1;
        }
        assert_eq!(at, self.data.len(), "tensors do not cover the data region");
    }

    pub fn f32s(&self, name: &str) -> Vec<f64> {
        let (_, _, _, (a, b)) = self.tensors().into_iter().find(|t| t.0 == name).unwrap();
        self.data[a..b]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64)
            .collect()
    }
}

/// Writes a wgtrain safetensors checkpoint: metadata, then `(name, shape, values)` tensors in
/// order, the header padded to 8 bytes.
pub fn write_checkpoint(
    path: &Path,
    meta: [(&str, &str); 4],
    tensors: &[(&str, Vec<usize>, Vec<f32>)],
) {
    let mut m = meta.to_vec();
    m.push(("format", "wgtrain-1"));
    write_safetensors(path, &m, tensors);
}

/// Writes a safetensors file as PyTorch's `safetensors.torch.save_file` does: the metadata
/// (none when empty: no `__metadata__` key), then F32 `(name, shape, values)` tensors in order,
/// the header padded to 8 bytes.
pub fn write_safetensors(
    path: &Path,
    meta: &[(&str, &str)],
    tensors: &[(&str, Vec<usize>, Vec<f32>)],
) {
    let mut header = serde_json::Map::new();
    if !meta.is_empty() {
        let m: serde_json::Map<String, Value> = meta
            .iter()
            .map(|(k, v)| (k.to_string(), Value::from(*v)))
            .collect();
        header.insert("__metadata__".into(), Value::Object(m));
    }
    let mut data = Vec::new();
    for (name, shape, values) in tensors {
        assert_eq!(shape.iter().product::<usize>(), values.len(), "{name}");
        let start = data.len();
        data.extend(values.iter().flat_map(|v| v.to_le_bytes()));
        header.insert(
            name.to_string(),
            serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [start, data.len()]}),
        );
    }
    let mut h = serde_json::to_vec(&Value::Object(header)).unwrap();
    h.resize(h.len().next_multiple_of(8), b' ');
    let mut bytes = (h.len() as u64).to_le_bytes().to_vec();
    bytes.extend(h);
    bytes.extend(data);
    std::fs::write(path, bytes).unwrap();
}
