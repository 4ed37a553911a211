#!/usr/bin/env bash
# Set up .venv for conslaw: PyTorch first, then the package with its book and test
# extras. Safe to run again; it installs only what is missing or changed.
#
#   PYTHON=python3.11 ./setup.sh                  choose the interpreter
#   TORCH_SPEC='torch==2.13.0' ./setup.sh         choose the torch build
#   TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu ./setup.sh
#
# Installing torch before the package matters: a bare `torch` requirement, with no
# torch installed, resolves to a multi-GB CUDA build from PyPI.
set -euo pipefail
cd "$(dirname "$0")"
python=${PYTHON:-python3}
torch_spec=${TORCH_SPEC:-torch==2.13.0}

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($python --version)"
  "$python" -m venv .venv
fi
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  echo "setup: installing $torch_spec"
  .venv/bin/python -m pip install -q ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} "$torch_spec"
fi
echo "setup: installing conslaw[book,test]"
.venv/bin/python -m pip install -q -e ".[book,test]"
.venv/bin/python -c "import conslaw, torch; print('setup: conslaw', conslaw.__version__, 'with torch', torch.__version__)"
