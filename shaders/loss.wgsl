// loss_forward_backward: per-sample loss and its gradient on the last layer, fused.
//   out (M, N): logits for cross-entropy (softmax) and bce (sigmoid), outputs for mse;
//   y (M, N): dense targets (one-hot for classes).
//   dz (M, N) = d(mean loss)/d(pre-activation), overwritten:
//     (M here is params.batch, the whole batch, when a batch is split into row chunks)
//     cross-entropy  (softmax(z)·Σy - y) / M      loss -Σ y log softmax(z)
//                    (Σy = 1 for a one-hot row; w for a row of class weight w: w·(p - y))
//     bce            (σ(z) - y) / M                loss Σ max(z,0) - z y + log(1 + e^-|z|)
//     mse            (a - y) a'(z) / M             loss Σ ½ (a - y)²   (a' = a(1-a) for sigmoid)
//   row_stats (M, 2), overwritten: row r's loss, and 1 when its argmax matches y's (the first
//   maximum on ties, as the CPU's argmax), else 0.
// loss_stats: stats[2 slot] = Σ_r row_stats[r, 0], stats[2 slot + 1] = Σ_r row_stats[r, 1],
//   overwritten, or added to when params.accumulate is 1 (later row chunks of a split batch).
//
// Bindings: 0 out, 1 y (read), 2 dz, 3 row_stats, 4 stats (read_write), 5 params, 6 step
// (dynamic). loss_forward_backward uses 0-3 and 5, loss_stats 3-6 (row_stats is read_write in
// both, since one module declares it once).
// Dispatch, loss_forward_backward: narrow rows (params.wide = 0) one thread per row,
// (ceil(M/256), 1, 1) workgroups with a grid-stride loop; wide rows (params.wide = 1) one
// workgroup per row, its 256 threads striding over the row's N elements with tree reductions,
// (min(M, 65535), 1, 1) workgroups striding over rows. loss_stats: (1, 1, 1).
// Every sum runs in a fixed order (no atomics), so results are bitwise reproducible.

struct Params {
    m: u32,
    n: u32,
    loss: u32,
    sigmoid_out: u32,
    // N in the gradient's 1/N: the whole batch's rows, more than m for a row chunk of a batch
    // split across bindings; then accumulate = 1 adds the chunk's stats to the slot.
    batch: u32,
    accumulate: u32,
    // 1: one workgroup per row (outputs much wider than a thread should loop over).
    wide: u32,
    _pad: u32,
}

@group(0) @binding(0) var<storage, read> out: array<f32>;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> dz: array<f32>;
@group(0) @binding(3) var<storage, read_write> row_stats: array<f32>;
@group(0) @binding(4) var<storage, read_write> stats: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;
@group(0) @binding(6) var<uniform> step: Step;

const WG: u32 = 256u;
// Loss codes, mirroring model::LOSS_* (Loss::code()); tests/shader_constants.rs checks they agree.
const LOSS_CROSS_ENTROPY: u32 = 0u;
const LOSS_BCE: u32 = 1u;
const LOSS_MSE: u32 = 2u;
var<workgroup> part_a: array<f32, 256>;
var<workgroup> part_b: array<f32, 256>;
var<workgroup> index_a: array<u32, 256>;
var<workgroup> index_b: array<u32, 256>;
var<workgroup> part_c: array<f32, 256>;

// The loss of element (base + j) and its gradient into dz, given the row's log-sum-exp and
// target sum (both used by cross-entropy only).
fn element(base: u32, j: u32, log_sum: f32, mass: f32, inv_m: f32) -> f32 {
    let z = out[base + j];
    let t_ = y[base + j];
    if params.loss == LOSS_CROSS_ENTROPY {
        let lp = z - log_sum;
        dz[base + j] = (exp(lp) * mass - t_) * inv_m;
        return -t_ * lp;
    } else if params.loss == LOSS_BCE {
        dz[base + j] = (1.0 / (1.0 + exp(-z)) - t_) * inv_m;
        return max(z, 0.0) - z * t_ + log(1.0 + exp(-abs(z)));
    }
    // LOSS_MSE
    let e = z - t_;
    let da = select(1.0, z * (1.0 - z), params.sigmoid_out != 0u);
    dz[base + j] = e * da * inv_m;
    return 0.5 * e * e;
}

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

// One thread per row.
fn narrow_rows(gid: u32, threads: u32) {
    let n = params.n;
    let inv_m = 1.0 / f32(params.batch);
    for (var r = gid; r < params.m; r += threads) {
        let base = r * n;
        var log_sum = 0.0;
        var mass = 0.0;
        if params.loss == LOSS_CROSS_ENTROPY {
            var mx = out[base];
            for (var j = 1u; j < n; j++) {
                mx = max(mx, out[base + j]);
            }
            var sum = 0.0;
            for (var j = 0u; j < n; j++) {
                sum += exp(out[base + j] - mx);
                mass += y[base + j];
            }
            log_sum = log(sum) + mx;
        }
        var row = 0.0;
        for (var j = 0u; j < n; j++) {
            row += element(base, j, log_sum, mass, inv_m);
        }
        row_stats[2u * r] = row;
        row_stats[2u * r + 1u] = select(0.0, 1.0, argmax_row(base, false) == argmax_row(base, true));
    }
}

// Whether (v, i) beats (w, k) as a row maximum: an index of n or more marks no element; on equal
// values the first index wins.
fn beats(v: f32, i: u32, w: f32, k: u32) -> bool {
    if i >= params.n {
        return false;
    }
    return k >= params.n || v > w || (v == w && i < k);
}

// Tree reductions of part_a and of part_b (sums) over the workgroup; every thread gets the total.
// Two functions: naga (wgpu 30) rejects a sum taking a ptr<workgroup, array<f32, 256>> argument.
fn sum_a(t: u32) -> f32 {
    for (var s = WG / 2u; s > 0u; s /= 2u) {
        if t < s {
            part_a[t] += part_a[t + s];
        }
        workgroupBarrier();
    }
    let total = part_a[0];
    workgroupBarrier();
    return total;
}

fn sum_b(t: u32) -> f32 {
    for (var s = WG / 2u; s > 0u; s /= 2u) {
        if t < s {
            part_b[t] += part_b[t + s];
        }
        workgroupBarrier();
    }
    let total = part_b[0];
    workgroupBarrier();
    return total;
}

// One workgroup per row, its threads striding over the row.
fn wide_rows(wg: u32, groups: u32, t: u32) {
    let n = params.n;
    let inv_m = 1.0 / f32(params.batch);
    for (var r = wg; r < params.m; r += groups) {
        let base = r * n;
        // The row's maxima of out and y, with their first indices, and the sum of its targets
        // (cross-entropy's mass), reduced in one tree: a second sum_b after the exponentials'
        // left most threads with a zero sum under Dawn/Tint's GL ES backend (stop 18's CI).
        var mx = 0.0;
        var mi = n;
        var yx = 0.0;
        var yi = n;
        var y_sum = 0.0;
        for (var j = t; j < n; j += WG) {
            let v = out[base + j];
            if beats(v, j, mx, mi) {
                mx = v;
                mi = j;
            }
            let w = y[base + j];
            if beats(w, j, yx, yi) {
                yx = w;
                yi = j;
            }
            y_sum += w;
        }
        part_a[t] = mx;
        index_a[t] = mi;
        part_b[t] = yx;
        index_b[t] = yi;
        part_c[t] = y_sum;
        workgroupBarrier();
        for (var s = WG / 2u; s > 0u; s /= 2u) {
            if t < s {
                if beats(part_a[t + s], index_a[t + s], part_a[t], index_a[t]) {
                    part_a[t] = part_a[t + s];
                    index_a[t] = index_a[t + s];
                }
                if beats(part_b[t + s], index_b[t + s], part_b[t], index_b[t]) {
                    part_b[t] = part_b[t + s];
                    index_b[t] = index_b[t + s];
                }
                part_c[t] += part_c[t + s];
            }
            workgroupBarrier();
        }
        let row_max = part_a[0];
        let correct = index_a[0] == index_b[0];
        let mass = part_c[0];
        workgroupBarrier();
        var log_sum = 0.0;
        if params.loss == LOSS_CROSS_ENTROPY {
            var sum = 0.0;
            for (var j = t; j < n; j += WG) {
                sum += exp(out[base + j] - row_max);
            }
            // Into part_b, not the part_a the row maximum was just read from: reducing in
            // part_a again left threads 8 and up with a zero sum under Dawn/Tint (issue 11).
            part_b[t] = sum;
            workgroupBarrier();
            log_sum = log(sum_b(t)) + row_max;
        }
        var row = 0.0;
        for (var j = t; j < n; j += WG) {
            row += element(base, j, log_sum, mass, inv_m);
        }
        part_a[t] = row;
        workgroupBarrier();
        let row_loss = sum_a(t);
        if t == 0u {
            row_stats[2u * r] = row_loss;
            row_stats[2u * r + 1u] = select(0.0, 1.0, correct);
        }
    }
}

@compute @workgroup_size(256, 1, 1)
fn loss_forward_backward(
    @builtin(local_invocation_index) t: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    if params.wide != 0u {
        wide_rows(wg.x, nwg.x, t);
    } else {
        narrow_rows(wg.x * WG + t, nwg.x * WG);
    }
}

@compute @workgroup_size(256, 1, 1)
fn loss_stats(@builtin(local_invocation_index) t: u32) {
    var total = 0.0;
    var correct = 0.0;
    for (var r = t; r < params.m; r += WG) {
        total += row_stats[2u * r];
        correct += row_stats[2u * r + 1u];
    }
    part_a[t] = total;
    part_b[t] = correct;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s /= 2u) {
        if t < s {
            part_a[t] += part_a[t + s];
            part_b[t] += part_b[t + s];
        }
        workgroupBarrier();
    }
    if t == 0u {
        if params.accumulate != 0u {
            stats[2u * step.slot] += part_a[0];
            stats[2u * step.slot + 1u] += part_b[0];
        } else {
            stats[2u * step.slot] = part_a[0];
            stats[2u * step.slot + 1u] = part_b[0];
        }
    }
}
