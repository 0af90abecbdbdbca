// gather_rows: copies a batch's input and target rows into contiguous batch buffers.
//   x[r, :] = x_all[src(r), :], y[r, :] = y_all[src(r), :] for r < params.rows,
//   x_all holds f32 bits, or when params.packed != 0 bytes (four per u32, little-endian) that
//   are scaled by params.scale as they are read (images stay u8 on the device),
//   src(r) = perm[step.row_offset + params.offset + r], or the same index without perm when
//   params.identity != 0 (evaluation sets, in order).
// x_all (N, dim), y_all (N, ydim), x (rows, dim), y (rows, ydim).
// Bindings: 0 perm, 1 x_all, 2 y_all (read), 3 x, 4 y (read_write), 5 params, 6 step (dynamic).
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
@group(0) @binding(3) var<storage, read_write> x: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;
@group(0) @binding(6) var<uniform> step: Step;

const WG: u32 = 256u;

fn load_x(i: u32) -> f32 {
    if params.packed != 0u {
        return f32((x_all[i / 4u] >> (8u * (i % 4u))) & 0xffu) * params.scale;
    }
    return bitcast<f32>(x_all[i]);
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
        x[e] = load_x(source_row(r) * params.dim + e % params.dim);
    }
    for (var e = gid.x; e < params.rows * params.ydim; e += stride) {
        let r = e / params.ydim;
        y[e] = y_all[source_row(r) * params.ydim + e % params.ydim];
    }
}
