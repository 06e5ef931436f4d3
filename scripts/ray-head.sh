#!/usr/bin/env bash
# A private local Ray head for tests and development: its own ports and temp dir, stopped by its pid.
#
#   eval "$(bash scripts/ray-head.sh start)"   # installs ray[default] if missing, prints export RAY_ADDRESS=...
#   bash scripts/ray-head.sh stop               # SIGTERM to our `ray start --block`, then SIGKILL what survives
#   bash scripts/ray-head.sh status
#
# Everything lives under $JUPYTER_JOBS_RAY_DIR (default /tmp/jupyter-jobs-ray): Ray's temp dir, the pid
# file and the log. Ports start at $JUPYTER_JOBS_RAY_PORT (default 16380) so it never meets a Ray the
# machine already runs. Never `ray stop` here: it stops every Ray on the machine.
set -euo pipefail

D="${JUPYTER_JOBS_RAY_DIR:-/tmp/jupyter-jobs-ray}"
P="${JUPYTER_JOBS_RAY_PORT:-16380}"
CPUS="${JUPYTER_JOBS_RAY_CPUS:-2}"
PIDFILE="$D/ray.pid"
DASHBOARD=$((P + 1))
ADDRESS="http://127.0.0.1:$DASHBOARD"

log() { echo "ray-head: $*" >&2; }

running() {
    [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

ready() {  # the Jobs API answers (what jupyter-jobs and JobSubmissionClient use)
    python - "$ADDRESS" <<'EOF' >/dev/null 2>&1
import sys, urllib.request
urllib.request.urlopen(sys.argv[1] + "/api/version", timeout=2).read()
EOF
}

install() {
    if python -c "import ray.dashboard, ray.job_submission" 2>/dev/null; then
        return
    fi
    log "installing ray[default]"
    python -m pip install -q 'ray[default]' >&2
}

start() {
    install
    mkdir -p "$D/tmp"
    if running && ready; then
        log "already running (pid $(cat "$PIDFILE"))"
    else
        rm -f "$PIDFILE"
        # --block keeps `ray start` in the foreground as the parent of the head's processes: its pid is
        # ours to stop. setsid: it survives this shell and leaves the caller's process group alone.
        # Started in $D: jobs without a working_dir run there, not in the caller's folder.
        cd "$D"
        RAY_USAGE_STATS_ENABLED=0 setsid ray start --head --block --disable-usage-stats \
            --num-cpus "$CPUS" --num-gpus 0 --node-ip-address 127.0.0.1 \
            --port "$P" --dashboard-port "$DASHBOARD" --include-dashboard=true --dashboard-host 127.0.0.1 \
            --ray-client-server-port $((P + 2)) --node-manager-port $((P + 3)) \
            --object-manager-port $((P + 4)) --dashboard-agent-listen-port $((P + 5)) \
            --dashboard-agent-grpc-port $((P + 6)) --metrics-export-port $((P + 7)) \
            --runtime-env-agent-port $((P + 8)) --min-worker-port $((P + 100)) --max-worker-port $((P + 299)) \
            --temp-dir "$D/tmp" >>"$D/ray.log" 2>&1 </dev/null &
        local pid=$!
        echo "$pid" >"$PIDFILE"
        for _ in $(seq 1 600); do  # up to 120 s (a loaded machine is slow to start the dashboard)
            if ready; then
                break
            fi
            if ! kill -0 "$pid" 2>/dev/null; then
                log "ray start exited:"; tail -n 30 "$D/ray.log" >&2; rm -f "$PIDFILE"; exit 1
            fi
            sleep 0.2
        done
        ready || { log "the Jobs API did not answer at $ADDRESS in 120 s"; stop; exit 1; }
        log "ready (pid $pid, $ADDRESS)"
    fi
    echo "export RAY_ADDRESS=$ADDRESS"
}

descendants() {  # $1 and every process below it, now (they are re-parented once their parent ends)
    local pids="$1" frontier="$1" next
    while [[ -n "$frontier" ]]; do
        next="$(ps -eo pid=,ppid= | awk -v list=" $frontier " 'index(list, " " $2 " ") {print $1}' | tr '\n' ' ')"
        pids="$pids $next"
        frontier="${next% }"
    done
    echo "$pids"
}

stop() {
    if ! running; then
        log "not running"
        rm -f "$PIDFILE"
        return 0
    fi
    local pid tree
    pid="$(cat "$PIDFILE")"
    # Everything the head started, and what shares its session (setsid made $pid its leader).
    tree="$(descendants "$pid") $(ps -eo pid=,sid= | awk -v s="$pid" '$2 == s {print $1}' | tr '\n' ' ')"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 80); do  # up to 16 s for `ray start --block` to stop the head's processes
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    local left=()
    for p in $tree; do
        if kill -0 "$p" 2>/dev/null; then left+=("$p"); fi
    done
    if ((${#left[@]})); then
        log "killing ${#left[@]} processes that outlived SIGTERM (gcs_server, monitor, ...)"
        kill -KILL "${left[@]}" 2>/dev/null || true
    fi
    rm -f "$PIDFILE"
    log "stopped (pid $pid)"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) if running && ready; then echo "running: export RAY_ADDRESS=$ADDRESS"; else echo "stopped"; exit 1; fi ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
