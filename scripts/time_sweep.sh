#!/bin/bash
# Wall time of a table's sweep from scratch, one arm at a time, in turn:
#   bash scripts/time_sweep.sh <commit>[:local] [<commit>[:local] ...]
# An arm is a commit, run with the basic launcher (one job at a time, all cores) or, with
# `:local`, hydra/launcher=local (one one-thread job per core). The sweep is $LAYOUT (default
# results/archive/fixed_recipe/table1_fixed_recipe.yaml: 11 configurations x 5 seeds, 20
# epochs, mnist5k) with
# `scripts/table1.py $TABLE_ARGS` (e.g. "--dataset mnist5k"), logger=none checkpoint=false;
# numerics from $MFH_NUMERICS (default native). Each commit gets a worktree under $WORK
# (default /tmp/mfh-sweeptime) run with this checkout's .venv; times go to $WORK/times.txt,
# logs (each line prefixed with the Unix time it was printed) and records to
# $WORK/{log,out}-<arm>; `python scripts/time_left_check.py $WORK/log-<arm>.txt` compares
# the sweep's time-left lines with the time it then took.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=$ROOT/.venv/bin/python
WORK=${WORK:-/tmp/mfh-sweeptime}
LAYOUT=${LAYOUT:-results/archive/fixed_recipe/table1_fixed_recipe.yaml}
mkdir -p "$WORK"
export PYTHONUNBUFFERED=1   # the log's time stamps are those of the lines
for arm in "$@"; do
  commit=${arm%%:*}
  launcher=()
  [ "$arm" != "$commit" ] && launcher=("hydra/launcher=${arm#*:}")
  name=${arm/:/-}
  tree=$WORK/tree-$commit
  [ -d "$tree" ] || git -C "$ROOT" worktree add -f -q "$tree" "$commit"
  cd "$tree" || exit 1
  $PY -c "import sys; sys.path.insert(0, '.'); from mfh import numerics; numerics.apply([]); from mfh.method import kernels; kernels.library()"
  rm -rf "$WORK/out-$name"
  start=$(date +%s.%N)
  # shellcheck disable=SC2086  # TABLE_ARGS is a list of arguments
  $PY scripts/table1.py --layout "$LAYOUT" ${TABLE_ARGS:-} --results-dir "$WORK/out-$name" \
    logger=none checkpoint=false "${launcher[@]}" 2>&1 \
    | while IFS= read -r line; do printf '%(%s)T %s\n' -1 "$line"; done > "$WORK/log-$name.txt"
  rc=${PIPESTATUS[0]}
  end=$(date +%s.%N)
  echo "$name numerics=${MFH_NUMERICS:-native} rc=$rc wall=$(echo "$end - $start" | bc) s" \
    "load=$(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$WORK/times.txt"
done
