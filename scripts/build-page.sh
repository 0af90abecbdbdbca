#!/usr/bin/env bash
# Builds the page in web/static: wgtrain compiled to WebAssembly (web/ crate, release) and
# its JavaScript bindings by wasm-bindgen into web/static/pkg (git-ignored). Serve the folder
# with any static server, e.g. `python3 -m http.server -d web/static -b 127.0.0.1 8000`.
# Needs the wasm32 target and wasm-bindgen-cli at the wasm-bindgen crate's exact version
# (scripts/browser-tests.sh installs it). Prints the .wasm's size, raw and gzipped.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || true
cargo build --release --locked -p wgtrain-web --target wasm32-unknown-unknown
wasm-bindgen --target web --no-typescript --out-dir web/static/pkg \
    target/wasm32-unknown-unknown/release/wgtrain_web.wasm
wasm=web/static/pkg/wgtrain_web_bg.wasm
echo "build-page: $wasm $(stat -c %s "$wasm") bytes, $(gzip -9 -c "$wasm" | wc -c) gzipped"
