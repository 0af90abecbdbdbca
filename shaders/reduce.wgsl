// The second half of a split-K matmul (matmul.wgsl, params.splits = S > 1): adds the S partial
// (M, N) matrices the slices wrote, in slice order, and applies the epilogue the unsplit kernel
// would have applied to its sum:
//
//   reduce_forward          c = act(Σ_z part[z] + bias)           aux = bias (N)
//   reduce_backward_input   c = (Σ_z part[z]) ∘ act'(aux)         aux (M, N)
//   reduce_backward_weight  c = Σ_z part[z] (or c += it),         aux = the bias partials (S·N)
//                           db = Σ_z aux[z·N + col] (or db += it)
//
// part holds S·M·N floats, part[z·M·N + row·N + col]. Every index is guarded against the
// bindings' real lengths (arrayLength), so the module needs no runtime bounds checks (as
// matmul.wgsl; src/gpu/kernels.rs).
// Bindings: 0 part (read), 1 aux (read), 2 c (read_write), 3 db (read_write; backward_weight),
// 4 params.
// Dispatch: (min(ceil(M·N/256), 65535), 1, 1) with a grid-stride loop.

struct Params {
    m: u32,
    n: u32,
    splits: u32,
    act: u32,
    // reduce_backward_weight: 1 adds to c and db (later row chunks of a batch), 0 overwrites.
    accumulate: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<storage, read> part: array<f32>;
@group(0) @binding(1) var<storage, read> aux: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<storage, read_write> db: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

const WG: u32 = 256u;

// Whether part holds S (M, N) matrices and c one, without overflowing u32: then every
// z·M·N + i below (z < S, i < M·N) is within part.
fn fits_parts() -> bool {
    let mn = params.m * params.n;
    return params.m > 0u && params.n > 0u && params.m <= arrayLength(&c) / params.n
        && params.splits > 0u && params.splits <= arrayLength(&part) / mn;
}

// Element i of the sum of the S partial matrices, slice 0 first.
fn part_sum(i: u32, mn: u32) -> f32 {
    var s = part[i];
    for (var z = 1u; z < params.splits; z++) {
        s += part[z * mn + i];
    }
    return s;
}

@compute @workgroup_size(256, 1, 1)
fn reduce_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    if !fits_parts() || params.n > arrayLength(&aux) {
        return;
    }
    let mn = params.m * params.n;
    for (var i = gid.x; i < mn; i += nwg.x * WG) {
        c[i] = activation_forward(part_sum(i, mn) + aux[i % params.n], params.act);
    }
}

@compute @workgroup_size(256, 1, 1)
fn reduce_backward_input(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let mn = params.m * params.n;
    if !fits_parts() || mn > arrayLength(&aux) {
        return;
    }
    for (var i = gid.x; i < mn; i += nwg.x * WG) {
        c[i] = part_sum(i, mn) * activation_backward(aux[i], params.act);
    }
}

@compute @workgroup_size(256, 1, 1)
fn reduce_backward_weight(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let n = params.n;
    if !fits_parts() || n > arrayLength(&db) || params.splits > arrayLength(&aux) / n {
        return;
    }
    let mn = params.m * n;
    for (var i = gid.x; i < mn; i += nwg.x * WG) {
        let s = part_sum(i, mn);
        if params.accumulate != 0u {
            c[i] += s;
        } else {
            c[i] = s;
        }
    }
    for (var j = gid.x; j < n; j += nwg.x * WG) {
        var s = aux[j];
        for (var z = 1u; z < params.splits; z++) {
            s += aux[z * n + j];
        }
        if params.accumulate != 0u {
            db[j] += s;
        } else {
            db[j] = s;
        }
    }
}
