// bias_backward: db = Σ_rows dz, the bias gradient. dz (M, N), db (N), overwritten, or added to
// when params.accumulate is 1 (later row chunks of a batch split across bindings).
// Bindings: 0 dz (read), 1 db (read_write), 2 params.
// Dispatch: (min(ceil(N/64), 65535), 1, 1); one thread per column sums its rows in order.

struct Params {
    m: u32,
    n: u32,
    accumulate: u32,
    _pad: u32,
}

@group(0) @binding(0) var<storage, read> dz: array<f32>;
@group(0) @binding(1) var<storage, read_write> db: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

const WG: u32 = 64u;

@compute @workgroup_size(64, 1, 1)
fn bias_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var j = gid.x; j < params.n; j += nwg.x * WG) {
        var s = 0.0;
        for (var i = 0u; i < params.m; i++) {
            s += dz[i * params.n + j];
        }
        if params.accumulate != 0u {
            db[j] += s;
        } else {
            db[j] = s;
        }
    }
}
