#!/usr/bin/env bash
# Stop one daemon by its pid, never by name: SIGNAL (default TERM), up to 20 s for it to end, then SIGKILL.
#
#   bash scripts/stop-by-pid.sh NAME PID [SIGNAL]
#
# The scripts that start test services (docker-engine.sh, postgres.sh, slurm.sh) stop theirs with it.
set -euo pipefail
name="$1" pid="$2" sig="${3:-TERM}"
kill "-$sig" "$pid" 2>/dev/null || exit 0  # already gone
for _ in $(seq 1 100); do
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "stopped $name (pid $pid)" >&2
        exit 0
    fi
    sleep 0.2
done
echo "$name ($pid) did not stop in 20 s; killing it" >&2
kill -9 "$pid" 2>/dev/null || true
