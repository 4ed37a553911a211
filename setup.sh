#!/usr/bin/env bash
# Set up .venv for conslaw: PyTorch first, then the package with its book and test
# extras. Safe to run again; it installs only what is missing or changed.
#
#   PYTHON=python3.11 ./setup.sh                  choose the interpreter
#   TORCH_SPEC='torch==2.13.0' ./setup.sh         choose the torch build
#   TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu ./setup.sh
#   CONSLAW_SKIP_SYSTEM=1 ./setup.sh               do not apt-get install chromium
#
# Besides Python packages it installs MathJax 3 from npm into .venv/mathjax (the
# book serves it, so math renders offline) and, as root on Debian or Ubuntu,
# Chromium for the browser test.
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

mathjax_version=3.2.2
if [ ! -f .venv/mathjax/node_modules/mathjax/es5/tex-chtml.js ]; then
  if command -v npm >/dev/null; then
    echo "setup: installing mathjax@$mathjax_version from npm into .venv/mathjax"
    npm install --silent --no-audit --no-fund --prefix .venv/mathjax "mathjax@$mathjax_version"
  else
    echo "setup: warning: npm not found; the book will load MathJax from a CDN" >&2
  fi
fi

if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null \
  && [ -z "${CONSLAW_SKIP_SYSTEM:-}" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing chromium (apt-get) for the browser test"
    apt-get install -y -qq chromium >/dev/null 2>&1 \
      || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
  else
    echo "setup: note: no chromium; the browser test will be skipped" >&2
  fi
fi
.venv/bin/python -c "import conslaw, torch; print('setup: conslaw', conslaw.__version__, 'with torch', torch.__version__)"
