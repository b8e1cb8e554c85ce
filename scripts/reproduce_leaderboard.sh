#!/usr/bin/env bash
# Re-run every built-in submission on every shipped bank (seed 0, 1,000 bootstrap replicates),
# then rebuild the leaderboard: results/*/*/*.json, results/LEADERBOARD.md, leaderboard.csv,
# plots/ and site/.  SKIP_LORA=1 skips lora-probe, which fine-tunes Gemma 3 270M on the CPU
# (about 20 minutes for the GSM8K bank).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_venv.sh "all"
export HF_HUB_OFFLINE=1
subs=(constant logistic mlp-probe)
if [ "${SKIP_LORA:-0}" != 1 ]; then subs+=(lora-probe); fi
for manifest in tasks/*/banks/*/manifest.json; do
  bank_dir=$(dirname "$manifest")
  task=$(basename "$(dirname "$(dirname "$bank_dir")")")
  for sub in "${subs[@]}"; do
    echo "== $task / $(basename "$bank_dir") / $sub" >&2
    .venv/bin/bench run --task "$task" --bank "$(basename "$bank_dir")" --submission "$sub" > /dev/null
  done
done
.venv/bin/bench leaderboard
