//! The CPU's fp32 peak, measured: every thread runs independent chains of vector FMAs (enough
//! chains to cover the FMA latency on every port), nothing else. What the benchmarks achieve is
//! reported as a fraction of it, so a figure reads the same on any CPU.

use std::hint::black_box;
use web_time::Instant;

/// A measured peak.
#[derive(Clone, Copy, Debug)]
pub struct Peak {
    /// Measured fp32 FMA throughput of all `threads` together, in GFLOP/s (an FMA counts 2).
    pub gflops: f64,
    /// The instruction set measured ("AVX-512", "AVX2+FMA").
    pub isa: &'static str,
    /// Threads that ran the chains at once (at least 1).
    pub threads: usize,
}

/// Independent accumulator chains per thread: latency 4 × 2 FMA ports needs 8; 12 leaves room.
const CHAINS: usize = 12;

/// Measures the fp32 FMA peak of `threads` threads in about a quarter of a second. None where
/// there is no vector FMA this knows how to drive (not x86-64, or x86-64 without FMA).
pub fn measure(threads: usize) -> Option<Peak> {
    let (isa, lanes, run) = kernel()?;
    let threads = threads.max(1);
    let time = |iters: u64| {
        let t = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| black_box(run(black_box(iters))));
            }
        });
        t.elapsed().as_secs_f64()
    };
    // A short run to bring the cores up to speed and size the real ones; then the fastest of
    // three, since anything else running can only slow a run down.
    let probe = 1 << 20;
    let iters = (probe as f64 * 0.08 / time(probe).max(1e-6)).max(probe as f64) as u64;
    let secs = (0..3).map(|_| time(iters)).fold(f64::INFINITY, f64::min);
    let flops = 2.0 * (CHAINS * lanes) as f64 * iters as f64 * threads as f64;
    Some(Peak {
        gflops: flops / secs / 1e9,
        isa,
        threads,
    })
}

type Run = fn(u64) -> f32;

#[cfg(target_arch = "x86_64")]
fn kernel() -> Option<(&'static str, usize, Run)> {
    if is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F (checked above).
        Some(("AVX-512", 16, |n| unsafe { fma_avx512(n) }))
    } else if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has AVX2 and FMA (checked above).
        Some(("AVX2+FMA", 8, |n| unsafe { fma_avx2(n) }))
    } else {
        None
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn kernel() -> Option<(&'static str, usize, Run)> {
    None
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn fma_avx512(iters: u64) -> f32 {
    use std::arch::x86_64::*;
    let b = _mm512_set1_ps(black_box(0.999_999));
    let c = _mm512_set1_ps(black_box(1e-7));
    let mut acc = [_mm512_set1_ps(black_box(1.0)); CHAINS];
    for _ in 0..iters {
        for a in acc.iter_mut() {
            *a = _mm512_fmadd_ps(*a, b, c);
        }
    }
    acc.iter().map(|&a| _mm512_reduce_add_ps(a)).sum()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn fma_avx2(iters: u64) -> f32 {
    use std::arch::x86_64::*;
    let b = _mm256_set1_ps(black_box(0.999_999));
    let c = _mm256_set1_ps(black_box(1e-7));
    let mut acc = [_mm256_set1_ps(black_box(1.0)); CHAINS];
    for _ in 0..iters {
        for a in acc.iter_mut() {
            *a = _mm256_fmadd_ps(*a, b, c);
        }
    }
    let mut lanes = [0f32; 8];
    acc.iter()
        .map(|&a| {
            // SAFETY: `lanes` holds 8 floats.
            unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), a) };
            lanes.iter().sum::<f32>()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The measurement runs and gives a plausible figure: at least a few GFLOP/s per thread
    /// (any vector FMA unit), and no more than a CPU could (2 ports × 16 lanes × 2 flops at
    /// under 10 GHz is 640 GFLOP/s per core).
    #[test]
    fn the_measured_peak_is_plausible() {
        let Some(p) = measure(1) else {
            return;
        };
        assert!(p.gflops > 4.0 && p.gflops < 640.0, "{p:?}");
    }
}
