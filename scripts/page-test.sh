#!/usr/bin/env bash
# The page's end-to-end test (scripts/page-test.py) on a fresh build of the page: digits on
# WebGPU from the URL alone, the downloaded model under `wgtrain eval`, a broken CSV's message,
# and a browser without WebGPU. The screenshot goes to target/page-test/page.png.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/build-page.sh
[[ -x target/release/wgtrain ]] || cargo build --release --locked
python3 scripts/page-test.py target/release/wgtrain web/static target/page-test
