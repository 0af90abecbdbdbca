#!/usr/bin/env bash
# Runs the GPU tests on every GPU implementation reachable without a GPU, one after another,
# from one build: Mesa's lavapipe (Vulkan), Mesa's llvmpipe through GL (WGPU_BACKEND=gl),
# Google's SwiftShader (Vulkan, from Debian's chromium-common), and lavapipe again under the
# Khronos validation layer with synchronization validation on, which fails on any message the
# layer prints; `shaders` checks naga's SPIR-V and GLSL of every entry point with the platform
# validators. Prints each one's time; exits non-zero when any failed.
#
#   scripts/gpu-matrix.sh [shaders] [lavapipe] [gl] [swiftshader] [validation]   (default: all)
#
# Needs mesa-vulkan-drivers, libvulkan1, jq, and for the last two steps vulkan-validationlayers,
# spirv-tools and glslang-tools. SwiftShader is downloaded once (`apt-get download`) into
# $WGTRAIN_CI_CACHE (default ~/.cache/wgtrain-ci).
set -euo pipefail
cd "$(dirname "$0")/.."

steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(shaders lavapipe gl swiftshader validation)
cache=${WGTRAIN_CI_CACHE:-$HOME/.cache/wgtrain-ci}
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
chmod 700 "$XDG_RUNTIME_DIR"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The test binaries that open the GPU: kernel and network parity, training, the CLI's GPU
# cases, the limits, and the rest that compare the GPU path with the CPU one.
gpu_tests=(kernels_gather kernels_loss kernels_matmul kernels_optim kernels_sgd matmul_variants split_k
  network_parity optim_parity training worked_example big_batch limits session cli_gpu tail_batch
  class_weights
  boundary)

# Build once; map each test target to its executable.
declare -A exe
while read -r name path; do exe[$name]=$path; done < <(
  cargo test --release --locked --no-run --message-format=json |
    jq -r 'select(.reason == "compiler-artifact" and .executable != null
                  and .target.kind == ["test"]) | "\(.target.name) \(.executable)"')
cargo build --release --locked --quiet
wgtrain=$PWD/target/release/wgtrain

swiftshader_icd() {
  WGTRAIN_CI_CACHE=$cache "$(dirname "$0")/swiftshader.sh"
}

# The validation layer writes every message of every process (the CLI tests start wgtrain) to
# one FIFO, which a reader drains into a file: a plain log file would be truncated by each
# process that opens it. The reader also holds the FIFO open for writing, so it never sees
# end-of-file between processes. `enables` may add features (the canary adds best practices).
layer_on() {
  local log=$1 enables=$2
  rm -f "$work/fifo"
  mkfifo "$work/fifo"
  : >"$log"
  { exec 3<>"$work/fifo"; exec cat <&3 >>"$log"; } &
  reader=$!
  cat >"$work/vk_layer_settings.txt" <<SETTINGS
khronos_validation.debug_action = VK_DBG_LAYER_ACTION_LOG_MSG
khronos_validation.report_flags = error,warn,perf
khronos_validation.log_filename = $work/fifo
khronos_validation.enables = $enables
SETTINGS
  export VK_LAYER_SETTINGS_PATH=$work/vk_layer_settings.txt
  export VK_INSTANCE_LAYERS=VK_LAYER_KHRONOS_validation
}
layer_off() {
  sleep 1
  kill "$reader" 2>/dev/null || true
  wait "$reader" 2>/dev/null || true
  unset VK_LAYER_SETTINGS_PATH VK_INSTANCE_LAYERS
}
sync_validation=VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT

# Runs the GPU test binaries and the selftest under the current environment.
run_tests() {
  local status=0 t t0 out
  for t in "${gpu_tests[@]}"; do
    [ -n "${exe[$t]:-}" ] || { echo "   no test binary $t" >&2; status=1; continue; }
    t0=$SECONDS
    if out=$("${exe[$t]}" 2>&1); then
      echo "   $t: $(grep -o '[0-9]* passed' <<<"$out" | tail -1) ($((SECONDS - t0)) s)"
    else
      grep -E 'panicked|FAILED|test result' <<<"$out" | head -20
      echo "   $t: FAILED ($((SECONDS - t0)) s)"
      status=1
    fi
  done
  t0=$SECONDS
  if out=$("$wgtrain" selftest --device gpu 2>&1); then
    echo "   selftest: $(tail -1 <<<"$out") ($((SECONDS - t0)) s)"
  else
    echo "$out" | grep -v ' ok ' | tail -20
    echo "   selftest: FAILED ($((SECONDS - t0)) s)"
    status=1
  fi
  return $status
}

shaders() {
  local dir=$work/shaders f status=0
  WGTRAIN_SHADER_OUT=$dir "${exe[shader_translation]}" -q >/dev/null
  for f in "$dir"/*.spv; do
    spirv-val --target-env vulkan1.0 "$f" || { echo "   spirv-val: $f" >&2; status=1; }
  done
  for f in "$dir"/*.comp; do
    glslangValidator -S comp "$f" >"$work/glslang.txt" ||
      { cat "$work/glslang.txt"; echo "   glslangValidator: $f" >&2; status=1; }
  done
  echo "   $(ls "$dir"/*.spv | wc -l) SPIR-V and $(ls "$dir"/*.comp | wc -l) GLSL modules checked"
  return $status
}

validation() {
  # The canary: best-practices warnings on `wgtrain devices` prove the layer is loaded and its
  # messages reach the log; without them a silent log would prove nothing.
  layer_on "$work/canary.txt" "$sync_validation,VK_VALIDATION_FEATURE_ENABLE_BEST_PRACTICES_EXT"
  "$wgtrain" devices >/dev/null
  layer_off
  if ! grep -q 'Validation' "$work/canary.txt"; then
    echo "   the validation layer printed nothing when provoked: is vulkan-validationlayers installed?"
    return 1
  fi
  echo "   canary: the layer reports ($(grep -c 'Validation' "$work/canary.txt") best-practices messages)"
  local status=0
  # WGTRAIN_LAYER_ENABLES adds features, e.g. best practices to see this pass fail.
  layer_on "$work/messages.txt" "$sync_validation${WGTRAIN_LAYER_ENABLES:+,$WGTRAIN_LAYER_ENABLES}"
  run_tests || status=1
  layer_off
  if [ -s "$work/messages.txt" ]; then
    echo "   the validation layer reported:"
    head -c 6000 "$work/messages.txt"
    status=1
  else
    echo "   validation layer (synchronization validation on): no messages"
  fi
  return $status
}

summary=()
failed=()
for step in "${steps[@]}"; do
  start=$SECONDS
  echo "== $step"
  if (
    case $step in
      shaders) shaders; exit ;;
      lavapipe | validation) export WGPU_BACKEND=vulkan WGPU_ADAPTER_NAME=llvmpipe ;;
      gl) export WGPU_BACKEND=gl WGPU_ADAPTER_NAME=llvmpipe ;;
      swiftshader)
        icd=$(swiftshader_icd)
        export WGPU_BACKEND=vulkan WGPU_ADAPTER_NAME=swiftshader VK_ICD_FILENAMES=$icd
        ;;
      *) echo "unknown step '$step': shaders, lavapipe, gl, swiftshader or validation" >&2; exit 2 ;;
    esac
    "$wgtrain" devices | grep -A1 '^0:' | sed 's/^/   /'
    if [ "$step" = validation ]; then validation; else run_tests; fi
  ); then
    summary+=("$step: passed in $((SECONDS - start)) s")
  else
    summary+=("$step: FAILED after $((SECONDS - start)) s")
    failed+=("$step")
  fi
done
echo "== summary"
printf '   %s\n' "${summary[@]}"
[ ${#failed[@]} -eq 0 ] || { echo "failed: ${failed[*]}" >&2; exit 1; }
