#!/usr/bin/env bash
# One prepared GPU check: the whole test suite on the CuPy backend, the kernel benchmarks, the
# seed program on NumPy and on CuPy, and the framework comparison (--gpu).
#
# Run from anywhere in the checkout on a GPU machine (CuPy, pytest, optionally torch installed;
# no network needed):   OUT=/some/dir bench/gpu_check.sh
# Writes under $OUT (default bench/results/<UTC date>): env.txt, pytest.log, junit.xml,
# bench.log, results.json, results.md, seed-*.log, compare/, summary.txt. Each part has its own
# timeout and runs even when an earlier one failed. `--dry-run` rehearses all of it without a
# GPU, on the emulated CuPy (tests/emulation) at tiny sizes: it checks the script, not the GPU.
set -u

cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
DRY=0
if [ "${1:-}" = "--dry-run" ]; then DRY=1; fi
OUT=${OUT:-$ROOT/bench/results/$(date -u +%Y-%m-%dT%H%M%SZ)}
mkdir -p "$OUT" || exit 2
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
PY=${PYTHON:-python}
TEST_TIMEOUT=${TEST_TIMEOUT:-420}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-240}

log() { echo "[gpu_check $(date -u +%H:%M:%S)] $*" | tee -a "$OUT/summary.txt"; }

log "checkout $ROOT, results in $OUT, dry-run=$DRY"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "host: $(uname -a)"
  echo "git: $(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo none) $(git -C "$ROOT" status --short 2>/dev/null | wc -l) changed files"
  timeout 30 nvidia-smi 2>&1 || echo "nvidia-smi unavailable"
  "$PY" -V 2>&1
  timeout 60 "$PY" -c "import numpy; print('numpy', numpy.__version__)" 2>&1
  timeout 60 "$PY" -c "import cupy; print('cupy', cupy.__version__, 'available', cupy.is_available())" 2>&1
  timeout 60 "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" 2>&1
} > "$OUT/env.txt" 2>&1

if [ "$DRY" = 1 ]; then
  BACKEND=numpy
  TEST_BACKENDS=cupy-emulated  # the CuPy backend's code with our kernels compiled for the CPU
  TESTS=(tests/test_kernel_twins.py tests/test_backend_selection.py tests/test_training.py)
  BENCH_ARGS=(--dry-run)
else
  BACKEND=cupy
  TEST_BACKENDS=cupy
  TESTS=()
  BENCH_ARGS=()
fi

log "pytest on $TEST_BACKENDS (timeout ${TEST_TIMEOUT}s)"
start=$(date +%s)
timeout "$TEST_TIMEOUT" env GPUKERAS_BACKEND=$BACKEND GPUKERAS_TEST_BACKENDS=$TEST_BACKENDS \
  "$PY" -m pytest -q -p no:cacheprovider -o junit_family=xunit2 --junitxml="$OUT/junit.xml" "${TESTS[@]}" \
  > "$OUT/pytest.log" 2>&1
test_rc=$?
log "pytest exit $test_rc after $(( $(date +%s) - start ))s: $(tail -n 1 "$OUT/pytest.log")"

log "benchmarks (timeout ${BENCH_TIMEOUT}s)"
start=$(date +%s)
timeout "$BENCH_TIMEOUT" env GPUKERAS_BACKEND=$BACKEND \
  "$PY" "$ROOT/bench/bench_kernels_gpu.py" --out "$OUT" --junit "$OUT/junit.xml" "${BENCH_ARGS[@]}" \
  > "$OUT/bench.log" 2>&1
bench_rc=$?
log "benchmarks exit $bench_rc after $(( $(date +%s) - start ))s"
if [ -f "$OUT/results.md" ]; then cat "$OUT/results.md" | tee -a "$OUT/summary.txt"; fi

# The seed program (gpukeras.demo) on NumPy and on CuPy: the same accuracy is expected.
SEED_PATH=$PYTHONPATH
if [ "$DRY" = 1 ]; then SEED_PATH="$ROOT/tests/emulation/site:$PYTHONPATH"; fi
seed_rc=0
for b in numpy cupy; do
  seed=$(timeout 180 env GPUKERAS_BACKEND=$b PYTHONPATH="$SEED_PATH" "$PY" -m gpukeras.demo 2>&1)
  rc=$?
  echo "$seed" > "$OUT/seed-$b.log"
  log "seed program on $b: exit $rc, $(echo "$seed" | grep -E '^(loss|accuracy):' | tr '\n' ' ')"
  if [ "$rc" -ne 0 ]; then seed_rc=$rc; fi
done

# The framework comparison (W1-W3 vs PyTorch and the cuBLAS GEMM-only bound), quick mode.
COMPARE_TIMEOUT=${COMPARE_TIMEOUT:-240}
COMPARE_PATH=$PYTHONPATH
if [ "$DRY" = 1 ]; then
  # the --gpu path on the emulated CuPy (tests/emulation/site makes `import cupy` load it)
  COMPARE_PATH="$ROOT/tests/emulation/site:$PYTHONPATH"
  COMPARE_ARGS=(--gpu --workloads W1 --frameworks gpukeras,bound --samples 256 --epochs 1)
else
  COMPARE_ARGS=(--gpu)
fi
log "framework comparison (timeout ${COMPARE_TIMEOUT}s)"
start=$(date +%s)
timeout "$COMPARE_TIMEOUT" env PYTHONPATH="$COMPARE_PATH" \
  "$PY" -m gpukeras.bench --quick --no-chart --out "$OUT/compare" "${COMPARE_ARGS[@]}" \
  > "$OUT/compare.log" 2>&1
compare_rc=$?
log "comparison exit $compare_rc after $(( $(date +%s) - start ))s"
if [ -f "$OUT/compare/table.md" ]; then cat "$OUT/compare/table.md" >> "$OUT/summary.txt"; fi

log "done: tests rc=$test_rc, bench rc=$bench_rc, seed rc=$seed_rc, compare rc=$compare_rc; files in $OUT"
if [ "$test_rc" -ne 0 ] || [ "$bench_rc" -ne 0 ] || [ "$seed_rc" -ne 0 ] || [ "$compare_rc" -ne 0 ]; then exit 1; fi
exit 0
