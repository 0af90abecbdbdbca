//! A packed 6x16 AVX2 GEMM blocked as BLIS blocks it (KC x NC of B packed into 16-column
//! panels, MC x KC of A into 6-row panels), on one or two threads: `gemm1`, `gemm2` (B shared),
//! `gemm2c` / `gemm2r` (split by columns / rows, each thread its own packing).
use std::arch::x86_64::*;
pub const MR: usize = 6;
pub const NR: usize = 16;
fn env(name: &str, d: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(d)
}

/// A cache line of floats: packed buffers as Vec<Line> start on a line (read as raw f32s).
#[allow(dead_code)]
#[repr(align(64))]
#[derive(Clone, Copy)]
struct Line([f32; 16]);
fn buf(len: usize) -> Vec<Line> {
    vec![Line([0.0; 16]); len.div_ceil(16)]
}

/// Pack rows r0..r0+mc, depth p0..p0+kc of A into MR-row panels ([p][MR]), zero padded.
unsafe fn pack_a(
    a: *const f32,
    ars: usize,
    acs: usize,
    r0: usize,
    mc: usize,
    p0: usize,
    kc: usize,
    dst: *mut f32,
) {
    let mut d = dst;
    for ir in (0..mc).step_by(MR) {
        let rows = MR.min(mc - ir);
        if acs == 1 {
            for i in 0..MR {
                if i < rows {
                    let src = a.add((r0 + ir + i) * ars + p0);
                    for p in 0..kc {
                        *d.add(p * MR + i) = *src.add(p);
                    }
                } else {
                    for p in 0..kc {
                        *d.add(p * MR + i) = 0.0;
                    }
                }
            }
        } else {
            for p in 0..kc {
                let src = a.add((r0 + ir) * ars + (p0 + p) * acs);
                for i in 0..MR {
                    *d.add(p * MR + i) = if i < rows { *src.add(i * ars) } else { 0.0 };
                }
            }
        }
        d = d.add(kc * MR);
    }
}

/// Pack depth p0..p0+kc, columns c0..c0+nc of B into NR-column panels ([p][NR]), zero padded.
unsafe fn pack_b(
    b: *const f32,
    brs: usize,
    bcs: usize,
    p0: usize,
    kc: usize,
    c0: usize,
    nc: usize,
    dst: *mut f32,
) {
    let mut d = dst;
    for jr in (0..nc).step_by(NR) {
        let cols = NR.min(nc - jr);
        if bcs == 1 {
            for p in 0..kc {
                let src = b.add((p0 + p) * brs + c0 + jr);
                for j in 0..NR {
                    *d.add(p * NR + j) = if j < cols { *src.add(j) } else { 0.0 };
                }
            }
        } else {
            for j in 0..NR {
                if j < cols {
                    let src = b.add(p0 * brs + (c0 + jr + j) * bcs);
                    for p in 0..kc {
                        *d.add(p * NR + j) = *src.add(p * brs);
                    }
                } else {
                    for p in 0..kc {
                        *d.add(p * NR + j) = 0.0;
                    }
                }
            }
        }
        d = d.add(kc * NR);
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn kernel(
    kc: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    crs: usize,
    rows: usize,
    cols: usize,
    accumulate: bool,
) {
    let mut acc = [_mm256_setzero_ps(); 12];
    let [mut c00, mut c01, mut c10, mut c11, mut c20, mut c21, mut c30, mut c31, mut c40, mut c41, mut c50, mut c51] =
        acc;
    let (mut a, mut b) = (a, b);
    for _ in 0..kc {
        let b0 = _mm256_load_ps(b);
        let b1 = _mm256_load_ps(b.add(8));
        _mm_prefetch::<_MM_HINT_T0>(a.add(64) as *const i8);
        let x = _mm256_broadcast_ss(&*a);
        c00 = _mm256_fmadd_ps(x, b0, c00);
        c01 = _mm256_fmadd_ps(x, b1, c01);
        let x = _mm256_broadcast_ss(&*a.add(1));
        c10 = _mm256_fmadd_ps(x, b0, c10);
        c11 = _mm256_fmadd_ps(x, b1, c11);
        let x = _mm256_broadcast_ss(&*a.add(2));
        c20 = _mm256_fmadd_ps(x, b0, c20);
        c21 = _mm256_fmadd_ps(x, b1, c21);
        let x = _mm256_broadcast_ss(&*a.add(3));
        c30 = _mm256_fmadd_ps(x, b0, c30);
        c31 = _mm256_fmadd_ps(x, b1, c31);
        let x = _mm256_broadcast_ss(&*a.add(4));
        c40 = _mm256_fmadd_ps(x, b0, c40);
        c41 = _mm256_fmadd_ps(x, b1, c41);
        let x = _mm256_broadcast_ss(&*a.add(5));
        c50 = _mm256_fmadd_ps(x, b0, c50);
        c51 = _mm256_fmadd_ps(x, b1, c51);
        a = a.add(MR);
        b = b.add(NR);
    }
    acc = [c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51];
    if rows == MR && cols == NR {
        for i in 0..MR {
            let r = c.add(i * crs);
            let (mut v0, mut v1) = (acc[2 * i], acc[2 * i + 1]);
            if accumulate {
                v0 = _mm256_add_ps(v0, _mm256_loadu_ps(r));
                v1 = _mm256_add_ps(v1, _mm256_loadu_ps(r.add(8)));
            }
            _mm256_storeu_ps(r, v0);
            _mm256_storeu_ps(r.add(8), v1);
        }
    } else {
        let mut t = [0f32; MR * NR];
        for i in 0..MR {
            _mm256_storeu_ps(t.as_mut_ptr().add(i * NR), acc[2 * i]);
            _mm256_storeu_ps(t.as_mut_ptr().add(i * NR + 8), acc[2 * i + 1]);
        }
        for i in 0..rows {
            for j in 0..cols {
                let p = c.add(i * crs + j);
                *p = if accumulate {
                    *p + t[i * NR + j]
                } else {
                    t[i * NR + j]
                };
            }
        }
    }
}

/// Pointers handed to the other thread (a, b, c, a packed buffer).
#[derive(Clone, Copy)]
struct S(*const f32, *const f32, *mut f32, *mut f32);
unsafe impl Send for S {}
unsafe impl Sync for S {}

/// Rows r0..r1 of C for one packed B block (depth p0..p0+kc, cols c0..c0+nc).
unsafe fn rows_part(
    a: *const f32,
    ars: usize,
    acs: usize,
    bp: *const f32,
    c: *mut f32,
    crs: usize,
    r0: usize,
    r1: usize,
    p0: usize,
    kc: usize,
    c0: usize,
    nc: usize,
    apack: *mut f32,
    mc_blk: usize,
) {
    for ic in (r0..r1).step_by(mc_blk) {
        let mc = mc_blk.min(r1 - ic);
        pack_a(a, ars, acs, ic, mc, p0, kc, apack);
        for jr in (0..nc).step_by(NR) {
            let bpanel = bp.add(jr * kc);
            for ir in (0..mc).step_by(MR) {
                kernel(
                    kc,
                    apack.add(ir * kc),
                    bpanel,
                    c.add((ic + ir) * crs + c0 + jr),
                    crs,
                    MR.min(mc - ir),
                    NR.min(nc - jr),
                    p0 > 0,
                );
            }
        }
    }
}

pub unsafe fn gemm_t(
    threads: usize,
    m: usize,
    k: usize,
    n: usize,
    a: *const f32,
    ars: usize,
    acs: usize,
    b: *const f32,
    brs: usize,
    bcs: usize,
    c: *mut f32,
    crs: usize,
) {
    let (kc_blk, mc_blk, nc_blk) = (env("KC", 1024), env("MC", 24), env("NC", 4080));
    let mut bpack = buf(kc_blk * nc_blk.min(n.next_multiple_of(NR)));
    let mut apacks: Vec<Vec<Line>> = (0..threads)
        .map(|_| buf(kc_blk * mc_blk.next_multiple_of(MR)))
        .collect();
    for jc in (0..n).step_by(nc_blk) {
        let nc = nc_blk.min(n - jc);
        for p0 in (0..k).step_by(kc_blk) {
            let kc = kc_blk.min(k - p0);
            let bp = bpack.as_mut_ptr() as *mut f32;
            let panels = nc.div_ceil(NR);
            let s = S(a, b, c, bp);
            let apk: Vec<S> = apacks
                .iter_mut()
                .map(|v| {
                    S(
                        std::ptr::null(),
                        std::ptr::null(),
                        std::ptr::null_mut(),
                        v.as_mut_ptr() as *mut f32,
                    )
                })
                .collect();
            if threads == 1 {
                pack_b(b, brs, bcs, p0, kc, jc, nc, bp);
                rows_part(
                    a, ars, acs, bp, c, crs, 0, m, p0, kc, jc, nc, apk[0].3, mc_blk,
                );
            } else {
                let half = panels / 2 * NR;
                rayon::join(
                    move || {
                        let s = s;
                        pack_b(s.1, brs, bcs, p0, kc, jc, half, s.3)
                    },
                    move || {
                        let s = s;
                        pack_b(
                            s.1,
                            brs,
                            bcs,
                            p0,
                            kc,
                            jc + half,
                            nc - half,
                            s.3.add(half * kc),
                        )
                    },
                );
                let mid = (m / 2).next_multiple_of(MR).min(m);
                let (x, y) = (apk[0], apk[1]);
                rayon::join(
                    move || {
                        let (s, x) = (s, x);
                        rows_part(
                            s.0, ars, acs, s.3, s.2, crs, 0, mid, p0, kc, jc, nc, x.3, mc_blk,
                        )
                    },
                    move || {
                        let (s, y) = (s, y);
                        rows_part(
                            s.0, ars, acs, s.3, s.2, crs, mid, m, p0, kc, jc, nc, y.3, mc_blk,
                        )
                    },
                );
            }
        }
    }
}
pub unsafe fn gemm1(
    m: usize,
    k: usize,
    n: usize,
    a: *const f32,
    ars: usize,
    acs: usize,
    b: *const f32,
    brs: usize,
    bcs: usize,
    c: *mut f32,
    crs: usize,
) {
    gemm_t(1, m, k, n, a, ars, acs, b, brs, bcs, c, crs)
}
pub unsafe fn gemm2(
    m: usize,
    k: usize,
    n: usize,
    a: *const f32,
    ars: usize,
    acs: usize,
    b: *const f32,
    brs: usize,
    bcs: usize,
    c: *mut f32,
    crs: usize,
) {
    gemm_t(2, m, k, n, a, ars, acs, b, brs, bcs, c, crs)
}
/// Two threads, each its own packing: split by columns (`by_cols`) or rows of the output.
unsafe fn gemm2_split(
    by_cols: bool,
    m: usize,
    k: usize,
    n: usize,
    a: *const f32,
    ars: usize,
    acs: usize,
    b: *const f32,
    brs: usize,
    bcs: usize,
    c: *mut f32,
    crs: usize,
) {
    let s = S(a, b, c, std::ptr::null_mut());
    // The second half: columns from `half` (b and c move along), or rows (a and c move down).
    let (half, second) = if by_cols {
        let h = (n / 2).next_multiple_of(NR).min(n);
        (
            h,
            (m, n - h, unsafe { b.add(h * bcs) }, a, unsafe { c.add(h) }),
        )
    } else {
        let h = (m / 2).next_multiple_of(MR).min(m);
        (
            h,
            (m - h, n, b, unsafe { a.add(h * ars) }, unsafe {
                c.add(h * crs)
            }),
        )
    };
    let (m1, n1) = if by_cols { (m, half) } else { (half, n) };
    let t = S(second.3, second.2, second.4, std::ptr::null_mut());
    let (m2, n2) = (second.0, second.1);
    rayon::join(
        move || {
            let s = s;
            unsafe { gemm_t(1, m1, k, n1, s.0, ars, acs, s.1, brs, bcs, s.2, crs) }
        },
        move || {
            let t = t;
            unsafe { gemm_t(1, m2, k, n2, t.0, ars, acs, t.1, brs, bcs, t.2, crs) }
        },
    );
}

pub unsafe fn gemm2c(
    m: usize,
    k: usize,
    n: usize,
    a: *const f32,
    ars: usize,
    acs: usize,
    b: *const f32,
    brs: usize,
    bcs: usize,
    c: *mut f32,
    crs: usize,
) {
    unsafe { gemm2_split(true, m, k, n, a, ars, acs, b, brs, bcs, c, crs) }
}

pub unsafe fn gemm2r(
    m: usize,
    k: usize,
    n: usize,
    a: *const f32,
    ars: usize,
    acs: usize,
    b: *const f32,
    brs: usize,
    bcs: usize,
    c: *mut f32,
    crs: usize,
) {
    unsafe { gemm2_split(false, m, k, n, a, ars, acs, b, brs, bcs, c, crs) }
}
