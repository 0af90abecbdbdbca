// loss_forward_backward: per-sample loss and its gradient on the last layer, fused.
//   out (M, N): logits for cross-entropy (softmax) and bce (sigmoid), outputs for mse;
//   y (M, N): dense targets (one-hot for classes).
//   dz (M, N) = d(mean loss)/d(pre-activation), overwritten:
//     (M here is params.batch, the whole batch, when a batch is split into row chunks)
//     cross-entropy  (softmax(z) - y) / M          loss -Σ y log softmax(z)
//     bce            (σ(z) - y) / M                loss Σ max(z,0) - z y + log(1 + e^-|z|)
//     mse            (a - y) a'(z) / M             loss Σ ½ (a - y)²   (a' = a(1-a) for sigmoid)
//   stats[2 slot] = summed loss of the M rows, stats[2 slot + 1] = rows whose argmax matches y's.
// Bindings: 0 out, 1 y (read), 2 dz, 3 stats (read_write), 4 params, 5 step (dynamic).
// Dispatch: (1, 1, 1): one workgroup strides over the rows, then a fixed-order tree reduction
// (no atomics, so the sum is bitwise reproducible).

struct Params {
    m: u32,
    n: u32,
    loss: u32,
    sigmoid_out: u32,
    // N in the gradient's 1/N: the whole batch's rows, more than m for a row chunk of a batch
    // split across bindings; then accumulate = 1 adds the chunk's stats to the slot.
    batch: u32,
    accumulate: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<storage, read> out: array<f32>;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> dz: array<f32>;
@group(0) @binding(3) var<storage, read_write> stats: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;
@group(0) @binding(5) var<uniform> step: Step;

const WG: u32 = 256u;
var<workgroup> part_loss: array<f32, 256>;
var<workgroup> part_correct: array<f32, 256>;

fn argmax_row(base: u32, use_y: bool) -> u32 {
    var best = 0u;
    var best_v = select(out[base], y[base], use_y);
    for (var j = 1u; j < params.n; j++) {
        let v = select(out[base + j], y[base + j], use_y);
        if v > best_v {
            best_v = v;
            best = j;
        }
    }
    return best;
}

@compute @workgroup_size(256, 1, 1)
fn loss_forward_backward(@builtin(local_invocation_index) t: u32) {
    let n = params.n;
    let inv_m = 1.0 / f32(params.batch);
    var total = 0.0;
    var correct = 0.0;
    for (var r = t; r < params.m; r += WG) {
        let base = r * n;
        if argmax_row(base, false) == argmax_row(base, true) {
            correct += 1.0;
        }
        var row = 0.0;
        if params.loss == 0u {
            var mx = out[base];
            for (var j = 1u; j < n; j++) {
                mx = max(mx, out[base + j]);
            }
            var sum = 0.0;
            for (var j = 0u; j < n; j++) {
                sum += exp(out[base + j] - mx);
            }
            let log_sum = log(sum) + mx;
            for (var j = 0u; j < n; j++) {
                let lp = out[base + j] - log_sum;
                row -= y[base + j] * lp;
                dz[base + j] = (exp(lp) - y[base + j]) * inv_m;
            }
        } else if params.loss == 1u {
            for (var j = 0u; j < n; j++) {
                let z = out[base + j];
                let t_ = y[base + j];
                row += max(z, 0.0) - z * t_ + log(1.0 + exp(-abs(z)));
                dz[base + j] = (1.0 / (1.0 + exp(-z)) - t_) * inv_m;
            }
        } else {
            for (var j = 0u; j < n; j++) {
                let a_ = out[base + j];
                let e = a_ - y[base + j];
                row += 0.5 * e * e;
                let da = select(1.0, a_ * (1.0 - a_), params.sigmoid_out != 0u);
                dz[base + j] = e * da * inv_m;
            }
        }
        total += row;
    }
    part_loss[t] = total;
    part_correct[t] = correct;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s /= 2u) {
        if t < s {
            part_loss[t] += part_loss[t + s];
            part_correct[t] += part_correct[t + s];
        }
        workgroupBarrier();
    }
    if t == 0u {
        if params.accumulate != 0u {
            stats[2u * step.slot] += part_loss[0];
            stats[2u * step.slot + 1u] += part_correct[0];
        } else {
            stats[2u * step.slot] = part_loss[0];
            stats[2u * step.slot + 1u] = part_correct[0];
        }
    }
}
