#!/usr/bin/env bash
# The banks we generate ourselves on a CPU (README "Shipped banks"), made with `bench generate`
# exactly as below.  Every step is resumable: rerun the script after an interruption and it
# continues where it stopped (finished banks are skipped, a half-made bank resumes from its
# `.generate/` parts).  Nothing half-made is copied into tasks/: a bank is copied only once
# `bench generate` has scored every sample and written its manifest.
#
#   bash scripts/generate_cpu_banks.sh [WORK_DIR] [STEP...]
#
# WORK_DIR (default .gen, git-ignored) holds the banks while they are made; STEP names limit the
# run to some banks (default: all, in the order below).  Needs the llamacpp and features extras
# (`bash scripts/setup_venv.sh "all,test"`).  Threads: HARDBENCH_THREADS (default: one per physical core).
# Measured on the 2-core development machine: Qwen2.5-Coder-0.5B about 100 generated tokens/s
# with 20 samples per batch on a quiet machine, the 1.5B model about 2.5x slower.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-.gen}
shift || true
STEPS=("$@")
BENCH=${BENCH:-bench}
export HF_HUB_OFFLINE=1

wanted() {   # is step $1 selected?
    [ ${#STEPS[@]} -eq 0 ] && return 0
    local s; for s in "${STEPS[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1
}

ship() {     # ship TASK NAME: copy a finished bank into tasks/TASK/banks/NAME
    local task=$1 name=$2 src=$WORK/$1/$2 dst=tasks/$1/banks/$2
    [ -f "$src/manifest.json" ] || { echo "not finished: $src" >&2; return 1; }
    if [ ! -f "$dst/manifest.json" ]; then
        mkdir -p "tasks/$task/banks" && rm -rf "$dst.tmp" && cp -r "$src" "$dst.tmp" && mv "$dst.tmp" "$dst"
        echo "shipped $dst"
    fi
}

features() { # features TASK NAME: the issue's feature set, each computed once (resumable)
    local bank=$WORK/$1/$2
    [ -f "$bank/features/minilm.npy" ] || $BENCH features --bank "$bank" --extractor minilm
    [ -f "$bank/features/lm-last-hidden--qwen2.5-coder-0.5b-instruct--chat.npy" ] \
        || $BENCH features --bank "$bank" --extractor lm-last-hidden:qwen2.5-coder-0.5b-instruct --chat-template
    [ -f "$bank/features/lm-last-hidden--gemma3-270m.npy" ] \
        || $BENCH features --bank "$bank" --extractor lm-last-hidden:gemma3-270m
}

# 1. HumanEval best-of-k: all 164 problems x 20 samples of the 0.5B model, T 0.8, chat prompt.
if wanted humaneval-k20; then
    $BENCH generate --task humaneval --model qwen2.5-coder-0.5b-instruct --n 20 --temperature 0.8 \
        --max-tokens 512 --allow-code-execution --out "$WORK/humaneval/qwen2.5-coder-0.5b-k20"
    features humaneval qwen2.5-coder-0.5b-k20
    ship humaneval qwen2.5-coder-0.5b-k20
fi

# 2. MBPP best-of-k: sanitized MBPP, up to 80 problems of each split (validation has 43), 16 samples.
if wanted mbpp-k16; then
    $BENCH generate --task mbpp --model qwen2.5-coder-0.5b-instruct --split test --split train \
        --split validation --limit 240 --n 16 --temperature 0.8 --max-tokens 512 \
        --allow-code-execution --out "$WORK/mbpp/qwen2.5-coder-0.5b-k16"
    features mbpp qwen2.5-coder-0.5b-k16
    ship mbpp qwen2.5-coder-0.5b-k16
fi

# 3. HumanEval model-size routing: 4 samples of the 1.5B model on the same 164 prompts, joined
#    with bank 1 (the 0.5B model's 20 samples): weak 0.5B -> strong 1.5B, and a portfolio bank.
#    4 prompts per batch (16 sequences): twice the rate of one prompt's 4 samples.  Costs: nominal
#    B params x mean generated tokens per sample.
if wanted humaneval-1.5b; then
    [ -f "$WORK/humaneval/qwen2.5-coder-0.5b-k20/manifest.json" ] || {   # the shipped bank 1
        mkdir -p "$WORK/humaneval"; cp -r tasks/humaneval/banks/qwen2.5-coder-0.5b-k20 "$WORK/humaneval/"; }
    HARDBENCH_BATCH_QUERIES=4 $BENCH generate --task humaneval --model qwen2.5-coder-1.5b-instruct --n 4 \
        --temperature 0.8 --max-tokens 512 --allow-code-execution --out "$WORK/humaneval/qwen2.5-coder-1.5b-k4"
    if [ ! -f "$WORK/humaneval/qwen2.5-coder-0.5b-vs-1.5b/manifest.json" ]; then
        $BENCH merge --decoders "$WORK/humaneval/qwen2.5-coder-0.5b-k20" \
            "$WORK/humaneval/qwen2.5-coder-1.5b-k4" --cost-weight 0.5 1.5 --cost-weight-unit "B params" \
            --out "$WORK/humaneval/qwen2.5-coder-0.5b-vs-1.5b"
    fi
    features humaneval qwen2.5-coder-0.5b-vs-1.5b
    ship humaneval qwen2.5-coder-0.5b-vs-1.5b
fi

# 4. GSM8K best-of-k: the first GSM8K_LIMIT/2 train + GSM8K_LIMIT/2 test problems (shipped: 64
#    in all, what one session's CPU allowed), 16 samples, T 0.7, the strict verifier.  To grow it, run a
#    larger GSM8K_LIMIT into a new --out with --reuse of this bank (as the taco-k8 step does for the
#    TACO pilot).
if wanted gsm8k-k16; then
    $BENCH generate --task gsm8k --model qwen2.5-coder-0.5b-instruct \
        --split train --split test --limit "${GSM8K_LIMIT:-64}" --n 16 --temperature 0.7 --max-tokens 512 \
        --out "$WORK/gsm8k/qwen2.5-coder-0.5b-k16"
    features gsm8k qwen2.5-coder-0.5b-k16
    ship gsm8k qwen2.5-coder-0.5b-k16
fi

# 5. TACO, 1.5B model, on the public examples cut from the statements (split test_public, hash
#    split into train/val/test): first a 50-problem pilot with 8 samples each.  The issue's rule:
#    if fewer than 5 % of the pilot's samples pass, report it and ship only what is honest.
if wanted taco-pilot; then
    $BENCH generate --task taco --split test_public --model qwen2.5-coder-1.5b-instruct --limit 50 \
        --n 8 --temperature 0.7 --max-tokens 1024 --allow-code-execution \
        --out "$WORK/taco/qwen2.5-coder-1.5b-public-tests-pilot"
    features taco qwen2.5-coder-1.5b-public-tests-pilot
    ship taco qwen2.5-coder-1.5b-public-tests-pilot    # shipped as what it is: the 50-problem pilot
fi

# 6. TACO bank: the pilot passed the 5 % rule (README, "Shipped banks"), so it grows to the first 200
#    test_public problems with the same settings; --reuse copies the pilot's 50 problems' samples
#    (the same seeds would draw them again) instead of generating them twice.
if wanted taco-k8; then
    pilot=$WORK/taco/qwen2.5-coder-1.5b-public-tests-pilot
    [ -f "$pilot/manifest.json" ] || { echo "run the taco-pilot step first" >&2; exit 1; }
    PY=$(dirname "$(command -v "$BENCH")")/python
    "$PY" - "$pilot" <<'PYEOF'
import sys
import pandas as pd
rate = pd.read_parquet(f"{sys.argv[1]}/rewards.parquet")["reward"].mean()
print(f"TACO pilot: {rate:.1%} of samples pass the public examples")
sys.exit(0 if rate >= 0.05 else "fewer than 5 % pass: report the pilot, do not grow it")
PYEOF
    $BENCH generate --task taco --split test_public --model qwen2.5-coder-1.5b-instruct --limit 200 \
        --n 8 --temperature 0.7 --max-tokens 1024 --allow-code-execution --reuse "$pilot" \
        --out "$WORK/taco/qwen2.5-coder-1.5b-public-tests"
    features taco qwen2.5-coder-1.5b-public-tests
    ship taco qwen2.5-coder-1.5b-public-tests
fi
