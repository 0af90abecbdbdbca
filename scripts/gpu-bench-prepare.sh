#!/usr/bin/env bash
# Prepares, on this (GPU-less) machine, everything scripts/gpu-bench.sh needs on a lent GPU
# machine, in git-ignored folders that the device tool carries:
#   .gl/   the Vulkan/EGL loader packages (the lent machine has the NVIDIA driver, not the loader)
#   .gpu/  the release binary, the test binaries, Fashion-MNIST and the PyTorch reference script
# Then, with the device tool:  run(command="bash scripts/gpu-bench.sh", carry=[".gl", ".gpu"])
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.gl/' .git/info/exclude 2>/dev/null || echo /.gl/ >>.git/info/exclude
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo /.gpu/ >>.git/info/exclude
mkdir -p .gl /tmp/amd64/partial .gpu/tests .gpu/data/fashion-mnist
o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
apt-get $o update -qq
(cd .gl && apt-get $o download -qq libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
cargo build --release --locked
cp target/release/wgtrain .gpu/
# Test binaries: cargo prints one executable per test target.
cargo test --release --locked --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] != ["bin"]:
        print(m["executable"])' |
  while read -r exe; do cp "$exe" .gpu/tests/; done
cp "${FASHION_DIR:-/usr/share/datasets/fashion-mnist}"/*.gz .gpu/data/fashion-mnist/
cp ../shared/bench/reference_mlp.py .gpu/
du -sh .gl .gpu
