#!/usr/bin/env bash
# Re-run every built-in submission on every shipped bank (seed 0, 1,000 bootstrap replicates),
# then rebuild the leaderboard: results/*/*/*.json, results/LEADERBOARD.md, leaderboard.csv,
# LEADERBOARD-portfolio.md, plots/ and site/.
#
# - lora-probe fine-tunes Gemma 3 270M on the CPU (about 20 minutes for a 1,319-query bank, an hour
#   for math/pika-k50), so it runs only on the banks in LORA_BANKS (default: the ones the committed
#   leaderboard has it on);
#   SKIP_LORA=1 skips it everywhere.
# - pika-linear-probe ships predictions for math/pika-k50 only.
# - portfolio runs (several decoders with costs) on the banks in PORTFOLIO_BANKS (default: every bank
#   with two or more decoders), over every decoder of the bank and over the extra decoder sets that
#   portfolio_decoder_sets names (math/pika-k50: also the Qwen2.5-Math-1.5B/7B-Instruct pair at T 0.6
#   and T 1.0; docs/portfolio.md says why); pika-linear-probe on math/pika-k50; lora-probe only on
#   LORA_PORTFOLIO_BANKS (default: none: its CPU fine-tune is too slow for every bank).
# - transfer runs (`--train-bank`: fit on one bank, score on another of the same setting): TRANSFERS.
# - BANKS="task/bank ..." limits the re-run to those banks (and the transfers scored on them), e.g.
#   after adding features to a bank, which changes its manifest and so every result's bank_sha256;
#   the leaderboard is rebuilt from all committed results either way.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_venv.sh "all"
export HF_HUB_OFFLINE=1
subs=(constant prompt-length logistic mlp-probe)
LORA_BANKS=${LORA_BANKS:-"gsm8k/mixtral-vs-gpt4 math/qwen25-math-8 math/qwen25-math-rm-8 lmsys/arena-mixtral-vs-gpt4 humaneval/codegen16b-k100 lmsys/arena-bench-15 humaneval/qwen2.5-coder-0.5b-k20 gsm8k/gpt3-6b-175b hh/alpacaeval-helpful mbpp/qwen2.5-coder-0.5b-k16 taco/qwen2.5-coder-1.5b-public-tests-pilot humaneval/qwen2.5-coder-0.5b-vs-1.5b gsm8k/qwen2.5-coder-0.5b-k16 math/pika-k50"}
PORTFOLIO_BANKS=${PORTFOLIO_BANKS:-"gsm8k/gpt3-6b-175b gsm8k/mixtral-vs-gpt4 hh/alpacaeval-helpful humaneval/qwen2.5-coder-0.5b-vs-1.5b lmsys/arena-bench-15 lmsys/arena-mixtral-vs-gpt4 math/pika-k50"}
LORA_PORTFOLIO_BANKS=${LORA_PORTFOLIO_BANKS:-""}
portfolio_decoder_sets() {   # one line per decoder set to publish; an empty line: every decoder of the bank
  echo ""
  case "$1" in
    math/pika-k50) echo "Qwen2.5-Math-1.5B-Instruct@T0.6 Qwen2.5-Math-1.5B-Instruct@T1.0 Qwen2.5-Math-7B-Instruct@T0.6 Qwen2.5-Math-7B-Instruct@T1.0" ;;
  esac
}
TRANSFERS=${TRANSFERS:-"gsm8k/mixtral-vs-gpt4:gpt3-6b-175b lmsys/arena-mixtral-vs-gpt4:arena-bench-15"}
selected() { [ -z "${BANKS:-}" ] || [[ " $BANKS " == *" $1 "* ]]; }   # is task/bank $1 to be re-run?
run() { echo "== bench run $*" >&2; .venv/bin/bench run "$@" > /dev/null < /dev/null; }  # stdin: not a loop's list
for manifest in tasks/*/banks/*/manifest.json; do
  bank_dir=$(dirname "$manifest")
  bank=$(basename "$bank_dir")
  task=$(basename "$(dirname "$(dirname "$bank_dir")")")
  selected "$task/$bank" || continue
  for sub in "${subs[@]}"; do
    run --task "$task" --bank "$bank" --submission "$sub"
  done
  if [ "${SKIP_LORA:-0}" != 1 ] && [[ " $LORA_BANKS " == *" $task/$bank "* ]]; then
    run --task "$task" --bank "$bank" --submission lora-probe
  fi
  if [ "$task/$bank" = math/pika-k50 ]; then
    run --task math --bank pika-k50 --submission pika-linear-probe
  fi
  if [[ " $PORTFOLIO_BANKS " == *" $task/$bank "* ]]; then
    portfolio_subs=("${subs[@]}")
    [ "$task/$bank" = math/pika-k50 ] && portfolio_subs+=(pika-linear-probe)
    if [ "${SKIP_LORA:-0}" != 1 ] && [[ " $LORA_PORTFOLIO_BANKS " == *" $task/$bank "* ]]; then
      portfolio_subs+=(lora-probe)
    fi
    while IFS= read -r decoders; do
      for sub in "${portfolio_subs[@]}"; do
        # shellcheck disable=SC2086  # split the decoder list (the names hold no spaces)
        run --task "$task" --bank "$bank" --submission "$sub" --setting portfolio ${decoders:+--decoders $decoders}
      done
    done < <(portfolio_decoder_sets "$task/$bank")
  fi
done
for pair in $TRANSFERS; do       # <task>/<fitting bank>:<scored bank>
  task=${pair%%/*}; rest=${pair#*/}
  selected "$task/${rest#*:}" || continue
  for sub in prompt-length logistic mlp-probe; do
    run --task "$task" --bank "${rest#*:}" --train-bank "${rest%%:*}" --submission "$sub"
  done
done
.venv/bin/bench leaderboard
