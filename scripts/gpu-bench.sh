#!/usr/bin/env bash
# Runs on a lent GPU machine (see scripts/gpu-bench-prepare.sh): the adapter list, the test
# suite on the real GPU, wgtrain bench T1-T4 on GPU and CPU, the GEMM sweep, and the PyTorch
# CUDA reference (fp32, TF32 off) for the same tasks. Results land in $OUT (or /tmp/out).
set -uo pipefail
out=${OUT:-/tmp/out}
mkdir -p "$out"
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
fi
export XDG_RUNTIME_DIR=$(mktemp -d) WGTRAIN_DATA=$PWD/.gpu/data
bin=$(mktemp -d)
python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' .gpu/bin.tar.xz "$bin"
wgtrain=$bin/bin/wgtrain
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv | tee "$out/gpu.txt"
"$wgtrain" devices | tee "$out/devices.txt"
# Everything below fits one device call of at most 600 s (the timeouts add up to 550 s); each
# result is written as soon as it exists, so a step that fails or times out loses only itself.
timeout 150 bash -c 'for t in "$1"/bin/tests/*; do
  echo "== $(basename "$t")"
  timeout 60 "$t" --test-threads 1 2>&1 | tail -3
done' tests "$bin" >"$out/tests.txt" 2>&1
grep -E "test result|FAILED|panicked" "$out/tests.txt"
for t in T1 T2 T3 T4; do
  timeout 50 "$wgtrain" bench --task "$t" --device gpu,cpu --json 2>>"$out/bench.log"
done | tee "$out/bench.jsonl"
for v in 64 128; do
  WGTRAIN_MATMUL=$v timeout 40 "$wgtrain" bench --gemm --device gpu --json 2>>"$out/bench.log"
done | tee "$out/gemm.jsonl"
for t in T1 T2 T3 T4; do
  FASHION_DIR=.gpu/data/fashion-mnist timeout 30 python3 .gpu/reference_mlp.py --task "$t" --device cuda
done | tee "$out/torch-cuda.jsonl"
