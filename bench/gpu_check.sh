#!/usr/bin/env bash
# One prepared GPU check: the whole test suite on the CuPy backend, the kernel benchmarks, the
# sequence benchmarks (issue 11: LSTM and attention vs PyTorch), the convolution-family kernels (issue 12:
# depthwise, transposed, bilinear vs the paths they replace and PyTorch), ResNet-50 and MobileNetV2 training
# vs PyTorch eager with cuDNN (issue 12), the seed program on NumPy and on CuPy, and the framework
# comparison (--gpu).
#
# Run from anywhere in the checkout on a GPU machine (CuPy, pytest, optionally torch installed;
# no network needed):   OUT=/some/dir bench/gpu_check.sh
# Writes under $OUT (default bench/results/<UTC date>): env.txt, pytest.log, junit.xml,
# bench.log, results.json, results.md, gemm.log, gemm.json, gemm.md, graphs.log, graphs/, sequence.log, sequence.json, sequence.md,
# vision.log, vision.json, vision.md, models.log, models/, scale.log, scale.json, scale.md, seed-*.log, compare/, summary.txt. Each part has its own
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
PY=${PYTHON:-$(command -v python3 || command -v python)}
# The device tool allows one 10-minute command: every part gets a cap, and all of them share a
# deadline, most important first (core tests, kernel benchmarks, sequence benchmarks, convolution
# kernels, image models vs PyTorch, seed program, rest, comparison).
BUDGET=${BUDGET:-560}
DEADLINE=$(( $(date +%s) + BUDGET ))
cap() { local left=$(( DEADLINE - $(date +%s) - 5 )); if [ "$left" -lt "$1" ]; then echo $(( left > 1 ? left : 1 )); else echo "$1"; fi; }

log() { echo "[gpu_check $(date -u +%H:%M:%S)] $*" | tee -a "$OUT/summary.txt"; }

log "checkout $ROOT, results in $OUT, dry-run=$DRY, budget ${BUDGET}s"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "host: $(uname -a)"
  echo "git: $(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo none) $(git -C "$ROOT" status --short 2>/dev/null | wc -l) changed files"
  timeout 30 nvidia-smi 2>&1 || echo "nvidia-smi unavailable"
  "$PY" -V 2>&1
  timeout 30 "$PY" -c "import numpy; print('numpy', numpy.__version__)" 2>&1
  timeout 30 "$PY" -c "import cupy; print('cupy', cupy.__version__, 'available', cupy.is_available())" 2>&1
  timeout 30 "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" 2>&1
} > "$OUT/env.txt" 2>&1

# Tests that say most about the GPU run first: kernels vs their twins, NVRTC, every backend against
# float64 math (conformance), the launchers and their build warnings, training, syncs.
CORE=(tests/test_kernel_twins.py tests/test_kernels_nvrtc.py tests/test_backend_conformance.py
      tests/test_kernel_launchers.py tests/test_seed_program.py tests/test_training.py tests/test_device_sync.py
      tests/test_step_graphs.py tests/test_gemm_kernel.py tests/test_compiled_step.py
      tests/test_ops_gradients.py tests/test_attention_kernel_twins.py
      tests/test_image_kernel_twins.py tests/test_vision_kernel_twins.py tests/test_recurrent_kernel_twins.py)
if [ "$DRY" = 1 ]; then
  BACKEND=numpy
  TEST_BACKENDS=cupy-emulated  # the CuPy backend's code with our kernels compiled for the CPU
  REST=(tests/test_backend_selection.py tests/test_losses.py)
  BENCH_ARGS=(--dry-run)
else
  BACKEND=cupy
  TEST_BACKENDS=cupy
  # tests that never touch the backend (compiles, wheel build: it needs the package index) are CI's
  REST=(tests -m "not any_backend")
  BENCH_ARGS=()
fi

run_pytest() {  # name, cap seconds, pytest arguments...
  local name=$1 limit; limit=$(cap "$2"); shift 2
  log "pytest $name on $TEST_BACKENDS (cap ${limit}s)"
  local t0; t0=$(date +%s)
  timeout "$limit" env GPUKERAS_BACKEND=$BACKEND GPUKERAS_TEST_BACKENDS=$TEST_BACKENDS \
    "$PY" -m pytest -q -p no:cacheprovider -o junit_family=xunit2 --junitxml="$OUT/junit-$name.xml" "$@" \
    > "$OUT/pytest-$name.log" 2>&1
  local rc=$?
  log "pytest $name exit $rc after $(( $(date +%s) - t0 ))s: $(tail -n 1 "$OUT/pytest-$name.log")"
  return $rc
}

run_pytest core 180 "${CORE[@]}" -m "not any_backend"
core_rc=$?

# A Python process that imports cupy: the real one, or under --dry-run the emulated CuPy
# (tests/emulation/site makes `import cupy` load it).
CUPY_PATH=$PYTHONPATH
if [ "$DRY" = 1 ]; then CUPY_PATH="$ROOT/tests/emulation/site:$PYTHONPATH"; fi

run_part() {  # name, what, cap seconds, table to show ("" for none), command...; output in $OUT/<name>.log
  local name=$1 what=$2 limit=$3 table=$4; shift 4
  log "$what (cap ${limit}s)"
  local t0; t0=$(date +%s)
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  log "$what exit $rc after $(( $(date +%s) - t0 ))s"
  if [ -n "$table" ] && [ -f "$table" ]; then tee -a "$OUT/summary.txt" < "$table"; fi
  return $rc
}

limit=$(cap 100)
run_part bench "kernel benchmarks" "$limit" "$OUT/results.md" env GPUKERAS_BACKEND=$BACKEND \
  "$PY" "$ROOT/bench/bench_kernels_gpu.py" --out "$OUT" --junit "$OUT/junit-core.xml" "${BENCH_ARGS[@]}"
bench_rc=$?

# Issue 13's GEMM kernel (matrix products inside captured CUDA graphs) vs cuBLAS: W1/W2 training
# products, 1024^3 and 4096^3, float32; later cases skipped past the budget.
limit=$(cap 40)
run_part gemm "gemm benchmarks" "$limit" "$OUT/gemm.md" env GPUKERAS_BACKEND=$BACKEND \
  "$PY" "$ROOT/bench/bench_gemm_gpu.py" --out-json "$OUT/gemm.json" --out-md "$OUT/gemm.md" \
  --budget $(( limit > 15 ? limit - 10 : 5 )) "${BENCH_ARGS[@]}"
gemm_rc=$?

# Issue 13's step graphs: the compiled step as one CUDA graph per step (gpukeras) vs the same plan call by
# call (gpukeras-nographs), the eager step, PyTorch eager and the cuBLAS GEMM-only bound: W1S (the user's
# 784-128-10 with softmax and accuracy), the MNIST convnet (W3), W2 at batch 4096 (the bound's workload).
if [ "$DRY" = 1 ]; then
  GRAPH_ARGS=(--workloads W1S --frameworks gpukeras,gpukeras-nographs --samples 64 --epochs 1)
else
  GRAPH_ARGS=(--workloads W1S,W3,W2 --frameworks gpukeras,gpukeras-nographs,gpukeras-eager,torch,bound --repeats 2)
fi
limit=$(cap 150)
run_part graphs "step graphs vs plans, eager and PyTorch" "$limit" "$OUT/graphs/table.md" env PYTHONPATH="$CUPY_PATH" \
  "$PY" -m gpukeras.bench --gpu --quick --no-chart --timeout $(( limit / 4 > 20 ? limit / 4 : 20 )) \
  --out "$OUT/graphs" "${GRAPH_ARGS[@]}"
graphs_rc=$?

# Issue 11's sequence benchmarks: our LSTM layer vs torch.nn.LSTM (cuDNN), our attention vs
# scaled_dot_product_attention, fused vs unfused, float16, sequences 512 and 2048. The script stops
# starting parts 25 s before its cap and writes each part as it ends.
limit=$(cap 130)
run_part sequence "sequence benchmarks" "$limit" "$OUT/sequence.md" env GPUKERAS_BACKEND=$BACKEND \
  "$PY" "$ROOT/bench/bench_sequence_gpu.py" --out "$OUT" --budget $(( limit > 35 ? limit - 25 : 10 )) "${BENCH_ARGS[@]}"
sequence_rc=$?

# Issue 12's convolution kernels: depthwise (vs the im2col + grouped GEMM path and cuDNN), the direct
# transposed convolution (vs GEMM + col2im), bilinear up-sampling; later parts skipped past the budget.
limit=$(cap 45)
run_part vision "vision benchmarks" "$limit" "$OUT/vision.md" env GPUKERAS_BACKEND=$BACKEND \
  "$PY" "$ROOT/bench/bench_vision_gpu.py" --out "$OUT" --budget $(( limit > 15 ? limit - 10 : 5 )) "${BENCH_ARGS[@]}"
vision_rc=$?

# Issue 12's models: keras.applications' ResNet50 (W8) and MobileNetV2 (W9), 224x224x3, 1000 classes,
# training samples/s at batch 128, ours on CuPy vs PyTorch eager with cuDNN (goal >= 0.6x). Each runner
# may take a third of the cap (ours are the slow ones; PyTorch's take seconds), so one that hangs leaves
# the others their time and the table is still written.
if [ "$DRY" = 1 ]; then
  MODELS_ARGS=(--workloads W6,W7 --batch 1 --samples 1)  # the same runners, applications and report, CIFAR-sized
else
  MODELS_ARGS=(--workloads W8,W9)
fi
limit=$(cap 180)
run_part models "image models vs PyTorch" "$limit" "$OUT/models/table.md" env PYTHONPATH="$CUPY_PATH" \
  "$PY" -m gpukeras.bench --gpu --quick --epochs 1 --samples 256 --frameworks gpukeras,torch --no-chart \
  --timeout $(( limit / 3 > 20 ? limit / 3 : 20 )) --out "$OUT/models" "${MODELS_ARGS[@]}"
models_rc=$?

# The seed program (gpukeras.demo) on NumPy and on CuPy: the same accuracy is expected.
seed_rc=0
for b in numpy cupy; do
  seed=$(timeout "$(cap 60)" env GPUKERAS_BACKEND=$b PYTHONPATH="$CUPY_PATH" "$PY" -m gpukeras.demo 2>&1)
  rc=$?
  echo "$seed" > "$OUT/seed-$b.log"
  log "seed program on $b: exit $rc, $(echo "$seed" | grep -E '^(loss|accuracy):' | tr '\n' ' ')"
  if [ "$rc" -ne 0 ]; then seed_rc=$rc; fi
done

# Issue 14: the one-rank NCCL path of data-parallel training, and mixed precision speed (W2 at batch 4096,
# the MNIST convnet) under float32, mixed_float16, mixed_bfloat16.
limit=$(cap 60)
run_part scale "scale checks" "$limit" "$OUT/scale.md" env GPUKERAS_BACKEND=$BACKEND \
  "$PY" "$ROOT/bench/bench_scale_gpu.py" --out "$OUT" --budget $(( limit > 20 ? limit - 15 : 5 )) "${BENCH_ARGS[@]}"
scale_rc=$?

# The rest of the suite (without the core files), leaving about two minutes for the comparison.
IGNORES=()
for f in "${CORE[@]}"; do IGNORES+=(--ignore="$f"); done
run_pytest rest $(( $(cap 400) - 120 > 30 ? $(cap 400) - 120 : 30 )) "${REST[@]}" "${IGNORES[@]}"
rest_rc=$?

# The framework comparison (W1-W3 vs PyTorch and the cuBLAS GEMM-only bound), quick mode.
if [ "$DRY" = 1 ]; then
  COMPARE_ARGS=(--gpu --workloads W1 --frameworks gpukeras,bound --samples 256 --epochs 1)
else
  COMPARE_ARGS=(--gpu)
fi
run_part compare "framework comparison" "$(cap 150)" "$OUT/compare/table.md" env PYTHONPATH="$CUPY_PATH" \
  "$PY" -m gpukeras.bench --quick --no-chart --out "$OUT/compare" "${COMPARE_ARGS[@]}"
compare_rc=$?

log "done: core tests rc=$core_rc, bench rc=$bench_rc, gemm rc=$gemm_rc, graphs rc=$graphs_rc, sequence rc=$sequence_rc, vision rc=$vision_rc, models rc=$models_rc, scale rc=$scale_rc, seed rc=$seed_rc, other tests rc=$rest_rc, compare rc=$compare_rc; files in $OUT"
for rc in $core_rc $bench_rc $gemm_rc $graphs_rc $sequence_rc $vision_rc $models_rc $scale_rc $seed_rc $rest_rc $compare_rc; do [ "$rc" -eq 0 ] || exit 1; done
exit 0
