#!/usr/bin/env bash
# Interleaved runs of `wgtrain bench --device cpu` and the PyTorch reference on T1-T3 and T5
# (Adam, 100 epochs: also its first and last ten epochs), then the median samples/s of each and
# their ratio. The machine is noisy (±25% between runs): only the
# ratio of interleaved runs means much.
# usage: scripts/cpu-vs-pytorch.sh [rounds] [reference.sh] [threads]   (setup-reference.sh once first)
# threads: both sides use that many (default 2, the reference's default). TASKS="T1 T5" picks tasks.
# On a CPU without AVX-512, where ../shared/bench/reference.sh dies with SIGILL, the reference
# runs with OpenBLAS's Haswell kernel instead (said once on stderr).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
ref=${2:-../shared/bench/reference.sh}
threads=${3:-2}
cargo build --release --quiet
out=$(mktemp)
# The reference's line for task $1. reference.sh sets OPENBLAS_CORETYPE=SkylakeX, which dies
# with SIGILL (exit 132) on a CPU without AVX-512 (AMD Zen 3 hosts of this kind): then its
# reference_mlp.py runs with the same settings but the Haswell (AVX2) kernel, said once.
haswell=0
reference() {
  local line rc=0
  if [ "$haswell" = 0 ]; then
    line=$("$ref" "$1" "$threads") || rc=$?
    if [ "$rc" = 132 ] && [ -f "$(dirname "$ref")/reference_mlp.py" ]; then
      echo "note: $ref died with SIGILL (no AVX-512 here): running its reference_mlp.py with OPENBLAS_CORETYPE=Haswell" >&2
      haswell=1
    elif [ "$rc" != 0 ]; then
      echo "error: $ref $1 $threads failed (exit $rc)" >&2
      exit 1
    fi
  fi
  if [ "$haswell" = 1 ]; then
    line=$(OPENBLAS_CORETYPE=Haswell OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads \
      LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
      /usr/bin/python3 "$(dirname "$ref")/reference_mlp.py" --task "$1" --threads "$threads")
  fi
  echo "$line"
}
for r in $(seq "$rounds"); do
  for t in ${TASKS:-T1 T2 T3 T5}; do
    reference "$t" >"$out.ref" # not in a subshell: the Haswell switch must persist
    line=$(cat "$out.ref")
    echo "{\"round\": $r, \"who\": \"pytorch\", \"line\": $line}" >>"$out"
    line=$(./target/release/wgtrain bench --task "$t" --device cpu --threads "$threads" --json 2>/dev/null) ||
      { echo "error: wgtrain bench --task $t failed (run it alone to see why)" >&2; exit 1; }
    echo "{\"round\": $r, \"who\": \"wgtrain\", \"line\": $line}" >>"$out"
  done
done
python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"{'task':<5}{'pytorch samples/s':>19}{'wgtrain samples/s':>19}{'ratio':>7}{'acc pytorch':>13}{'acc wgtrain':>13}")
for t in sorted({r["line"]["task"] for r in rows}):
    get = lambda who, k: [r["line"][k] for r in rows if r["who"] == who and r["line"]["task"] == t]
    p, w = statistics.median(get("pytorch", "samples_per_sec")), statistics.median(get("wgtrain", "samples_per_sec"))
    print(f"{t:<5}{p:>19.0f}{w:>19.0f}{w / p:>7.2f}{statistics.median(get('pytorch', 'test_accuracy')):>13.4f}{statistics.median(get('wgtrain', 'test_accuracy')):>13.4f}")
    for k in ("first10_samples_per_sec", "last10_samples_per_sec"):
        if get("wgtrain", k) and get("wgtrain", k)[0] is not None:
            p, w = statistics.median(get("pytorch", k)), statistics.median(get("wgtrain", k))
            print(f"  {k.split('_')[0]:<3}{p:>19.0f}{w:>19.0f}{w / p:>7.2f}")
PY
rm -f "$out" "$out.ref"
