#!/usr/bin/env bash
# A private Docker Engine for tests and development: no systemd, no registry, no bridge.
#
#   eval "$(bash scripts/docker-engine.sh start)"   # installs docker.io if missing, prints export DOCKER_HOST=...
#   bash scripts/docker-engine.sh stop               # stops that daemon by its PID
#   bash scripts/docker-engine.sh status
#
# The daemon keeps everything under $JUPYTER_JOBS_DOCKER_DIR (default /tmp/jupyter-jobs-docker): data,
# exec root, socket, pid file and log. It runs with --bridge=none --iptables=false, so containers get
# only `lo` (network "none") or the host network ("host"), and stopping it leaves nothing behind.
# Storage: overlay2, falling back to vfs when overlay2 cannot start here.
set -euo pipefail

D="${JUPYTER_JOBS_DOCKER_DIR:-/tmp/jupyter-jobs-docker}"
SOCK="$D/docker.sock"
PIDFILE="$D/docker.pid"

log() { echo "docker-engine: $*" >&2; }

running() {
    [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

ready() {
    docker -H "unix://$SOCK" info >/dev/null 2>&1
}

install() {
    if command -v dockerd >/dev/null && command -v docker >/dev/null; then
        return
    fi
    log "installing Debian's docker.io"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq docker.io >&2
}

launch() {  # $1: storage driver
    mkdir -p "$D/data" "$D/exec"
    setsid dockerd --data-root "$D/data" --exec-root "$D/exec" -H "unix://$SOCK" --pidfile "$PIDFILE" \
        --storage-driver="$1" --iptables=false --ip-masq=false --bridge=none \
        >>"$D/dockerd.log" 2>&1 </dev/null &
    local pid=$!
    for _ in $(seq 1 150); do  # up to 30 s
        if ready; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            return 1
        fi
        sleep 0.2
    done
    kill "$pid" 2>/dev/null || true
    return 1
}

start() {
    install
    mkdir -p "$D"
    if running && ready; then
        log "already running (pid $(cat "$PIDFILE"))"
    else
        rm -f "$PIDFILE" "$SOCK"
        if ! launch overlay2; then
            log "overlay2 did not start (see $D/dockerd.log); trying vfs"
            rm -f "$PIDFILE" "$SOCK"
            launch vfs || { log "dockerd did not start:"; tail -n 20 "$D/dockerd.log" >&2; exit 1; }
        fi
        log "ready (pid $(cat "$PIDFILE"), storage $(docker -H "unix://$SOCK" info -f '{{.Driver}}'))"
    fi
    echo "export DOCKER_HOST=unix://$SOCK"
}

stop() {
    if ! running; then
        log "not running"
        rm -f "$PIDFILE"
        return 0
    fi
    bash "$(dirname "$0")/stop-by-pid.sh" dockerd "$(cat "$PIDFILE")"  # dockerd stops its containers first
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) if running && ready; then echo "running: export DOCKER_HOST=unix://$SOCK"; else echo "stopped"; exit 1; fi ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
