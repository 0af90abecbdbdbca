#!/usr/bin/env bash
# Runs loss_forward_backward (shaders/loss.wgsl) under Dawn/Tint, Chrome's WebGPU, through the npm
# package `webgpu`, against the f64 reference (issue 11: wide rows under Dawn). Installs the
# package into a cache folder outside the repository (reused), writes the fixtures with
# tests/dawn_fixtures.rs, then runs scripts/dawn-check.mjs on them; exits non-zero on any
# mismatch or when no Dawn backend could run.
#   $WGTRAIN_DAWN_CACHE     where `webgpu` is installed (default ${XDG_CACHE_HOME:-~/.cache}/wgtrain-dawn)
#   $WGTRAIN_DAWN_FIXTURES  fixture folder (default target/dawn-fixtures)
#   $WGTRAIN_DAWN_BACKENDS  Dawn backends to try (default vulkan,opengles)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${WGTRAIN_DAWN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wgtrain-dawn}
webgpu_version=0.6.2
export WGTRAIN_DAWN_FIXTURES=${WGTRAIN_DAWN_FIXTURES:-$root/target/dawn-fixtures}

mkdir -p "$cache"
if [[ ! -f $cache/node_modules/webgpu/package.json ]] ||
    [[ $(node -p "require('$cache/node_modules/webgpu/package.json').version") != "$webgpu_version" ]]; then
    echo "dawn-check: installing webgpu@$webgpu_version into $cache"
    [[ -f $cache/package.json ]] || echo '{"private": true}' >"$cache/package.json"
    npm install --prefix "$cache" --no-audit --no-fund "webgpu@$webgpu_version"
fi

(cd "$root" && cargo test --release --test dawn_fixtures -- --ignored --quiet)

export WGTRAIN_DAWN_WEBGPU=$cache/node_modules/webgpu
# Dawn's GL backends need EGL without a display; the Vulkan loader wants a runtime folder.
export EGL_PLATFORM=${EGL_PLATFORM:-surfaceless}
if [[ -z ${XDG_RUNTIME_DIR:-} ]]; then
    export XDG_RUNTIME_DIR=$cache/runtime
    mkdir -p -m 0700 "$XDG_RUNTIME_DIR"
fi
node "$root/scripts/dawn-check.mjs" "$WGTRAIN_DAWN_FIXTURES"
