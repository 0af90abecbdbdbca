#!/usr/bin/env bash
# Prepares, on this (GPU-less) machine, everything scripts/gpu-bench.sh needs on a lent GPU
# machine, in folders .gitignore leaves out and the device tool carries:
#   .gl/   the Vulkan/EGL loader packages (the lent machine has the NVIDIA driver, not the loader)
#   .gpu/  the release binary and the GPU test binaries (stripped, in bin.tar.xz: tests/ beside
#          wgtrain, where tests/common/cli.rs finds it), Fashion-MNIST and digits (data/), the
#          PyTorch reference script (torch/) and a copy of gpu-bench.sh: a folder that runs
#          from anywhere (`bash .gpu/gpu-bench.sh`), as the rehearsal in docs/BENCHMARKS.md does.
# Then, with the device tool:  run(command="bash .gpu/gpu-bench.sh", carry=[".gl", ".gpu"],
# timeout_s=600).  $FASHION_DIR: where Fashion-MNIST's four .gz files are.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .gpu
mkdir -p .gl /tmp/amd64/partial .gpu/data/fashion-mnist .gpu/torch
o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
apt-get $o update -qq
(cd .gl && apt-get $o download -qq libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
cargo build --release --locked
# The device tool carries at most 64 MiB: stripped binaries (the release profile keeps line
# tables), only the test targets that exercise the GPU, packed with xz (unpacked there by
# Python, which the PyTorch reference needs anyway).
mkdir -p .gpu/bin/tests
cp target/release/wgtrain .gpu/bin/
gpu_tests='cli_gpu|limits|kernels_matmul|kernels_gather|kernels_loss|kernels_sgd|kernels_optim|network_parity|optim_parity|matmul_variants|split_k|peak|big_batch|training|worked_example|resume|session'
# Test binaries: cargo prints one executable per test target.
cargo test --release --locked --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["test"]:
        print(m["target"]["name"], m["executable"])' |
  while read -r name exe; do
    if [[ $name =~ ^($gpu_tests)$ ]]; then cp "$exe" ".gpu/bin/tests/$name"; fi
  done
strip .gpu/bin/wgtrain .gpu/bin/tests/*
tar -C .gpu -cf - bin | xz -T2 -6 >.gpu/bin.tar.xz
rm -rf .gpu/bin
cp "${FASHION_DIR:-/usr/share/datasets/fashion-mnist}"/*.gz .gpu/data/fashion-mnist/
cp data/digits.csv.gz .gpu/data/
# reference_mlp.py reads digits from its folder's ../data.
cp "${REFERENCE_MLP:-../shared/bench/reference_mlp.py}" .gpu/torch/
cp scripts/gpu-bench.sh .gpu/
du -sh .gl .gpu
total=$(du -sk .gl .gpu | awk '{s += $1} END {print s}')
if [ "$total" -gt $((62 * 1024)) ]; then
  echo "carried folders hold ${total} KiB: over the device tool's 64 MiB" >&2
  exit 1
fi
