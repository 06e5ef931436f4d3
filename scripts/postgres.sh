#!/usr/bin/env bash
# A private PostgreSQL server for tests and development: Debian's postgresql, no systemd, no cluster manager.
#
#   eval "$(bash scripts/postgres.sh start)"   # installs postgresql if missing, prints export JUPYTER_JOBS_TEST_PG_URL=...
#   bash scripts/postgres.sh stop               # stops that server by its PID
#   bash scripts/postgres.sh status
#
# Everything lives under $JUPYTER_JOBS_PG_DIR (default /tmp/jupyter-jobs-pg): the data dir, the socket
# dir, the log and the generated password. The server listens on 127.0.0.1:$JUPYTER_JOBS_PG_PORT (default
# 55432) and runs as the `postgres` user when started by root. The role `jobs` (password auth, allowed
# to create databases, so each test can use a database of its own) owns the database `jobs`.
set -euo pipefail

D="${JUPYTER_JOBS_PG_DIR:-/tmp/jupyter-jobs-pg}"
PORT="${JUPYTER_JOBS_PG_PORT:-55432}"
DATA="$D/data"
SOCKDIR="$D/socket"
PIDFILE="$DATA/postmaster.pid"

log() { echo "postgres: $*" >&2; }

bindir() {
    local dir
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    [[ -n "$dir" ]] || return 1
    echo "$dir"
}

install() {
    if bindir >/dev/null; then
        return
    fi
    log "installing Debian's postgresql"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
}

as_owner() {  # run a command as the server's owner: `postgres` when we are root (initdb refuses root)
    if [[ "$(id -u)" == 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

pid() { head -n 1 "$PIDFILE" 2>/dev/null; }

running() {
    [[ -f "$PIDFILE" ]] && kill -0 "$(pid)" 2>/dev/null
}

url() {
    echo "postgresql+psycopg://jobs:$(cat "$D/password")@127.0.0.1:$PORT/jobs"
}

ready() {
    "$(bindir)/pg_isready" -q -h 127.0.0.1 -p "$PORT"
}

init() {
    local bin="$1"
    mkdir -p "$D" "$SOCKDIR"
    chmod 0700 "$D"
    (umask 077; head -c 18 /dev/urandom | base64 | tr '+/' '-_' >"$D/password")
    # The superuser authenticates over the socket only; `jobs` with its password over TCP.
    (umask 077; cat "$D/password" >"$D/pwfile")
    if [[ "$(id -u)" == 0 ]]; then
        chown -R postgres: "$D"
    fi
    as_owner "$bin/initdb" -D "$DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
        --pwfile="$D/pwfile" -E UTF8 --locale=C.UTF-8 >>"$D/initdb.log" 2>&1 \
        || { log "initdb failed:"; tail -n 20 "$D/initdb.log" >&2; exit 1; }
    rm -f "$D/pwfile"
}

create_role() {
    local bin="$1" psql=("$bin/psql" -q -h "$SOCKDIR" -p "$PORT" -U postgres -v ON_ERROR_STOP=1)
    if ! as_owner "${psql[@]}" -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'jobs'" postgres | grep -q 1; then
        as_owner "${psql[@]}" -c "CREATE ROLE jobs LOGIN CREATEDB PASSWORD '$(cat "$D/password")'" postgres
        as_owner "${psql[@]}" -c "CREATE DATABASE jobs OWNER jobs" postgres
    fi
}

start() {
    install
    local bin
    bin="$(bindir)"
    if running && ready; then
        log "already running (pid $(pid))"
        url | sed 's/^/export JUPYTER_JOBS_TEST_PG_URL=/'
        return
    fi
    [[ -f "$DATA/PG_VERSION" ]] || init "$bin"
    local t0=$SECONDS
    # pg_ctl -w waits until the server accepts connections; the server is then a daemon whose pid
    # is the first line of postmaster.pid.
    as_owner "$bin/pg_ctl" -D "$DATA" -l "$D/postgres.log" -w -t 60 start \
        -o "-p $PORT -k $SOCKDIR -c listen_addresses=127.0.0.1 -c fsync=off" >/dev/null \
        || { log "the server did not start:"; tail -n 20 "$D/postgres.log" >&2; exit 1; }
    create_role "$bin"
    log "ready (pid $(pid), port $PORT, $((SECONDS - t0)) s)"
    url | sed 's/^/export JUPYTER_JOBS_TEST_PG_URL=/'
}

stop() {
    if ! running; then
        log "not running"
        return 0
    fi
    # SIGINT: fast shutdown (disconnect clients, roll back, stop cleanly)
    bash "$(dirname "$0")/stop-by-pid.sh" postgres "$(pid)" INT
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) if running && ready; then echo "running: export JUPYTER_JOBS_TEST_PG_URL=$(url)"; else echo "stopped"; exit 1; fi ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
