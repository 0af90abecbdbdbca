#!/usr/bin/env bash
# Prints the path of a Vulkan ICD file for Google's SwiftShader, fetching it first when it is
# not cached: Debian's chromium-common ships it as usr/lib/chromium/libvk_swiftshader.so
# (apt-get download, no install). Used by gpu-matrix.sh and dawn-check.sh.
#   $WGTRAIN_CI_CACHE   the cache folder (default ~/.cache/wgtrain-ci)
set -euo pipefail
dir=${WGTRAIN_CI_CACHE:-$HOME/.cache/wgtrain-ci}/swiftshader
if [[ ! -f $dir/vk_swiftshader_icd.json ]]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    mkdir -p "$dir"
    (cd "$tmp" && apt-get download chromium-common >/dev/null 2>&1) ||
        { echo "swiftshader.sh: apt-get download chromium-common failed" >&2; exit 1; }
    dpkg -x "$tmp"/chromium-common_*.deb "$tmp/x"
    cp "$tmp/x/usr/lib/chromium/libvk_swiftshader.so" "$dir/"
    printf '{"file_format_version": "1.0.0", "ICD": {"library_path": "%s", "api_version": "1.0.5"}}\n' \
        "$dir/libvk_swiftshader.so" >"$dir/vk_swiftshader_icd.json"
fi
echo "$dir/vk_swiftshader_icd.json"
