#!/usr/bin/env bash
# Runs every entry point of every shader (the matmul variants, split K's slices and reductions,
# gather, the loss and its stats, the SGD, momentum and Adam updates) under Dawn/Tint, Chrome's
# WebGPU, through the npm package `webgpu`, at WebGPU's default limits on awkward shapes, against
# the f64 reference. Installs the package into a cache folder outside the repository (reused;
# needs node and npm), writes the fixtures with tests/dawn_fixtures.rs, then runs
# scripts/dawn-check.mjs on them; exits non-zero on any mismatch or when no Dawn backend could
# run. Here Dawn's Vulkan backend refuses Mesa 22's lavapipe but takes SwiftShader (fetched by
# scripts/swiftshader.sh unless a Vulkan driver is chosen), and its GL ES backend runs on
# llvmpipe.
#   $WGTRAIN_DAWN_CACHE     where `webgpu` is installed (default ${XDG_CACHE_HOME:-~/.cache}/wgtrain-dawn)
#   $WGTRAIN_DAWN_FIXTURES  fixture folder (default target/dawn-fixtures)
#   $WGTRAIN_DAWN_BACKENDS  Dawn backends to try (default vulkan,opengles)
#   $WGTRAIN_CI_CACHE       where swiftshader.sh keeps SwiftShader (default ~/.cache/wgtrain-ci)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${WGTRAIN_DAWN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wgtrain-dawn}
webgpu_version=0.6.2
export WGTRAIN_DAWN_FIXTURES=${WGTRAIN_DAWN_FIXTURES:-$root/target/dawn-fixtures}

for tool in node npm; do
    command -v $tool >/dev/null || { echo "dawn-check: needs $tool (apt-get install nodejs npm)" >&2; exit 2; }
done
mkdir -p "$cache"
if [[ ! -f $cache/node_modules/webgpu/package.json ]] ||
    [[ $(node -p "require('$cache/node_modules/webgpu/package.json').version") != "$webgpu_version" ]]; then
    echo "dawn-check: installing webgpu@$webgpu_version into $cache"
    [[ -f $cache/package.json ]] || echo '{"private": true}' >"$cache/package.json"
    npm install --prefix "$cache" --no-audit --no-fund "webgpu@$webgpu_version"
fi

(cd "$root" && cargo test --release --test dawn_fixtures -- --ignored --quiet)

export WGTRAIN_DAWN_WEBGPU=$cache/node_modules/webgpu
# Dawn's Vulkan backend on SwiftShader (fetched and cached by swiftshader.sh) unless a Vulkan
# driver is chosen: without it only GL ES would run here.
if [[ -z ${VK_ICD_FILENAMES:-}${VK_DRIVER_FILES:-} ]]; then
    VK_ICD_FILENAMES=$("$root/scripts/swiftshader.sh")
    export VK_ICD_FILENAMES
fi
# Dawn's GL backends need EGL without a display; the Vulkan loader wants a runtime folder.
export EGL_PLATFORM=${EGL_PLATFORM:-surfaceless}
if [[ -z ${XDG_RUNTIME_DIR:-} ]]; then
    export XDG_RUNTIME_DIR=$cache/runtime
    mkdir -p -m 0700 "$XDG_RUNTIME_DIR"
fi
node "$root/scripts/dawn-check.mjs" "$WGTRAIN_DAWN_FIXTURES"
