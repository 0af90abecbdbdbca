// gather_rows: copies a batch's input and target rows into contiguous batch buffers.
//   x[r, :] = x_all[src(r), :], y[r, :] = y_all[src(r), :] for r < params.rows,
//   x_all holds f32 bits (params.packed 0), or bytes (four per u32, little-endian) widened as
//   they are read, so images stay u8 on the device: times params.scale (packed 1), or times
//   their feature's scale plus its offset, affine[j] and affine[dim + j] (packed 2: inputs
//   standardised per feature),
//   src(r) = perm[step.row_offset + params.offset + r], or the same index without perm when
//   params.identity != 0 (evaluation sets, in order).
// x_all (N, dim), y_all (N, ydim), x (rows, dim), y (rows, ydim).
// Bindings: 0 perm, 1 x_all, 2 y_all, 3 affine (read), 4 x, 5 y (read_write), 6 params,
// 7 step (dynamic).
// Dispatch: (min(ceil(rows*dim/256), 65535), 1, 1); a grid-stride loop covers the rest.

struct Params {
    dim: u32,
    ydim: u32,
    identity: u32,
    packed: u32,
    scale: f32,
    // Rows [offset, offset + rows) of the step's batch: all of it, or one row chunk of a batch
    // split across bindings.
    offset: u32,
    rows: u32,
    _pad: u32,
}

@group(0) @binding(0) var<storage, read> perm: array<u32>;
@group(0) @binding(1) var<storage, read> x_all: array<u32>;
@group(0) @binding(2) var<storage, read> y_all: array<f32>;
@group(0) @binding(3) var<storage, read> affine: array<f32>;
@group(0) @binding(4) var<storage, read_write> x: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;
@group(0) @binding(6) var<uniform> params: Params;
@group(0) @binding(7) var<uniform> step: Step;

const WG: u32 = 256u;

// Element i of x_all, which is feature j of its row.
fn load_x(i: u32, j: u32) -> f32 {
    if params.packed == 0u {
        return bitcast<f32>(x_all[i]);
    }
    let b = f32((x_all[i / 4u] >> (8u * (i % 4u))) & 0xffu);
    if params.packed == 2u {
        return b * affine[j] + affine[params.dim + j];
    }
    return b * params.scale;
}

fn source_row(r: u32) -> u32 {
    if params.identity != 0u {
        return step.row_offset + params.offset + r;
    }
    return perm[step.row_offset + params.offset + r];
}

@compute @workgroup_size(256, 1, 1)
fn gather_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let stride = nwg.x * WG;
    for (var e = gid.x; e < params.rows * params.dim; e += stride) {
        let r = e / params.dim;
        let j = e % params.dim;
        x[e] = load_x(source_row(r) * params.dim + j, j);
    }
    for (var e = gid.x; e < params.rows * params.ydim; e += stride) {
        let r = e / params.ydim;
        y[e] = y_all[source_row(r) * params.ydim + e % params.ydim];
    }
}
