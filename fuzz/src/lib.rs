//! Shared by the fuzz targets: an allocator that aborts on any single allocation over a cap, so
//! that a parser sizing a buffer from what a header claims is a crash, not a slow pass. libFuzzer's
//! own `-malloc_limit_mb` needs a sanitizer's allocator, which the stable toolchain lacks.

use std::alloc::{GlobalAlloc, Layout, System};

/// No valid input of a few kilobytes needs more than this in one allocation.
pub const CAP: usize = 64 << 20;

pub struct Capped;

fn check(size: usize) {
    if size > CAP {
        eprintln!("fuzz: one allocation of {size} bytes, over the {CAP}-byte cap");
        std::process::abort();
    }
}

unsafe impl GlobalAlloc for Capped {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        check(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        check(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        check(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
