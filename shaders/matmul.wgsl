// Tiled, register-blocked matmul in the three forms training needs, with fused epilogues.
//
//   matmul_backward_weight  c = aᵀ·b, db = Σ_k b[k,:]  a stored (K,M), b (K,N), db (N)
//   matmul_forward          c = act(a·b + bias)        a (M,K), b (K,N), aux = bias (N)
//   matmul_backward_input   c = (a·bᵀ) ∘ act'(aux)     a (M,K), b stored (N,K), aux (M,N)
// c is (M,N), row-major, overwritten; only matmul_backward_weight adds to c and db, and only
// when params.accumulate says so (the gradient of a batch split into row chunks).
// matmul_backward_weight is dW = Xᵀ·dZ and, from the dZ tiles it streams anyway, the bias
// gradient db = column sums of dZ: the workgroups of the first row tile (wg.y = 0) keep per-thread
// partial sums while loading dZ and add them in a fixed order at the end (no atomics).
//
// Two variants of each form, the same math, chosen per adapter (src/gpu/tuning.rs):
//   matmul_*        64×64 tile of c, k steps of 16, 4×4 outputs per thread
//   matmul_*_128    128×128 tile of c, k steps of 8, 8×8 outputs per thread (four 4×4 blocks at
//                   row and column offsets 0 and 64), for hardware GPUs with many registers
// Both use 16×16 threads and 8.5 KiB of padded tiles (+1 KiB for the bias partial sums), under
// WebGPU's default 16 KiB of workgroup storage (tests/shader_translation.rs checks every entry
// point's total).
//
// Shared-memory banks (32 banks of 4 bytes; a warp is 32 consecutive threads t = 16·ly + lx):
// a tile row (one k step) holds T floats plus PAD_VEC4 vec4s of padding, so the float at (kk, mm)
// is at 4·ROW·kk + mm, ROW = T/4 + 1 vec4s, bank (4·kk + mm) mod 32 since T is a multiple of 32.
// - Tiles filled along m or n (a stored (K,M), b stored (K,N)): a warp writes 32 consecutive
//   floats of one k step, 32 banks, with or without padding.
// - Tiles filled along k (a (M,K) row-major, b stored (N,K)): a warp's loads walk runs of
//   RUN_K = 8 consecutive k of 4 consecutive rows (8 kk × 4 mm, mm from a multiple of 4), so its
//   stores hit banks 4·(kk mod 8) + (mm mod 4) + const: all 32 different, no conflict. Unpadded
//   (a row of exactly T floats) every k step starts on bank 0 and the 64 variant's old order
//   (16 kk × 2 mm per warp) hit 2 banks, a 16-way conflict; the 128 variant's (8 kk × 4 mm) 4
//   banks, 8-way. Padding by one float would need a scalar tile and lose the vec4 reads below;
//   one vec4 alone (rows 4 banks apart) with 16 kk per warp still left 2-way: hence both the
//   pad and the runs of 8. Each row's run of 8 floats is one 32-byte global sector, so a
//   warp's global loads still cover 4 rows × 32 bytes (the old 64 order: 2 rows × 64 bytes).
// - Inner-loop reads: a warp reads as_ at 2 (lid.y) addresses, broadcast, and bs at 16
//   consecutive vec4s: conflict-free in both layouts.
// The order a tile is filled in does not change any sum, so results are bitwise those of the
// unpadded kernels.
//
// Split K (params.splits = S > 1, for small outputs whose grid would leave most of a large GPU
// idle; src/gpu/plan.rs decides): workgroup z of S sums k in [z·kslice, min(K, (z+1)·kslice)),
// kslice a multiple of 16 (so of both k steps), and writes its raw partial tile, no epilogue, to
// c[z·M·N + row·N + col] (c is then a scratch of S·M·N floats) and its bias partial sums to
// db[z·N + col]; reduce.wgsl adds the S partials in order and applies the epilogue. No atomics:
// reproducible, though not bitwise equal to the unsplit sums.
//
// Bindings: 0 a, 1 b, 2 aux (read; forward and backward_input), 3 c (read_write),
// 4 db (read_write; backward_weight), 5 params.
// Dispatch: (ceil(N/T), ceil(M/T), S) workgroups of 16×16 threads, T the variant's tile (a grid
// of 64-tiles also works for the 128 variant: its workgroups past c return at once). Thread
// (lx, ly) owns rows 4ly + i (+ 64 in the 128 variant) and columns 4lx + j (+ 64) of its
// workgroup's tile, held in vec4 accumulators (one per row) so no private array is indexed
// dynamically.

struct Params {
    m: u32,
    n: u32,
    k: u32,
    act: u32,
    // matmul_backward_weight: 1 adds to c and db (later row chunks of a batch split across
    // bindings).
    accumulate: u32,
    // Split K: slices of k (0 or 1: no split) and each slice's k terms (a multiple of TILE_K).
    splits: u32,
    kslice: u32,
    _pad0: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> aux: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read_write> db: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

const TILE: u32 = 64u;
const TILE_K: u32 = 16u;
const TILE_128: u32 = 128u;
const TILE_K_128: u32 = 8u;
const THREADS: u32 = 256u;

// Tiles are filled along k in runs of this many k steps (see the bank note above).
const RUN_K: u32 = 8u;
// Padding of each tile row (one k step), in vec4s.
const PAD_VEC4: u32 = 1u;
// The tiles as vec4s along m / n: as_[kk * (T/4 + PAD_VEC4) + mm/4] holds a's rows mm..mm+3 at
// k step kk, bs likewise b's columns; the inner loop reads one vec4 per 4 rows or columns.
// 16 rows of 17 vec4s (the 64 variant) and 8 rows of 33 (the 128 one) fit in 272.
const TILE_VEC4S: u32 = 272u;
var<workgroup> as_: array<vec4<f32>, TILE_VEC4S>;
var<workgroup> bs: array<vec4<f32>, TILE_VEC4S>;
// matmul_backward_weight: each thread's partial column sum of b, for the bias gradient.
var<workgroup> bias_part: array<f32, 256>;

const FORM_NN: u32 = 0u;
const FORM_TN: u32 = 1u;
const FORM_NT: u32 = 2u;

// Element (row, col) of the logical (M,K) left operand.
fn load_a(form: u32, row: u32, col: u32) -> f32 {
    if row >= params.m || col >= params.k {
        return 0.0;
    }
    if form == FORM_TN {
        return a[col * params.m + row];
    }
    return a[row * params.k + col];
}

// Element (row, col) of the logical (K,N) right operand.
fn load_b(form: u32, row: u32, col: u32) -> f32 {
    if row >= params.k || col >= params.n {
        return 0.0;
    }
    if form == FORM_NT {
        return b[col * params.k + row];
    }
    return b[row * params.n + col];
}

// A 4×4 block of a·b: row i of the block in r[i], columns along the vec4.
struct Block {
    r0: vec4<f32>,
    r1: vec4<f32>,
    r2: vec4<f32>,
    r3: vec4<f32>,
}

fn zero_block() -> Block {
    return Block(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
}

// q + av ⊗ bv: rows av (one per block row), columns bv.
fn outer_add(q: Block, av: vec4<f32>, bv: vec4<f32>) -> Block {
    return Block(q.r0 + av.x * bv, q.r1 + av.y * bv, q.r2 + av.z * bv, q.r3 + av.w * bv);
}

fn block_row(q: Block, i: u32) -> vec4<f32> {
    switch i {
        case 0u: { return q.r0; }
        case 1u: { return q.r1; }
        case 2u: { return q.r2; }
        default: { return q.r3; }
    }
}

// Element e of a tile filled along k: k step (e / (RUN_K·T))·RUN_K + e mod RUN_K, row or column
// (e / RUN_K) mod T (tk, 16 or 8, is a multiple of RUN_K).
fn along_k_row(e: u32, tile: u32) -> u32 {
    return (e / RUN_K) % tile;
}

fn along_k_step(e: u32, tile: u32) -> u32 {
    return (e / (RUN_K * tile)) * RUN_K + e % RUN_K;
}

// Loads the (T × tk) tile of a at rows row0.., k k0.. and the (tk × T) tile of b at k k0..,
// columns col0.., each thread T·tk/256 elements of each; walks memory contiguously (along k in
// runs of RUN_K for a row-major a, along m for a stored (K,M); likewise b).
// Returns the sum of the b elements this thread loaded (the bias gradient's partial sums).
fn load_tiles(form: u32, t: u32, row0: u32, col0: u32, k0: u32, tile: u32, tk: u32) -> f32 {
    var bsum = 0.0;
    let w = tile / 4u + PAD_VEC4;
    for (var e = t; e < tile * tk; e += THREADS) {
        var mm = along_k_row(e, tile);
        var kk = along_k_step(e, tile);
        if form == FORM_TN {
            mm = e % tile;
            kk = e / tile;
        }
        as_[kk * w + mm / 4u][mm % 4u] = load_a(form, row0 + mm, k0 + kk);
    }
    for (var e = t; e < tile * tk; e += THREADS) {
        var nn = e % tile;
        var kk = e / tile;
        if form == FORM_NT {
            nn = along_k_row(e, tile);
            kk = along_k_step(e, tile);
        }
        let v = load_b(form, k0 + kk, col0 + nn);
        bsum += v;
        bs[kk * w + nn / 4u][nn % 4u] = v;
    }
    return bsum;
}

// The 64 variant's 4×4 block and, for FORM_TN, the thread's partial sum of b: column t % 64 of
// the tile, rows k ≡ t / 64 (mod 4).
struct Tiles {
    q: Block,
    bsum: f32,
}

// Slices of k the grid's z dimension runs (1 without split K).
fn splits() -> u32 {
    return max(params.splits, 1u);
}

// The k terms [x, y) workgroup slice z sums: all of them without split K. fits_split bounds
// z·kslice by k, so nothing overflows (k and kslice are at most a binding's length, 2^30).
fn k_range(z: u32) -> vec2<u32> {
    if splits() == 1u {
        return vec2<u32>(0u, params.k);
    }
    let lo = z * params.kslice;
    return vec2<u32>(lo, min(params.k, lo + params.kslice));
}

fn mm_tiles(form: u32, wg: vec3<u32>, lid: vec3<u32>) -> Tiles {
    let t = lid.y * 16u + lid.x;
    var q = zero_block();
    var bsum = 0.0;
    let ks = k_range(wg.z);
    for (var k0 = ks.x; k0 < ks.y; k0 += TILE_K) {
        bsum += load_tiles(form, t, wg.y * TILE, wg.x * TILE, k0, TILE, TILE_K);
        workgroupBarrier();
        for (var kk = 0u; kk < TILE_K; kk++) {
            let w = TILE / 4u + PAD_VEC4;
            q = outer_add(q, as_[kk * w + lid.y], bs[kk * w + lid.x]);
        }
        workgroupBarrier();
    }
    return Tiles(q, bsum);
}

// The 128 variant's four 4×4 blocks (qRC: row offset 64·R, column offset 64·C) and, for FORM_TN,
// the partial sum of b: column t % 128 of the tile, rows k ≡ t / 128 (mod 2).
struct Tiles128 {
    q00: Block,
    q01: Block,
    q10: Block,
    q11: Block,
    bsum: f32,
}

fn mm_tiles_128(form: u32, wg: vec3<u32>, lid: vec3<u32>) -> Tiles128 {
    let t = lid.y * 16u + lid.x;
    var q00 = zero_block();
    var q01 = zero_block();
    var q10 = zero_block();
    var q11 = zero_block();
    var bsum = 0.0;
    let w = TILE_128 / 4u + PAD_VEC4;
    let ks = k_range(wg.z);
    for (var k0 = ks.x; k0 < ks.y; k0 += TILE_K_128) {
        bsum += load_tiles(form, t, wg.y * TILE_128, wg.x * TILE_128, k0, TILE_128, TILE_K_128);
        workgroupBarrier();
        for (var kk = 0u; kk < TILE_K_128; kk++) {
            let a0 = as_[kk * w + lid.y];
            let a1 = as_[kk * w + 16u + lid.y];
            let b0 = bs[kk * w + lid.x];
            let b1 = bs[kk * w + 16u + lid.x];
            q00 = outer_add(q00, a0, b0);
            q01 = outer_add(q01, a0, b1);
            q10 = outer_add(q10, a1, b0);
            q11 = outer_add(q11, a1, b1);
        }
        workgroupBarrier();
    }
    return Tiles128(q00, q01, q10, q11, bsum);
}

// Whether a (rows × cols) matrix fits in an array of len elements, without overflowing u32.
fn holds(rows: u32, cols: u32, len: u32) -> bool {
    return rows == 0u || cols == 0u || (cols <= len && rows <= len / cols);
}

// fits_*: whether the bound buffers hold the shapes params gives (arrayLength: the binding's
// real size).
// Every read and write below is guarded by row < m, col < n, k < params.k and tile and thread
// bounds; this makes those guards cover the bindings too, so the module needs no runtime bounds
// checks (wgpu's create_shader_module_trusted, src/gpu/kernels.rs). A workgroup whose buffers are
// too small returns before its first barrier (params and arrayLength are uniform) and writes
// nothing; wgtrain's host code always binds enough.
// An empty c (m or n of 0) has nothing to write and no workgroup on the grid: refusing it also
// bounds k by a's length, so the k loops end without naga's loop bounding.
// With split K, c must hold S partial tiles (called after holds(m, n, c_len), so m·n does not
// overflow) and the slices must cover k exactly: kslice a non-zero multiple of TILE_K (hence of
// TILE_K_128) and at most k, (S-1)·kslice at most k (every slice starts within k) and
// S·kslice at least k (no term left out: (k-1)/kslice < S).
// One function per form: each may name only the bindings its entry points' layouts have.
fn fits_split(c_len: u32) -> bool {
    let s = splits();
    let q = params.kslice;
    return s == 1u || (q > 0u && q % TILE_K == 0u && q <= params.k && s - 1u <= params.k / q
        && (params.k - 1u) / q < s && s <= c_len / (params.m * params.n));
}

fn fits_forward() -> bool {
    let m = params.m;
    let n = params.n;
    let k = params.k;
    return m > 0u && n > 0u && holds(m, n, arrayLength(&c)) && holds(m, k, arrayLength(&a)) && holds(k, n, arrayLength(&b))
        && n <= arrayLength(&aux) && fits_split(arrayLength(&c));
}

// With split K, db holds the S·N bias partial sums.
fn fits_backward_weight() -> bool {
    let m = params.m;
    let n = params.n;
    let k = params.k;
    return m > 0u && n > 0u && holds(m, n, arrayLength(&c)) && holds(k, m, arrayLength(&a)) && holds(k, n, arrayLength(&b))
        && n <= arrayLength(&db) && fits_split(arrayLength(&c)) && splits() <= arrayLength(&db) / n;
}

fn fits_backward_input() -> bool {
    let m = params.m;
    let n = params.n;
    let k = params.k;
    return m > 0u && n > 0u && holds(m, n, arrayLength(&c)) && holds(m, k, arrayLength(&a)) && holds(n, k, arrayLength(&b))
        && holds(m, n, arrayLength(&aux)) && fits_split(arrayLength(&c));
}

// Split K: slice z's raw partial block into c's z-th (M, N) matrix, for reduce.wgsl.
fn store_partial(q: Block, row0: u32, col0: u32, z: u32) {
    let base = z * params.m * params.n;
    for (var i = 0u; i < 4u; i++) {
        let row = row0 + i;
        let v = block_row(q, i);
        for (var j = 0u; j < 4u; j++) {
            let col = col0 + j;
            if row < params.m && col < params.n {
                c[base + row * params.n + col] = v[j];
            }
        }
    }
}

// Epilogues: a 4×4 block whose first element is c[row0, col0].
fn store_forward(q: Block, row0: u32, col0: u32, z: u32) {
    if splits() > 1u {
        store_partial(q, row0, col0, z);
        return;
    }
    for (var i = 0u; i < 4u; i++) {
        let row = row0 + i;
        let v = block_row(q, i);
        for (var j = 0u; j < 4u; j++) {
            let col = col0 + j;
            if row < params.m && col < params.n {
                c[row * params.n + col] = activation_forward(v[j] + aux[col], params.act);
            }
        }
    }
}

fn store_backward_weight(q: Block, row0: u32, col0: u32, z: u32) {
    if splits() > 1u {
        store_partial(q, row0, col0, z);
        return;
    }
    for (var i = 0u; i < 4u; i++) {
        let row = row0 + i;
        let v = block_row(q, i);
        for (var j = 0u; j < 4u; j++) {
            let col = col0 + j;
            if row < params.m && col < params.n {
                let idx = row * params.n + col;
                if params.accumulate != 0u {
                    c[idx] += v[j];
                } else {
                    c[idx] = v[j];
                }
            }
        }
    }
}

fn store_backward_input(q: Block, row0: u32, col0: u32, z: u32) {
    if splits() > 1u {
        store_partial(q, row0, col0, z);
        return;
    }
    for (var i = 0u; i < 4u; i++) {
        let row = row0 + i;
        let v = block_row(q, i);
        for (var j = 0u; j < 4u; j++) {
            let col = col0 + j;
            if row < params.m && col < params.n {
                let idx = row * params.n + col;
                c[idx] = v[j] * activation_backward(aux[idx], params.act);
            }
        }
    }
}

// The bias gradient of the tile's `tile` columns from col0, called by every thread of a
// workgroup of the first row tile: threads t, t + tile, t + 2·tile, ... hold column t's partial
// sums over interleaved rows; thread t adds them in that order. With split K, slice z writes its
// sums to db[z·N + col] for reduce.wgsl.
fn store_bias(bsum: f32, t: u32, col0: u32, tile: u32, z: u32) {
    bias_part[t] = bsum;
    workgroupBarrier();
    let col = col0 + t;
    if t < tile && col < params.n {
        var s = bias_part[t];
        for (var p = t + tile; p < THREADS; p += tile) {
            s += bias_part[p];
        }
        if splits() > 1u {
            db[z * params.n + col] = s;
        } else if params.accumulate != 0u {
            db[col] += s;
        } else {
            db[col] = s;
        }
    }
}

@compute @workgroup_size(16, 16, 1)
fn matmul_forward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    if wg.z >= splits() || !fits_forward() {
        return;
    }
    let tiles = mm_tiles(FORM_NN, wg, lid);
    store_forward(tiles.q, wg.y * TILE + 4u * lid.y, wg.x * TILE + 4u * lid.x, wg.z);
}

@compute @workgroup_size(16, 16, 1)
fn matmul_backward_weight(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    if wg.z >= splits() || !fits_backward_weight() {
        return;
    }
    let tiles = mm_tiles(FORM_TN, wg, lid);
    store_backward_weight(tiles.q, wg.y * TILE + 4u * lid.y, wg.x * TILE + 4u * lid.x, wg.z);
    if wg.y == 0u {
        store_bias(tiles.bsum, lid.y * 16u + lid.x, wg.x * TILE, TILE, wg.z);
    }
}

@compute @workgroup_size(16, 16, 1)
fn matmul_backward_input(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    if wg.z >= splits() || !fits_backward_input() {
        return;
    }
    let tiles = mm_tiles(FORM_NT, wg, lid);
    store_backward_input(tiles.q, wg.y * TILE + 4u * lid.y, wg.x * TILE + 4u * lid.x, wg.z);
}

// Whether a 128-tile workgroup lies past c (dispatched on a grid of 64-tiles): the whole
// workgroup returns, so barriers stay in uniform control flow.
fn outside_128(wg: vec3<u32>) -> bool {
    return wg.x * TILE_128 >= params.n || wg.y * TILE_128 >= params.m || wg.z >= splits();
}

@compute @workgroup_size(16, 16, 1)
fn matmul_forward_128(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    if outside_128(wg) || !fits_forward() {
        return;
    }
    let tiles = mm_tiles_128(FORM_NN, wg, lid);
    let r = wg.y * TILE_128 + 4u * lid.y;
    let s = wg.x * TILE_128 + 4u * lid.x;
    store_forward(tiles.q00, r, s, wg.z);
    store_forward(tiles.q01, r, s + 64u, wg.z);
    store_forward(tiles.q10, r + 64u, s, wg.z);
    store_forward(tiles.q11, r + 64u, s + 64u, wg.z);
}

@compute @workgroup_size(16, 16, 1)
fn matmul_backward_weight_128(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    if outside_128(wg) || !fits_backward_weight() {
        return;
    }
    let tiles = mm_tiles_128(FORM_TN, wg, lid);
    let r = wg.y * TILE_128 + 4u * lid.y;
    let s = wg.x * TILE_128 + 4u * lid.x;
    store_backward_weight(tiles.q00, r, s, wg.z);
    store_backward_weight(tiles.q01, r, s + 64u, wg.z);
    store_backward_weight(tiles.q10, r + 64u, s, wg.z);
    store_backward_weight(tiles.q11, r + 64u, s + 64u, wg.z);
    if wg.y == 0u {
        store_bias(tiles.bsum, lid.y * 16u + lid.x, wg.x * TILE_128, TILE_128, wg.z);
    }
}

@compute @workgroup_size(16, 16, 1)
fn matmul_backward_input_128(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    if outside_128(wg) || !fits_backward_input() {
        return;
    }
    let tiles = mm_tiles_128(FORM_NT, wg, lid);
    let r = wg.y * TILE_128 + 4u * lid.y;
    let s = wg.x * TILE_128 + 4u * lid.x;
    store_backward_input(tiles.q00, r, s, wg.z);
    store_backward_input(tiles.q01, r, s + 64u, wg.z);
    store_backward_input(tiles.q10, r + 64u, s, wg.z);
    store_backward_input(tiles.q11, r + 64u, s + 64u, wg.z);
}
