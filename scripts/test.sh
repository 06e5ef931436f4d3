#!/usr/bin/env bash
# The README's test command: install what the tests need (the package with its test extras, a private
# Docker Engine with a locally built Python image, Debian's Chromium) and run the whole test suite.
# Outside CI, a service that cannot be set up here (no root, no apt) only makes its suite skip with a
# reason; under CI=true the suites that need it fail instead.
set -euo pipefail
cd "$(dirname "$0")/.."

python -m pip install -q -e ".[test]"

setup_services() {
    local env
    env="$(bash scripts/docker-engine.sh start)" || return 1
    eval "$env"
    bash scripts/build-test-image.sh || return 1
    if [[ -f scripts/install-chromium.sh ]]; then
        bash scripts/install-chromium.sh || return 1
    fi
}
trap 'bash scripts/docker-engine.sh stop >/dev/null 2>&1 || true' EXIT
if ! setup_services; then
    if [[ "${CI:-}" == "true" ]]; then
        echo "test.sh: could not set up the Docker Engine or Chromium" >&2
        exit 1
    fi
    echo "test.sh: some services could not be set up here; their test suites will skip" >&2
fi

python -m pytest -ra "$@"
