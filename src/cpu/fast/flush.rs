//! Subnormal f32 values flushed to zero on the fast path's threads, as GPUs do.
//!
//! Rows of dead ReLUs give exactly-zero gradients, so Adam's moments (and, with L2, the weights)
//! decay geometrically into the subnormal range, where every operation that touches them takes
//! tens to hundreds of cycles on x86-64 (a microcode assist) instead of one: a 100-epoch Adam
//! run slowed down 2-40x as it went on. With flush-to-zero (a subnormal result becomes 0) and
//! denormals-are-zero (a subnormal input reads as 0) the cost stays flat. Values below
//! `f32::MIN_POSITIVE` (1.2e-38) only ever change the low bits of sums with normal values, so
//! the results differ from IEEE's only below that scale. The f64 reference is never flushed.
//!
//! `Flush::on` sets both modes on the calling thread and restores what the thread had when it
//! drops, so a library caller's own floating-point state is left as it was; the team's worker
//! threads (the fast path's own) keep the modes for their whole life.

/// The calling thread's floating-point control state while a `Flush` lives; restored on drop.
pub(crate) struct Flush {
    saved: Option<u64>,
}

impl Flush {
    /// Flushes subnormal f32 results and inputs to zero on this thread until the guard drops.
    /// Does nothing on targets without such a mode (the results are then exact IEEE).
    pub(crate) fn on() -> Flush {
        let saved = imp::get();
        if let Some(s) = saved {
            imp::set(s | imp::FLUSH_BITS);
        }
        Flush { saved }
    }

    /// Whether this thread flushes subnormals now.
    #[cfg(test)]
    pub(crate) fn active() -> bool {
        imp::get().is_some_and(|s| s & imp::FLUSH_BITS == imp::FLUSH_BITS)
    }
}

impl Drop for Flush {
    fn drop(&mut self) {
        if let Some(s) = self.saved {
            imp::set(s);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod imp {
    /// MXCSR's flush-to-zero (bit 15) and denormals-are-zero (bit 6).
    pub(super) const FLUSH_BITS: u64 = (1 << 15) | (1 << 6);

    pub(super) fn get() -> Option<u64> {
        let mut csr: u32 = 0;
        // SAFETY: stmxcsr stores the SSE control/status register (present on every x86-64) to
        // the 4 bytes given; nothing else is touched.
        unsafe {
            std::arch::asm!("stmxcsr [{}]", in(reg) &mut csr, options(nostack, preserves_flags));
        }
        Some(u64::from(csr))
    }

    pub(super) fn set(v: u64) {
        let csr = v as u32;
        // SAFETY: ldmxcsr loads a value read by `get` with only the two mode bits changed; both
        // are defined on every x86-64 with SSE2 (DAZ since the Pentium 4).
        unsafe {
            std::arch::asm!("ldmxcsr [{}]", in(reg) &csr, options(nostack, readonly, preserves_flags));
        }
    }
}

#[cfg(target_arch = "aarch64")]
mod imp {
    /// FPCR's FZ bit: subnormal inputs and results of single- and double-precision operations
    /// are flushed to zero (AArch64 has no separate denormals-are-zero bit).
    pub(super) const FLUSH_BITS: u64 = 1 << 24;

    pub(super) fn get() -> Option<u64> {
        let fpcr: u64;
        // SAFETY: reading FPCR has no side effect.
        unsafe {
            std::arch::asm!("mrs {}, fpcr", out(reg) fpcr, options(nomem, nostack, preserves_flags));
        }
        Some(fpcr)
    }

    pub(super) fn set(v: u64) {
        // SAFETY: writes back a value read by `get` with only FZ changed.
        unsafe {
            std::arch::asm!("msr fpcr, {}", in(reg) v, options(nomem, nostack, preserves_flags));
        }
    }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
mod imp {
    pub(super) const FLUSH_BITS: u64 = 0;

    pub(super) fn get() -> Option<u64> {
        None
    }

    pub(super) fn set(_: u64) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A subnormal f32 through an operation the optimiser does (a decay), kept from being folded
    /// at compile time.
    fn decayed(x: f32) -> f32 {
        std::hint::black_box(x) * std::hint::black_box(0.5)
    }

    #[test]
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    fn subnormal_results_are_zero_while_on_and_ieee_after() {
        let tiny = f32::MIN_POSITIVE; // the smallest normal; half of it is subnormal
        assert!(!Flush::active(), "the test thread starts without flushing");
        assert!(decayed(tiny) > 0.0 && !decayed(tiny).is_normal());
        {
            let _flush = Flush::on();
            assert!(Flush::active());
            assert_eq!(decayed(tiny), 0.0, "a subnormal result is flushed");
            assert_eq!(decayed(2.0 * tiny), tiny, "normal results are exact");
            {
                let _inner = Flush::on();
                assert!(Flush::active());
            }
            assert!(Flush::active(), "an inner guard restores the outer's state");
        }
        assert!(!Flush::active(), "the caller's state comes back");
        assert!(decayed(tiny) > 0.0, "IEEE subnormals again after the guard");
    }
}
