//! Every shader module, assembled as the pipeline cache assembles it (`Kernel::source`), is
//! valid WGSL without any optional capability and translates with wgpu's own naga to SPIR-V
//! (Vulkan), MSL (Metal), HLSL (DX12) and GLSL (GL ES 3.1 and desktop 4.3), for every entry point.
//! With `WGTRAIN_SHADER_OUT=dir` the translations are also written there, for the platform
//! validators CI runs on them (`spirv-val`, `glslangValidator`; see scripts/gpu-matrix.sh).

use naga::back::{glsl, hlsl, msl, spv};
use naga::proc::{BoundsCheckPolicies, BoundsCheckPolicy};
use naga::valid::{Capabilities, ValidationFlags, Validator};
use wgtrain::testing::gpu::Kernel;

/// wgpu's checks for shaders created with runtime checks (`create_shader_module`): indices
/// clamped, out-of-bounds buffer reads give zero and writes are dropped.
const CHECKED: BoundsCheckPolicies = BoundsCheckPolicies {
    index: BoundsCheckPolicy::Restrict,
    buffer: BoundsCheckPolicy::ReadZeroSkipWrite,
    image_load: BoundsCheckPolicy::Restrict,
    binding_array: BoundsCheckPolicy::Restrict,
};

/// What `create_shader_module_trusted` with `ShaderRuntimeChecks::unchecked()` asks of naga.
const UNCHECKED: BoundsCheckPolicies = BoundsCheckPolicies {
    index: BoundsCheckPolicy::Unchecked,
    buffer: BoundsCheckPolicy::Unchecked,
    image_load: BoundsCheckPolicy::Unchecked,
    binding_array: BoundsCheckPolicy::Unchecked,
};

/// Whether wgtrain compiles `file` without runtime checks (by default).
fn trusted(file: &str) -> bool {
    Kernel::ALL
        .iter()
        .any(|k| k.source().0 == file && k.guards_every_access())
}

/// The distinct modules, by file name, in the order the kernels first use them.
fn modules() -> Vec<(&'static str, &'static str)> {
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for kernel in Kernel::ALL {
        let (file, src) = kernel.source();
        if !seen.iter().any(|(f, _)| *f == file) {
            seen.push((file, src));
        }
    }
    seen
}

fn save(name: &str, contents: &[u8]) {
    if let Some(dir) = std::env::var_os("WGTRAIN_SHADER_OUT") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), contents).unwrap();
    }
}

#[test]
fn every_module_is_plain_webgpu_wgsl_and_translates_to_every_backend() {
    let modules = modules();
    assert_eq!(
        modules.len(),
        6,
        "matmul, reduce, gather, loss, sgd and optim modules expected"
    );
    let mut translated = 0;
    let mut trusted_translated = 0;
    for (file, src) in modules {
        let module = naga::front::wgsl::parse_str(src)
            .unwrap_or_else(|e| panic!("{file}: {}", e.emit_to_string(src)));
        // No capability at all: what every WebGPU implementation must accept.
        let info = Validator::new(ValidationFlags::all(), Capabilities::empty())
            .validate(&module)
            .unwrap_or_else(|e| panic!("{file}: {}", e.emit_to_string(src)));
        assert!(!module.entry_points.is_empty(), "{file}: no entry point");
        for ep in &module.entry_points {
            let name = &ep.name;
            assert_eq!(ep.stage, naga::ShaderStage::Compute, "{file}: {name}");
            let what = format!("{file}: {name}");

            let spv_options = spv::Options {
                bounds_check_policies: CHECKED,
                zero_initialize_workgroup_memory: spv::ZeroInitializeWorkgroupMemoryMode::None,
                ..Default::default()
            };
            let words = spv::write_vec(
                &module,
                &info,
                &spv_options,
                Some(&spv::PipelineOptions {
                    shader_stage: naga::ShaderStage::Compute,
                    entry_point: name.clone(),
                }),
            )
            .unwrap_or_else(|e| panic!("{what} to SPIR-V: {e}"));
            assert_eq!(words.first(), Some(&0x0723_0203), "{what}: SPIR-V magic");
            save(&format!("{name}.spv"), bytemuck::cast_slice(&words));
            if trusted(file) {
                // What Vulkan runs for a module created without runtime checks
                // (create_shader_module_trusted): no clamps, no loop bounding.
                let options = spv::Options {
                    bounds_check_policies: UNCHECKED,
                    force_loop_bounding: false,
                    ..spv_options.clone()
                };
                let words = spv::write_vec(
                    &module,
                    &info,
                    &options,
                    Some(&spv::PipelineOptions {
                        shader_stage: naga::ShaderStage::Compute,
                        entry_point: name.clone(),
                    }),
                )
                .unwrap_or_else(|e| panic!("{what} to SPIR-V without runtime checks: {e}"));
                assert_eq!(words.first(), Some(&0x0723_0203), "{what}: SPIR-V magic");
                save(&format!("{name}.trusted.spv"), bytemuck::cast_slice(&words));
                trusted_translated += 1;
            }

            let msl_options = msl::Options {
                bounds_check_policies: CHECKED,
                zero_initialize_workgroup_memory: false,
                ..Default::default()
            };
            let (metal, _) = msl::write_string(
                &module,
                &info,
                &msl_options,
                &msl::PipelineOptions {
                    entry_point: Some((naga::ShaderStage::Compute, name.clone())),
                    ..Default::default()
                },
            )
            .unwrap_or_else(|e| panic!("{what} to MSL: {e}"));
            assert!(metal.contains("kernel void"), "{what}: no MSL kernel");
            save(&format!("{name}.metal"), metal.as_bytes());

            let hlsl_options = hlsl::Options {
                restrict_indexing: true,
                zero_initialize_workgroup_memory: false,
                ..Default::default()
            };
            let hlsl_pipeline = hlsl::PipelineOptions {
                entry_point: Some((naga::ShaderStage::Compute, name.clone())),
            };
            let mut hlsl_text = String::new();
            hlsl::Writer::new(&mut hlsl_text, &hlsl_options, &hlsl_pipeline)
                .write(&module, &info, None)
                .unwrap_or_else(|e| panic!("{what} to HLSL: {e}"));
            assert!(hlsl_text.contains("[numthreads("), "{what}: no HLSL kernel");
            save(&format!("{name}.hlsl"), hlsl_text.as_bytes());

            for (version, ext) in [
                (
                    glsl::Version::Embedded {
                        version: 310,
                        is_webgl: false,
                    },
                    "es.comp",
                ),
                (glsl::Version::Desktop(430), "comp"),
            ] {
                let options = glsl::Options {
                    version,
                    writer_flags: glsl::WriterFlags::empty(),
                    zero_initialize_workgroup_memory: false,
                    ..Default::default()
                };
                let pipeline = glsl::PipelineOptions {
                    shader_stage: naga::ShaderStage::Compute,
                    entry_point: name.clone(),
                    multiview: None,
                };
                let mut text = String::new();
                glsl::Writer::new(&mut text, &module, &info, &options, &pipeline, CHECKED)
                    .and_then(|mut w| w.write())
                    .unwrap_or_else(|e| panic!("{what} to GLSL {version}: {e}"));
                assert!(text.contains("void main()"), "{what}: no GLSL main");
                save(&format!("{name}.{ext}"), text.as_bytes());
            }
            translated += 1;
        }
    }
    // 3 matmul forms in 2 variants, 3 split-K reductions, gather, 2 loss, sgd, momentum and adam.
    assert!(
        translated >= 15,
        "only {translated} entry points translated"
    );
    // The matmul, reduce, sgd and optim entry points, compiled without runtime checks.
    assert!(
        trusted_translated >= 12,
        "only {trusted_translated} trusted entry points translated"
    );
}

/// WebGPU's default `max_compute_workgroup_storage_size`, at which the device is opened.
const DEFAULT_WORKGROUP_STORAGE: u32 = 16 * 1024;

/// Bytes of workgroup memory each entry point uses, from naga's analysis of the module.
fn workgroup_bytes(src: &str) -> Vec<(String, u32)> {
    let module = naga::front::wgsl::parse_str(src).unwrap();
    let info = Validator::new(ValidationFlags::all(), Capabilities::empty())
        .validate(&module)
        .unwrap();
    (0..module.entry_points.len())
        .map(|i| {
            let ep = info.get_entry_point(i);
            let bytes = module
                .global_variables
                .iter()
                .filter(|(h, g)| g.space == naga::AddressSpace::WorkGroup && !ep[*h].is_empty())
                .map(|(_, g)| module.types[g.ty].inner.size(module.to_ctx()))
                .sum();
            (module.entry_points[i].name.clone(), bytes)
        })
        .collect()
}

#[test]
fn every_entry_point_fits_webgpu_default_workgroup_storage() {
    let mut matmul_seen = 0;
    for (file, src) in modules() {
        for (name, bytes) in workgroup_bytes(src) {
            assert!(
                bytes <= DEFAULT_WORKGROUP_STORAGE,
                "{file}: {name} uses {bytes} bytes of workgroup memory, over WebGPU's default {DEFAULT_WORKGROUP_STORAGE}"
            );
            if name.starts_with("matmul_") {
                // The padded tiles (2 × 272 vec4s) and, where used, the bias partial sums.
                assert!(
                    bytes >= 2 * 272 * 16,
                    "{name}: {bytes} bytes, tiles not padded?"
                );
                matmul_seen += 1;
            }
        }
    }
    assert_eq!(matmul_seen, 6, "3 matmul forms in 2 variants expected");
}
