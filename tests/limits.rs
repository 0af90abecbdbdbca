//! The limits the GPU path depends on: it trains on a device opened with WebGPU's default
//! limits (what every WebGPU implementation offers), refuses a downlevel device with the name of
//! the limit it lacks, and never binds more than a u32 byte offset can address.

mod common;

use common::{NETWORK, adapter, assert_close};
use wgtrain::cpu::reference::{self, Net64, widen};
use wgtrain::data::{Dataset, Inputs, Targets};
use wgtrain::gpu::context::{MAX_BINDING, required_limits};
use wgtrain::gpu::tuning::Setting;
use wgtrain::gpu::{GpuContext, MatmulVariant};
use wgtrain::model::{Activation, Loss, Output, Params, Spec};
use wgtrain::testing::gpu::GpuTrainer;
use wgtrain::testing::train::{Backend, Hyper};

const N: usize = 37;
const INPUTS: usize = 9;
/// More than 64 classes: the loss takes its wide-row path (one workgroup per row).
const CLASSES: usize = 70;

fn spec() -> Spec {
    Spec::new(
        vec![INPUTS, 33, CLASSES],
        vec![Activation::Relu],
        Output::Softmax,
        Loss::CrossEntropy,
    )
    .unwrap()
}

fn data() -> Dataset {
    let x: Vec<u8> = (0..N * INPUTS).map(|i| (i * 53 % 241) as u8).collect();
    let labels = (0..N).map(|i| ((i * 11) % CLASSES) as u32).collect();
    Dataset::with_inputs(
        "bytes",
        Inputs::U8 {
            data: x,
            scale: 1.0 / 255.0,
        },
        N,
        INPUTS,
        Targets::Classes {
            labels,
            n_classes: CLASSES,
        },
    )
    .unwrap()
}

fn flat(p: &Params) -> Vec<f32> {
    p.layers
        .iter()
        .flat_map(|l| l.w.iter().chain(&l.b).copied())
        .collect()
}

#[test]
fn training_at_webgpu_default_limits_matches_the_reference() {
    let test = "training_at_webgpu_default_limits_matches_the_reference";
    for variant in MatmulVariant::ALL {
        let Some(a) = adapter(test) else { return };
        let ctx = GpuContext::with_limits(a, wgpu::Limits::default()).unwrap();
        assert_eq!(ctx.limits, wgpu::Limits::default());
        let (spec, d) = (spec(), data());
        let params = common::parameters(&spec, 5);
        let force = Setting::Force(variant);
        let mut t = GpuTrainer::with_matmul(ctx, &spec, &params, &d, [&d], N, force).unwrap();
        let rows: Vec<u32> = (0..N as u32).rev().collect();
        let x = widen(&d.x.to_f32());
        let y = widen(&d.dense_targets());
        let pick = |all: &[f64], w: usize| {
            rows.iter()
                .flat_map(|&r| all[r as usize * w..][..w].to_vec())
                .collect::<Vec<_>>()
        };
        let (x, y) = (pick(&x, INPUTS), pick(&y, CLASSES));
        let net = Net64::from_params(&params);
        let (want_loss, want) = reference::gradients(&spec, &net, &x, &y, N, 0.0);
        let (got_loss, got) = t.gradients(&rows).unwrap();
        assert_close(
            &format!("{variant:?} loss"),
            &[got_loss],
            &[want_loss],
            NETWORK,
        );
        for l in 0..2 {
            let name = format!("{variant:?} dW{l}");
            assert_close(&name, &got.layers[l].w, &want.w[l], NETWORK);
            let name = format!("{variant:?} db{l}");
            assert_close(&name, &got.layers[l].b, &want.b[l], NETWORK);
        }
        let hp = Hyper {
            lr: 0.3,
            l2: 0.0,
            batch: N,
            epochs: 1,
            seed: 0,
        };
        let losses = t.train_epoch(&rows, &hp).unwrap();
        let mut stepped = net.clone();
        let step_loss = reference::train_step(&spec, &mut stepped, &x, &y, N, 0.3, 0.0);
        assert_close("step loss", &losses, &[step_loss as f32], NETWORK);
        let want_params: Vec<f64> = flat(&stepped.to_params())
            .iter()
            .map(|&v| v as f64)
            .collect();
        let got_params = flat(&t.params().unwrap());
        assert_close(
            "parameters after a step",
            &got_params,
            &want_params,
            NETWORK,
        );
    }
}

#[test]
fn a_downlevel_device_is_refused_with_the_limit_it_lacks() {
    let test = "a_downlevel_device_is_refused_with_the_limit_it_lacks";
    let Some(a) = adapter(test) else { return };
    let ctx = GpuContext::with_limits(a, wgpu::Limits::downlevel_defaults()).unwrap();
    assert_eq!(ctx.limits.max_storage_buffers_per_shader_stage, 4);
    let (spec, d) = (spec(), data());
    let err = GpuTrainer::new(ctx, &spec, &Params::init(&spec, 0), &d, None, N)
        .err()
        .expect("gather_rows binds 6 storage buffers: a device with 4 must be refused")
        .to_string();
    assert!(
        err.contains("max_storage_buffers_per_shader_stage") && err.contains("gather_rows"),
        "{err}"
    );
}

/// Limits an adapter might report: Metal's bindings go past 4 GiB.
fn huge_adapter() -> wgpu::Limits {
    wgpu::Limits {
        max_storage_buffer_binding_size: 16 << 30,
        max_buffer_size: 32 << 30,
        ..wgpu::Limits::default()
    }
}

#[test]
fn bindings_above_4_gib_are_capped_so_u32_byte_offsets_stay_in_range() {
    let want = required_limits(&huge_adapter());
    assert_eq!(want.max_storage_buffer_binding_size, MAX_BINDING);
    assert!(MAX_BINDING <= u64::from(u32::MAX) && MAX_BINDING.is_multiple_of(4));
    assert_eq!(want.max_buffer_size, 32 << 30);
    // Everything else stays at WebGPU's defaults.
    let defaults = wgpu::Limits::default();
    assert_eq!(
        wgpu::Limits {
            max_storage_buffer_binding_size: defaults.max_storage_buffer_binding_size,
            max_buffer_size: defaults.max_buffer_size,
            ..want
        },
        defaults
    );
    // An adapter below the defaults: its own values.
    let low = required_limits(&wgpu::Limits::downlevel_defaults());
    assert_eq!(low.max_storage_buffers_per_shader_stage, 4);
    assert_eq!(low.max_buffer_size, 256 << 20);
}

#[test]
fn a_context_reporting_huge_bindings_still_refuses_one_past_4_gib() {
    let test = "a_context_reporting_huge_bindings_still_refuses_one_past_4_gib";
    let Some(mut ctx) = common::gpu(test) else {
        return;
    };
    // As if the device had been opened with what a huge adapter reports, uncapped.
    ctx.limits = huge_adapter();
    assert_eq!(ctx.max_binding(), MAX_BINDING);
    ctx.check_binding("exactly the cap", MAX_BINDING, "-")
        .unwrap();
    let err = ctx
        .check_binding("one float past the cap", MAX_BINDING + 4, "use less")
        .unwrap_err()
        .to_string();
    assert!(err.contains("max_storage_buffer_binding_size"), "{err}");
}
