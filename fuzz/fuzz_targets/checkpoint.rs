//! The checkpoint loader on a safetensors file's bytes: `load_bytes` (parameters), the reading
//! of files without wgtrain's metadata (`inspect_bytes`, `load_model_bytes_with`), and for
//! inputs it accepts, `load_training` (the optimiser state and run settings of `--resume`),
//! which reads a file, so those go through the temp dir (TMPDIR=/dev/shm keeps it in memory).
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use wgtrain::checkpoint;

#[global_allocator]
static ALLOC: wgtrain_fuzz::Capped = wgtrain_fuzz::Capped;

static PATH: LazyLock<PathBuf> = LazyLock::new(|| {
    std::env::temp_dir().join(format!("wgtrain-fuzz-{}.safetensors", std::process::id()))
});

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.safetensors");
    let arch = checkpoint::Arch {
        activations: Some(vec![wgtrain::Activation::Relu]),
        loss: Some(wgtrain::Loss::CrossEntropy),
        ..checkpoint::Arch::default()
    };
    if let Ok((spec, params, _)) = checkpoint::load_model_bytes_with(path, data, &arch) {
        params
            .check_shapes(&spec)
            .expect("loaded parameters fit their spec");
        let header = checkpoint::inspect_bytes(path, data).expect("a loadable file inspects");
        assert_eq!(header.sizes, spec.sizes);
    }
    let Ok((spec, params)) = checkpoint::load_bytes(path, data) else {
        return;
    };
    params
        .check_shapes(&spec)
        .expect("loaded parameters fit their spec");
    assert!(params.all_finite());
    std::fs::write(&*PATH, data).expect("temp dir writable");
    if let Ok((spec2, params2, Some(state))) = checkpoint::load_training(&PATH) {
        assert_eq!((spec2, params2), (spec.clone(), params));
        state
            .optim
            .check(&spec)
            .expect("loaded optimiser state fits its spec");
    }
});
