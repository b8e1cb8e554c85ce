#!/usr/bin/env bash
# Create ./.venv (if missing) and install hardbench into it with the given extras.
# Usage: scripts/setup_venv.sh [EXTRAS]   e.g. scripts/setup_venv.sh "all,test"
# torch 2.13.0 (a CPU wheel) is pinned in pyproject.toml's extras, pandas/pyarrow/numpy in constraints.txt; nothing is
# downloaded from a model hub.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
spec="."
if [ -n "$extras" ]; then spec=".[${extras}]"; fi
stamp=".venv/.hardbench-installed-$(echo "$extras" | tr ',' '-')"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
  # constraints.txt pins what the shipped banks' bytes depend on (pandas, pyarrow, numpy)
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e "$spec"
  touch "$stamp"
fi
