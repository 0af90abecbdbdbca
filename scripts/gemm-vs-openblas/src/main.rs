//! T2's GEMM shapes timed side by side in one process, alternating variants round by round
//! (this host's noise is ±15%): best of four calls per variant per round, then the median and
//! maximum over rounds, in GFLOP/s. Each result is checked against OpenBLAS's.
// Raw GEMM operands passed BLAS-style (a measurement program, not the library's API).
#![allow(clippy::too_many_arguments)]

use std::time::Instant;
mod packed;
extern "C" {
    fn cblas_sgemm(
        order: i32,
        ta: i32,
        tb: i32,
        m: i32,
        n: i32,
        k: i32,
        alpha: f32,
        a: *const f32,
        lda: i32,
        b: *const f32,
        ldb: i32,
        beta: f32,
        c: *mut f32,
        ldc: i32,
    );
}
#[derive(Clone, Copy)]
struct P {
    m: usize,
    k: usize,
    n: usize,
    a: *const f32,
    a_rs: usize,
    a_cs: usize,
    b: *const f32,
    b_rs: usize,
    b_cs: usize,
    c: *mut f32,
}
unsafe impl Send for P {}
unsafe impl Sync for P {}
unsafe fn crate_gemm(p: P, par: gemm::Parallelism) {
    gemm::gemm(
        p.m,
        p.n,
        p.k,
        p.c,
        1,
        p.n as isize,
        false,
        p.a,
        p.a_cs as isize,
        p.a_rs as isize,
        p.b,
        p.b_cs as isize,
        p.b_rs as isize,
        0.0,
        1.0,
        false,
        false,
        false,
        par,
    )
}
/// OpenBLAS's c = a·b for `p`'s operands in `form` ("nn", "tn": a transposed, "nt": b
/// transposed), into `c`.
unsafe fn blas(p: P, form: &str, c: *mut f32) {
    let (ta, tb) = (form == "tn", form == "nt");
    unsafe {
        cblas_sgemm(
            101,
            if ta { 112 } else { 111 },
            if tb { 112 } else { 111 },
            p.m as i32,
            p.n as i32,
            p.k as i32,
            1.0,
            p.a,
            if ta { p.m } else { p.k } as i32,
            p.b,
            if tb { p.k } else { p.n } as i32,
            0.0,
            c,
            p.n as i32,
        )
    }
}

fn rows(p: P, r0: usize, r1: usize) -> P {
    P {
        m: r1 - r0,
        a: p.a.wrapping_add(r0 * p.a_rs),
        c: p.c.wrapping_add(r0 * p.n),
        ..p
    }
}
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rounds: usize = args.get(1).map(|s| s.parse().unwrap()).unwrap_or(5);
    let variants: Vec<String> = args
        .get(2)
        .map(|s| s.split(',').map(String::from).collect())
        .unwrap_or(vec![
            "blas".into(),
            "rayon".into(),
            "split".into(),
            "packed".into(),
        ]);
    let shapes = [
        (1024usize, 784usize, 1024usize, "nn"),
        (784, 1024, 1024, "tn"),
        (1024, 1024, 1024, "nn"),
        (1024, 1024, 1024, "tn"),
        (1024, 1024, 1024, "nt"),
    ];
    let big = vec![0.5f32; 1024 * 1024];
    let a: Vec<f32> = (0..1024 * 1024)
        .map(|i| ((i * 7 % 13) as f32 - 6.0) / 8.0)
        .collect();
    let b: Vec<f32> = (0..1024 * 1024)
        .map(|i| ((i * 5 % 11) as f32 - 5.0) / 8.0)
        .collect();
    let mut c = big.clone();
    let mut c2 = big.clone();
    let mut res: Vec<Vec<Vec<f64>>> = vec![vec![vec![]; variants.len()]; shapes.len()];
    for _ in 0..rounds {
        for (si, &(m, k, n, form)) in shapes.iter().enumerate() {
            let (a_rs, a_cs) = if form == "tn" { (1, m) } else { (k, 1) };
            let (b_rs, b_cs) = if form == "nt" { (1, k) } else { (n, 1) };
            let p = P {
                m,
                k,
                n,
                a: a.as_ptr(),
                a_rs,
                a_cs,
                b: b.as_ptr(),
                b_rs,
                b_cs,
                c: c.as_mut_ptr(),
            };
            for (vi, v) in variants.iter().enumerate() {
                let mut best = f64::MAX;
                for _ in 0..4 {
                    let t = Instant::now();
                    unsafe {
                        match v.as_str() {
                            "blas" => blas(p, form, p.c),
                            "rayon" => crate_gemm(p, gemm::Parallelism::Rayon(2)),
                            "split" => {
                                rayon::join(
                                    || crate_gemm(rows(p, 0, m / 2), gemm::Parallelism::None),
                                    || crate_gemm(rows(p, m / 2, m), gemm::Parallelism::None),
                                );
                            }
                            "crate-1" => crate_gemm(p, gemm::Parallelism::None),
                            "packed" => packed::gemm2(
                                p.m, p.k, p.n, p.a, p.a_rs, p.a_cs, p.b, p.b_rs, p.b_cs, p.c, p.n,
                            ),
                            "packed-cols" => packed::gemm2c(
                                p.m, p.k, p.n, p.a, p.a_rs, p.a_cs, p.b, p.b_rs, p.b_cs, p.c, p.n,
                            ),
                            "packed-rows" => packed::gemm2r(
                                p.m, p.k, p.n, p.a, p.a_rs, p.a_cs, p.b, p.b_rs, p.b_cs, p.c, p.n,
                            ),
                            "packed-1" => packed::gemm1(
                                p.m, p.k, p.n, p.a, p.a_rs, p.a_cs, p.b, p.b_rs, p.b_cs, p.c, p.n,
                            ),
                            _ => panic!(),
                        }
                    }
                    best = best.min(t.elapsed().as_secs_f64());
                }
                res[si][vi].push(2.0 * (m * k * n) as f64 / best / 1e9);
                if v != "blas" {
                    // check against blas
                    unsafe { blas(p, form, c2.as_mut_ptr()) };
                    let err = c[..m * n]
                        .iter()
                        .zip(&c2[..m * n])
                        .map(|(x, y)| (x - y).abs())
                        .fold(0f32, f32::max);
                    assert!(err < 1e-2, "{v} {m}x{k}x{n} {form}: err {err}");
                }
            }
        }
    }
    for (si, &(m, k, n, form)) in shapes.iter().enumerate() {
        let mut line = format!("{m}x{k}x{n} {form}:");
        for (vi, v) in variants.iter().enumerate() {
            let mut r = res[si][vi].clone();
            r.sort_by(|x, y| x.partial_cmp(y).unwrap());
            line += &format!("  {v} med {:.0} max {:.0}", r[r.len() / 2], r[r.len() - 1]);
        }
        println!("{line}");
    }
}
