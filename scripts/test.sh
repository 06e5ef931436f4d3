#!/usr/bin/env bash
# The README's test command: install what the tests need (the package with its test extras, a private
# Docker Engine with a locally built Python image, PostgreSQL, a one-node Slurm, a local Ray head,
# Debian's Chromium) and run the whole test suite.
# Outside CI, a service that cannot be set up here (no root, no apt) only makes its suite skip with a
# reason; under CI=true the suites that need it fail instead.
set -euo pipefail
cd "$(dirname "$0")/.."

python -m pip install -q -e ".[test,ray]"

STARTED=()  # the services this run started: only those are stopped at exit, never one that was running

# start SCRIPT: start a service (idempotent) and take in the variables it prints (DOCKER_HOST, ...).
start() {
    local env
    bash "scripts/$1" status >/dev/null 2>&1 || STARTED=("$1" "${STARTED[@]}")
    env="$(bash "scripts/$1" start)" || return 1
    eval "$env"
}

setup_services() {
    start docker-engine.sh || return 1
    bash scripts/build-test-image.sh || return 1
    start postgres.sh || return 1    # JUPYTER_JOBS_TEST_PG_URL: tests/postgres
    start slurm.sh || return 1       # SLURM_CONF: tests/slurm, the conformance suite
    start ray-head.sh || return 1    # RAY_ADDRESS: tests/ray, the conformance suite
    bash scripts/install-chromium.sh || return 1
}

stop_started() {
    local script
    for script in "${STARTED[@]}"; do
        bash "scripts/$script" stop >/dev/null 2>&1 || true
    done
}
trap stop_started EXIT
if ! setup_services; then
    if [[ "${CI:-}" == "true" ]]; then
        echo "test.sh: could not set up the Docker Engine, PostgreSQL, Slurm, Ray or Chromium" >&2
        exit 1
    fi
    echo "test.sh: some services could not be set up here; their test suites will skip" >&2
fi

python -m pytest -ra "$@"
