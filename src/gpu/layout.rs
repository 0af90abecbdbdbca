//! Where each parameter tensor lives in the flat buffers the GPU trainer binds (parameters,
//! gradients, optimiser state), and packing host parameters into that layout and back.

use crate::model::{Layer, Params, Spec};

/// Parameter tensors start at multiples of this many floats (256 bytes), so each can be bound
/// on its own (`min_storage_buffer_offset_alignment` is at most 256).
const ALIGN_FLOATS: usize = 64;

/// Where each tensor lives in the flat parameter (and gradient, and optimiser state) buffer: all
/// weights first, then all biases, so weight decay covers `[0, decay_end)`.
#[derive(Clone, Debug)]
pub struct ParamLayout {
    pub w: Vec<(usize, usize)>,
    pub b: Vec<(usize, usize)>,
    pub decay_end: usize,
    pub total: usize,
}

impl ParamLayout {
    /// What helps when the parameters do not fit one storage binding.
    pub const REMEDY: &str = "use narrower layers, or the CPU path";

    pub fn new(spec: &Spec) -> ParamLayout {
        let mut at = 0;
        let mut place = |len: usize| {
            let off = at;
            at = (at + len).next_multiple_of(ALIGN_FLOATS);
            (off, len)
        };
        let w: Vec<_> = (0..spec.n_layers())
            .map(|l| {
                let (i, o) = spec.layer_shape(l);
                place(i * o)
            })
            .collect();
        let decay_end_w = w.last().map_or(0, |&(o, l)| o + l);
        let b: Vec<_> = (0..spec.n_layers())
            .map(|l| place(spec.sizes[l + 1]))
            .collect();
        ParamLayout {
            w,
            b,
            decay_end: decay_end_w,
            total: at,
        }
    }

    pub(super) fn pack(&self, p: &Params) -> Vec<f32> {
        let mut flat = vec![0.0; self.total];
        for (l, layer) in p.layers.iter().enumerate() {
            flat[self.w[l].0..][..self.w[l].1].copy_from_slice(&layer.w);
            flat[self.b[l].0..][..self.b[l].1].copy_from_slice(&layer.b);
        }
        flat
    }

    pub(super) fn unpack(&self, flat: &[f32]) -> Params {
        Params {
            layers: self
                .w
                .iter()
                .zip(&self.b)
                .map(|(&(wo, wl), &(bo, bl))| Layer {
                    w: flat[wo..wo + wl].to_vec(),
                    b: flat[bo..bo + bl].to_vec(),
                })
                .collect(),
        }
    }
}
