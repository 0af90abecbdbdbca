#!/usr/bin/env bash
# Runs on a lent GPU machine, from the folder scripts/gpu-bench-prepare.sh filled (.gpu/, which
# holds a copy of this script): the adapter list, `wgtrain selftest` on the GPU, `wgtrain bench`
# T1-T5 on the GPU, the PyTorch CUDA reference for the same tasks, the GEMM sweep per matmul
# variant, bench T1-T5 on the CPU, then the GPU test binaries. Needs nothing from the build
# machine: only the prepared folder, python3 (to unpack it) and coreutils' timeout.
#   bash .gpu/gpu-bench.sh     (or scripts/gpu-bench.sh from the repository root)
# Every step has its own timeout, cut to what is left of $WGTRAIN_BENCH_BUDGET seconds (default
# 560, inside the device tool's 600 s), and appends its result to $OUT (default
# /tmp/gpu-bench-out) as soon as it exists, so a step that hangs, fails or is cut loses only
# itself. $WGTRAIN_BENCH_TASKS picks fewer tasks (default "T1 T2 T3 T4 T5"). Without a GPU
# adapter the GPU steps fail fast and the CPU figures are still recorded. Exits 1 when any step
# failed, timed out or was skipped, after running the rest.
# What lands in $OUT (8 files, the device tool's limit):
#   log.txt        every step: command, exit status, seconds, and its stderr (progress lines)
#   env.txt        nvidia-smi's line and `wgtrain devices`
#   selftest.txt   `wgtrain selftest --device gpu`: a line per check
#   bench.jsonl    `wgtrain bench --json`, one line per task and path (gpu first, then cpu,
#                  then T1 and T3 on the gpu with split K off)
#   gemm.jsonl     `wgtrain bench --gemm --json` with WGTRAIN_MATMUL=64, then =128
#   torch.jsonl    reference_mlp.py --device cuda per task, or one line saying why it did not run
#   sweep.jsonl    `wgtrain bench --sweep batch --json` on T1, cpu and gpu: samples/s per batch
#   tests.txt      the GPU test binaries' summaries (`--test-threads 1`)
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
if [[ -n ${WGTRAIN_BENCH_DIR:-} ]]; then
    prep=$(cd "$WGTRAIN_BENCH_DIR" && pwd)
elif [[ -f $here/bin.tar.xz ]]; then
    prep=$here
else
    prep=$(cd "$here/../.gpu" 2>/dev/null && pwd) || {
        echo "gpu-bench: no prepared folder (run scripts/gpu-bench-prepare.sh)" >&2
        exit 2
    }
fi
out=${OUT:-/tmp/gpu-bench-out}
mkdir -p "$out"
log=$out/log.txt
budget=${WGTRAIN_BENCH_BUDGET:-560}
tasks=${WGTRAIN_BENCH_TASKS:-T1 T2 T3 T4 T5}
start=$SECONDS
failed_steps=0
say() { echo "$*" | tee -a "$log"; }

# step NAME CAP FILE CMD...: runs CMD with a timeout of CAP seconds or what is left of the budget
# (skipped when under 5 s are left), its stdout appended to FILE, its stderr to the log.
step() {
    local name=$1 cap=$2 file=$3
    shift 3
    local left=$((budget - (SECONDS - start)))
    if ((left < 5)); then
        say "== $name: skipped, ${left} s of the budget left"
        failed_steps=$((failed_steps + 1))
        return 124
    fi
    local t=$((cap < left ? cap : left)) t0=$SECONDS rc
    say "== $name (timeout ${t} s): $*"
    timeout -k 5 "$t" "$@" >>"$file" 2>>"$log"
    rc=$?
    local verdict=ok
    ((rc == 124 || rc == 137)) && verdict="TIMED OUT"
    ((rc != 0 && rc != 124 && rc != 137)) && verdict="FAILED"
    ((rc != 0)) && failed_steps=$((failed_steps + 1))
    say "== $name: $verdict (exit $rc) in $((SECONDS - t0)) s"
    return $rc
}

say "gpu-bench: prepared folder $prep, results in $out, budget ${budget} s, $(date -u +%FT%TZ)"

# The Vulkan/EGL loaders: only where the machine lacks them (the lent machine has the NVIDIA
# driver but no loader). Unpacked into / as the device tool's README says. (grep without -q:
# an early exit would kill ldconfig with SIGPIPE, which pipefail reports as no loader.)
if ! ldconfig -p 2>/dev/null | grep 'libvulkan\.so\.1' >/dev/null; then
    gl=${WGTRAIN_BENCH_GL:-}
    for d in "$PWD/.gl" "$prep/../.gl" "$prep/.gl"; do
        [[ -z $gl && -d $d ]] && gl=$d
    done
    if [[ -n $gl ]] && compgen -G "$gl/*.deb" >/dev/null; then
        for f in "$gl"/*.deb; do dpkg -x "$f" /; done
        ldconfig
        say "loaders unpacked from $gl"
    else
        say "no Vulkan loader and no .gl folder: the GPU steps will find no adapter"
    fi
fi
nvidia_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [[ -f $nvidia_icd && -z ${VK_DRIVER_FILES:-} ]]; then
    export VK_DRIVER_FILES=$nvidia_icd
    export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
fi
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
export WGTRAIN_DATA=$prep/data

bin=$(mktemp -d)
python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' \
    "$prep/bin.tar.xz" "$bin" || {
    say "gpu-bench: cannot unpack $prep/bin.tar.xz"
    exit 2
}
wgtrain=$bin/bin/wgtrain

if command -v nvidia-smi >/dev/null; then
    step nvidia-smi 20 "$out/env.txt" \
        nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,memory.total --format=csv
fi
step devices 30 "$out/env.txt" "$wgtrain" devices
step selftest 120 "$out/selftest.txt" "$wgtrain" selftest --device gpu
tail -1 "$out/selftest.txt" 2>/dev/null | tee -a "$log"

# GPU first: a machine without an adapter fails these at once and goes on to the CPU ones.
for t in $tasks; do
    step "bench $t gpu" 60 "$out/bench.jsonl" "$wgtrain" bench --task "$t" --device gpu --json
done

if timeout 60 python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 3)' \
    2>>"$log"; then
    for t in $tasks; do
        FASHION_DIR=$prep/data/fashion-mnist step "torch $t cuda" 45 "$out/torch.jsonl" \
            python3 "$prep/torch/reference_mlp.py" --task "$t" --device cuda
    done
else
    why="python3 has no torch, or torch sees no CUDA device (exit $?)"
    echo "{\"reference\":\"pytorch\",\"device\":\"cuda\",\"skipped\":\"$why\"}" >>"$out/torch.jsonl"
    say "== torch: skipped: $why"
fi

for v in 64 128; do
    WGTRAIN_MATMUL=$v step "gemm $v" 45 "$out/gemm.jsonl" \
        "$wgtrain" bench --gemm --device gpu --json
done

for t in $tasks; do
    step "bench $t cpu" 90 "$out/bench.jsonl" "$wgtrain" bench --task "$t" --device cpu --json
done

# Where the GPU overtakes the CPU: T1 at batch 16..8192 on both paths, 40 s per path at most.
step "sweep T1" 100 "$out/sweep.jsonl" "$wgtrain" bench --sweep batch --task T1 --device cpu,gpu \
    --seconds 40 --json

# Split K off on the small tasks, where it splits (the GPU lines above say "k split below 256
# workgroups" in their device field; these do not): its gain on this GPU.
for t in $tasks; do
    case $t in
    T1 | T3)
        WGTRAIN_SPLIT_K=off step "bench $t gpu split-K off" 60 "$out/bench.jsonl" \
            "$wgtrain" bench --task "$t" --device gpu --json
        ;;
    esac
done

# What is left of the budget: the GPU test binaries, each beside which `wgtrain` is found
# (tests/common/cli.rs looks in the folder above a test binary).
for t in "$bin"/bin/tests/*; do
    echo "== $(basename "$t")" >>"$out/tests.txt"
    step "test $(basename "$t")" 90 "$out/tests.txt" "$t" --test-threads 1 -q
done
if [[ -f $out/tests.txt ]]; then
    say "tests: $(grep -c '^test result: ok' "$out/tests.txt") binaries passed," \
        "$(grep -c '^test result: FAILED' "$out/tests.txt") failed (tests.txt)"
fi
say "gpu-bench: done in $((SECONDS - start)) s, $failed_steps steps failed, timed out or skipped"
((failed_steps == 0))
