//! The GPU path through the `wgtrain` binary: the adapter list, the selftest, digits trained to the CPU's
//! losses, reductions longer than a software adapter's loop limit, and the message when no
//! adapter exists.

mod common;

use common::checkpoint_file::write_checkpoint;
use common::cli::{check_metrics, epochs, metrics, number, with_adapter};
use common::scratch::Scratch;
use common::{Tol, assert_close};

/// CPU and GPU train losses after two epochs on digits: both are f32 with different summation
/// orders, and 90 SGD steps amplify the rounding differences (observed ~1e-7 relative).
const CPU_GPU_LOSS: Tol = Tol {
    rtol: 1e-4,
    atol: 0.0,
};
/// Losses that are sums of integers (or halves) below 2²⁴, exact in f32 but for the final
/// rounding of the loss (2⁻²⁴ ≈ 6e-8 relative).
const EXACT_SUM_LOSS: Tol = Tol {
    rtol: 1e-6,
    atol: 0.0,
};

#[test]
fn devices_lists_an_adapter_with_its_limits() {
    let test = "devices";
    let s = Scratch::new(test);
    let Some(run) = with_adapter(test, s.run(&["devices"])) else {
        return;
    };
    run.assert_success();
    assert!(run.stdout.starts_with("0: "), "{}", run.show());
    for word in [
        "max storage binding",
        "max buffer",
        "workgroups per dimension",
    ] {
        assert!(run.stdout.contains(word), "{word}:\n{}", run.show());
    }
}

#[test]
fn selftest_checks_every_kernel_gradients_and_training_and_passes() {
    let test = "selftest";
    let s = Scratch::new(test);
    let Some(run) = with_adapter(test, s.run(&["selftest", "--device", "gpu"])) else {
        return;
    };
    run.assert_success();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines[0].starts_with("selftest on "), "{}", run.show());
    let checks: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.contains(" worst error "))
        .collect();
    // 10 kernel checks (8, and split K in both variants) each with trusted and checked shaders,
    // 8 gradients (2 networks in 2 variants, unsplit and split), 3 training runs.
    assert_eq!(checks.len(), 31, "{}", run.show());
    assert!(
        checks.iter().all(|l| l.starts_with("ok ")),
        "{}",
        run.show()
    );
    for name in [
        "matmul_forward, matmul 64, trusted shaders",
        "matmul_forward, matmul 64, checked shaders",
        "matmul_backward_input, matmul 128, trusted shaders",
        "matmul_backward_input, matmul 128, checked shaders",
        "loss_forward_backward, one workgroup per row, trusted shaders",
        "loss_forward_backward, one workgroup per row, checked shaders",
        "network gradients, 9-33-70 softmax",
        "split K: 3 matmul forms + reduce, matmul 128, trusted shaders",
        "split K: 3 matmul forms + reduce, matmul 64, checked shaders",
        "matmul 128, k split",
        "20 Adam steps: GPU vs CPU path",
    ] {
        assert!(run.stdout.contains(name), "{name}:\n{}", run.show());
    }
    assert_eq!(
        lines.last(),
        Some(&"all 31 checks passed"),
        "{}",
        run.show()
    );
}

#[test]
fn gpu_trains_digits_names_the_adapter_and_matches_the_cpu_losses() {
    let test = "gpu_digits";
    let s = Scratch::new(test);
    let Some(devices) = with_adapter(test, s.run(&["devices"])) else {
        return;
    };
    devices.assert_success();
    let (gm, cm) = (s.arg("gpu.jsonl"), s.arg("cpu.jsonl"));
    let args = ["train", "--epochs", "2", "--seed", "7", "--metrics"];
    let Some(gpu) = with_adapter(
        test,
        s.run(&[&args[..], &[gm.as_str(), "--device", "gpu"]].concat()),
    ) else {
        return;
    };
    gpu.assert_success();
    let device = gpu
        .stderr
        .lines()
        .find(|l| l.starts_with("device: "))
        .unwrap_or_else(|| panic!("no device line:\n{}", gpu.show()));
    assert!(device.starts_with("device: gpu: "), "{device}");
    let names: Vec<&str> = devices
        .stdout
        .lines()
        .filter(|l| !l.starts_with(' '))
        .filter_map(|l| {
            l.split_once(": ")
                .map(|(_, n)| n.split("  [").next().unwrap())
        })
        .collect();
    assert!(
        names.iter().any(|n| device.contains(n)),
        "{device:?} names none of the adapters {names:?}"
    );
    let e = epochs(&gpu);
    assert_eq!(e.len(), 2, "{}", gpu.show());
    assert!(e[1].test_acc.is_some_and(|a| a > 80.0), "{}", gpu.show());

    let cpu = s.run(&[&args[..], &[cm.as_str(), "--device", "cpu"]].concat());
    cpu.assert_success();
    let g = check_metrics(&s.path("gpu.jsonl"), 2, true);
    let c = check_metrics(&s.path("cpu.jsonl"), 2, true);
    for (i, (g, c)) in g.iter().zip(&c).enumerate() {
        for k in ["train_loss", "test_loss"] {
            assert_close(
                &format!("epoch {} {k}, gpu vs cpu", i + 1),
                &[number(g, k)],
                &[number(c, k)],
                CPU_GPU_LOSS,
            );
        }
    }
}

/// Trains `args` on the CPU and on the GPU with `--metrics`; the two runs' train losses, or
/// None when the test is skipped for want of an adapter.
fn cpu_and_gpu_losses(test: &str, s: &Scratch, args: &[&str]) -> Option<[Vec<f64>; 2]> {
    let mut out = [vec![], vec![]];
    for (i, device) in ["cpu", "gpu"].into_iter().enumerate() {
        let m = s.arg(&format!("{device}.jsonl"));
        let run = s.run(&[args, &["--device", device, "--metrics", &m]].concat());
        let run = with_adapter(test, run)?;
        if device == "gpu" && run.stderr.contains("silently ends longer loops") {
            // An adapter that cuts long loops short (llvmpipe) must refuse, not sum part of it.
            run.assert_clean_failure(&["shader loop iterations is 65535", "--device cpu"]);
            eprintln!("{test}: the adapter limits loops; refused as it should be");
            return None;
        }
        run.assert_success();
        out[i] = metrics(&s.path(&format!("{device}.jsonl")))
            .iter()
            .map(|o| number(o, "train_loss"))
            .collect();
    }
    Some(out)
}

/// Mesa's llvmpipe/lavapipe ends every loop of a shader invocation once 65535 iterations have
/// run in total (LP_MAX_TGSI_LOOP_ITERATIONS, shared by all loops), silently. The tiled matmul
/// spends several per 16-wide K tile (its tile-loading loops count too), so on lavapipe (Mesa
/// 22.3) a reduction over more than 37445 terms drops the rest. The tests below reduce over
/// more than 65535 × 16 terms, beyond the limit even at one iteration per 16-wide tile: on
/// such an adapter wgtrain must refuse with an error, elsewhere the sums must be exact.
const LONG_REDUCTION: usize = 1_100_000;

/// Epoch-2 loss after one exact full-batch step of the batch test: a plain f32 running sum of
/// 1.1M equal gradient terms is off by 0.5% (9.5e-6 in this loss), so allow 100× that; a sum
/// that stops at 65535 × 16 rows leaves at least 0.05.
const LONG_SUM_LOSS: f64 = 1e-3;

#[test]
fn gpu_forward_sums_every_term_of_a_long_fan_in() {
    let test = "gpu_long_fan_in";
    let s = Scratch::new(test);
    const K: usize = LONG_REDUCTION;
    let mut row = "1,".repeat(K);
    row += "0\n";
    let csv = s.write("wide.csv", row.as_bytes());
    let ckpt = s.path("ones.safetensors");
    write_checkpoint(
        &ckpt,
        [
            ("sizes", &format!("{K},1")),
            ("hidden", ""),
            ("output", "linear"),
            ("loss", "mse"),
        ],
        &[
            ("layers.0.weight", vec![1, K], vec![1.0; K]),
            ("layers.0.bias", vec![1], vec![0.0]),
        ],
    );
    // One sample, x = 1s, w = 1s, y = 0: the output is K (integers below 2²⁴ add exactly in
    // f32), the loss ½K².
    let args = [
        "train",
        "--data",
        &csv,
        "--targets",
        "1",
        "--hidden",
        "",
        // The sums below are of the raw ones; CSV runs standardise by default.
        "--no-standardize",
        "--init",
        ckpt.to_str().unwrap(),
        "--batch",
        "1",
        "--epochs",
        "1",
    ];
    let Some([cpu, gpu]) = cpu_and_gpu_losses(test, &s, &args) else {
        return;
    };
    let want = 0.5 * (K as f64) * (K as f64);
    assert_close("cpu loss ½(Σ 1·1)²", &[cpu[0]], &[want], EXACT_SUM_LOSS);
    assert_close(
        &format!(
            "gpu loss ½(Σ 1·1)² (the output is {}, want {K})",
            (2.0 * gpu[0]).sqrt()
        ),
        &[gpu[0]],
        &[want],
        EXACT_SUM_LOSS,
    );
}

#[test]
fn gpu_gradients_sum_every_row_of_a_long_batch() {
    let test = "gpu_long_batch";
    let s = Scratch::new(test);
    const M: usize = LONG_REDUCTION;
    let csv = s.write("ones.csv", "1,1\n".repeat(M).as_bytes());
    let ckpt = s.path("zero.safetensors");
    write_checkpoint(
        &ckpt,
        [
            ("sizes", "1,1"),
            ("hidden", ""),
            ("output", "linear"),
            ("loss", "mse"),
        ],
        &[
            ("layers.0.weight", vec![1, 1], vec![0.0]),
            ("layers.0.bias", vec![1], vec![0.0]),
        ],
    );
    // y = w·1 + b from w = b = 0 towards 1: the full-batch gradient is -1 for both, so one step
    // of lr ½ lands on y = 1 and epoch 2's loss is 0 up to f32 rounding.
    let m = M.to_string();
    let args = [
        "train",
        "--data",
        &csv,
        "--targets",
        "1",
        "--hidden",
        "",
        // The sums below are of the raw ones; CSV runs standardise by default.
        "--no-standardize",
        "--init",
        ckpt.to_str().unwrap(),
        "--batch",
        &m,
        "--epochs",
        "2",
        "--lr",
        "0.5",
    ];
    let Some([cpu, gpu]) = cpu_and_gpu_losses(test, &s, &args) else {
        return;
    };
    for (device, l) in [("cpu", &cpu), ("gpu", &gpu)] {
        assert_close(
            &format!("{device} epoch 1 loss"),
            &[l[0]],
            &[0.5],
            EXACT_SUM_LOSS,
        );
        assert!(
            l[1] < LONG_SUM_LOSS,
            "{device}: epoch 2 loss {:e}, output {:.5}: one full-batch step of lr ½ lands on \
             y = 1; gradients summed over only part of the {M} rows fall short",
            l[1],
            1.0 - (2.0 * l[1]).sqrt()
        );
    }
}

/// Metal is not on Linux: the error names that, and the backends there are, where it told a
/// user to install lavapipe (a Vulkan driver, which would not help).
#[test]
fn gpu_with_no_adapter_on_a_backend_this_platform_lacks_says_so() {
    let s = Scratch::new("no_adapter");
    // Without the adapter name scripts/gpu-matrix.sh sets: no adapter at all, not a missing name.
    let run = s.run_with(
        &[
            "train",
            "--data",
            "xor",
            "--device",
            "gpu",
            "--backend",
            "metal",
        ],
        |c| {
            c.env_remove("WGPU_ADAPTER_NAME");
        },
    );
    run.assert_clean_failure(&[])
        .assert_error_line(&["no GPU adapter"]);
    if cfg!(target_os = "linux") {
        run.assert_error_line(&[
            "--backend asks for metal, which is not available on linux",
            "vulkan and gl",
        ]);
    }
    assert!(s.files().is_empty(), "files written:\n{}", run.show());
}
