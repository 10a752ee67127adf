#!/bin/bash
# Wall time of the Table 1 fixed-recipe grid (11 configurations x 5 seeds, 20 epochs, mnist5k),
# from scratch, one arm per commit, in turn: `bash scripts/time_sweep.sh <commit> [<commit> ...]`.
# Each arm runs in its own worktree under $WORK (default /tmp/mfh-sweeptime) with this
# checkout's .venv; times go to $WORK/times.txt, logs and records to $WORK/{log,out}-<commit>.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=$ROOT/.venv/bin/python
WORK=${WORK:-/tmp/mfh-sweeptime}
mkdir -p "$WORK"
for commit in "$@"; do
  tree=$WORK/tree-$commit
  [ -d "$tree" ] || git -C "$ROOT" worktree add -f -q "$tree" "$commit"
  cd "$tree" || exit 1
  $PY -c "import sys; sys.path.insert(0, '.'); from mfh.method import kernels; kernels.library()"
  rm -rf "$WORK/out-$commit"
  start=$(date +%s.%N)
  $PY scripts/table1.py --layout experiments/table1_fixed_recipe.yaml \
    --results-dir "$WORK/out-$commit" logger=none checkpoint=false > "$WORK/log-$commit.txt" 2>&1
  rc=$?
  end=$(date +%s.%N)
  echo "$commit rc=$rc wall=$(echo "$end - $start" | bc) s load=$(cut -d' ' -f1-3 /proc/loadavg)" \
    | tee -a "$WORK/times.txt"
done
