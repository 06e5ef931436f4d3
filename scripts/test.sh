#!/usr/bin/env bash
# Install the package with its test extras and run the whole test suite (the README's second command).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -e ".[test]"
python -m pytest -ra "$@"
