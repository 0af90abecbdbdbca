#!/usr/bin/env bash
# The browser tests (web/tests/browser.rs): wgtrain built for wasm32 and run in headless
# Chromium on its WebGPU adapter (SwiftShader), through wasm-bindgen-test-runner and
# chromedriver: the adapter and Device::Auto's choice, every kernel against the f64 reference,
# a digits run whose epoch losses equal the native CPU path's (web/tests/digits-cpu.json) to
# 1e-5, blocking calls refused with the async method named, the stop token. Then the page's own
# end-to-end test (scripts/page-test.sh), when it is there.
#
# Needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver; no
# browser download) and wasm-bindgen-cli at the wasm-bindgen crate's exact version, which this
# installs into ~/.cargo/bin when missing (8-18 min on 2 cores, once; reused after).
# Costs here (2 cores): the wasm32 release build 3 min cold, the tests 1.5 min.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

want=$(sed -n '/^name = "wasm-bindgen"$/{n;s/version = "\(.*\)"/\1/p}' Cargo.lock)
[[ -n $want ]] || { echo "browser-tests: no wasm-bindgen in Cargo.lock" >&2; exit 2; }
have=$(wasm-bindgen-test-runner --version 2>/dev/null | awk '{print $2}' || true)
if [[ $have != "$want" ]]; then
    echo "browser-tests: installing wasm-bindgen-cli $want (found '${have:-none}')"
    cargo install --quiet wasm-bindgen-cli --version "$want"
fi
for tool in chromium chromedriver; do
    command -v $tool >/dev/null || {
        echo "browser-tests: needs $tool (apt-get install chromium chromium-driver)" >&2
        exit 2
    }
done
rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || true

export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
# SwiftShader runs the kernels on the CPU: a test may take a minute (the runner's default: 20 s).
export WASM_BINDGEN_TEST_TIMEOUT=${WASM_BINDGEN_TEST_TIMEOUT:-300}
export CHROMEDRIVER=${CHROMEDRIVER:-$(command -v chromedriver)}
# The runner reads webdriver.json (Chromium's flags: --enable-unsafe-webgpu) from the folder
# it runs in.
cd web
cargo test --release --locked -p wgtrain-web --target wasm32-unknown-unknown
cd "$root"
if [[ -x scripts/page-test.sh ]]; then
    scripts/page-test.sh
fi
