#!/usr/bin/env bash
# Set up everything the tests need on a fresh machine, then run them. This is the README's test command.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PIP_DISABLE_PIP_VERSION_CHECK=1

# Browser tests drive Debian's Chromium (never `playwright install`: it downloads a browser).
if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        echo "note: chromium is not installed (sudo apt-get install chromium); browser tests will be skipped" >&2
    fi
fi

# torch first, pinned: its CPU build lies on these machines; an unpinned torch pulls a CUDA build.
python -c "import torch" 2>/dev/null || python -m pip install -q torch==2.13.0
python -m pip install -q -e ".[test]"

python -m pytest "$@"
