#!/bin/bash
# Before (5af07a9, the task's start: /tmp/gk_orig, its own bench tool) and after (HEAD), alternated.
set -u
COMMON="--workloads W6,W7 --frameworks gpukeras,keras3-jax,torch --repeats 2 --epochs 3 --threads 1 --wait-idle 10 --python-for keras3=/tmp/k3venv/bin/python --python-for torch=/tmp/k3venv/bin/python --no-chart"
for round in 1 2; do
  echo "== round $round before $(date -u +%H:%M:%S)"
  (cd /tmp/gk_orig && PYTHONPATH=/tmp/gk_orig /work/main/.venv/bin/python -m gpukeras.bench $COMMON --out /tmp/final/before-$round) > /tmp/final/before-$round.log 2>&1
  echo "== round $round after $(date -u +%H:%M:%S)"
  (cd /work/main && .venv/bin/python -m gpukeras.bench $COMMON --out /tmp/final/after-$round) > /tmp/final/after-$round.log 2>&1
done
echo "== done $(date -u +%H:%M:%S)"
