#!/usr/bin/env bash
# A private one-node Slurm cluster for tests and development: Debian's Slurm 22.05, no systemd.
#
#   eval "$(bash scripts/slurm.sh start)"   # installs slurm-wlm, munge, slurmdbd, mariadb-server if missing,
#                                            # prints export SLURM_CONF=...
#   bash scripts/slurm.sh stop               # stops the daemons by their PIDs, in reverse order
#   bash scripts/slurm.sh status
#
# Everything lives under $JUPYTER_JOBS_SLURM_DIR (default /tmp/jupyter-jobs-slurm): configs, munge key and
# socket, MariaDB data, Slurm state, spool, logs and pid files. The daemons use their own ports (base
# $JUPYTER_JOBS_SLURM_PORT, default 46810: +7 slurmctld, +8 slurmd, +9 slurmdbd, +6 MariaDB, on 127.0.0.1)
# and run as root: munged, MariaDB, slurmdbd (for sacct), slurmctld, and `slurmd -N localhost`, one node
# with this machine's CPUs and memory, partition `debug`, no GPUs. Clients need only SLURM_CONF.
set -euo pipefail

D="${JUPYTER_JOBS_SLURM_DIR:-/tmp/jupyter-jobs-slurm}"
BASE="${JUPYTER_JOBS_SLURM_PORT:-46810}"
CTLD_PORT=$((BASE + 7)) SLURMD_PORT=$((BASE + 8)) DBD_PORT=$((BASE + 9)) DB_PORT=$((BASE + 6))
CONF="$D/etc/slurm.conf"
MUNGE_SOCKET="$D/munge/munge.socket"
DB_SOCKET="$D/mysql/mysqld.sock"
DAEMONS=(munged mariadbd slurmdbd slurmctld slurmd)  # start order; stop is the reverse

log() { echo "slurm: $*" >&2; }

install() {
    if command -v slurmctld >/dev/null && command -v munged >/dev/null && command -v slurmdbd >/dev/null \
        && command -v mariadbd >/dev/null; then
        return
    fi
    log "installing Debian's slurm-wlm, munge, slurmdbd and mariadb-server"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq slurm-wlm munge slurmdbd mariadb-server >&2
}

pid_of() { cat "$D/run/$1.pid" 2>/dev/null; }

alive() {
    local pid
    pid="$(pid_of "$1")" && [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null
}

# Run a daemon in the foreground of its own session; its pid file is ours, written here.
launch() {  # name, argv...
    local name="$1"
    shift
    setsid "$@" >>"$D/log/$name.out" 2>&1 </dev/null &
    echo $! >"$D/run/$name.pid"
}

wait_for() {  # daemon, seconds, command...: until the command succeeds, while the daemon lives
    local what="$1" seconds="$2"
    shift 2
    local deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)) || ! alive "$what"; then
            log "$what did not come up; see $D/log"
            tail -n 20 "$D"/log/*.log "$D"/log/*.out 2>/dev/null >&2 || true
            exit 1
        fi
        sleep 0.1
    done
}

write_configs() {
    local cpus mem_mb
    cpus="$(nproc)"
    mem_mb=$(($(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 * 9 / 10))
    mkdir -p "$D/etc" "$D/state" "$D/spool" "$D/log" "$D/run"
    cat >"$CONF" <<EOF
# One-node test cluster written by scripts/slurm.sh
ClusterName=jobstest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
CredType=cred/munge
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool/slurmd-%n
SlurmctldPidFile=$D/run/slurmctld.daemon.pid
SlurmdPidFile=$D/run/slurmd.daemon.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
# start a submitted job at once (the defaults wait up to 2-3 s between scheduling passes)
SchedulerParameters=sched_min_interval=100000,batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
KillWait=5
MinJobAge=300
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=$DBD_PORT
# the munge socket slurmctld uses to authenticate to slurmdbd
AccountingStoragePass=$MUNGE_SOCKET
MailProg=/bin/true
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
    (umask 077; cat >"$D/etc/slurmdbd.conf" <<EOF
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$DBD_PORT
SlurmUser=root
PidFile=$D/run/slurmdbd.daemon.pid
LogFile=$D/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=$(cat "$D/etc/db-password")
StorageLoc=slurm_acct_db
EOF
    )
}

init() {
    mkdir -p "$D/etc" "$D/munge" "$D/munge-key" "$D/mysql" "$D/log" "$D/run"
    chmod 0755 "$D/munge"  # munged insists: its socket dir readable by clients, its key dir private
    chmod 0700 "$D/munge-key"
    (umask 077
     dd if=/dev/urandom of="$D/munge-key/munge.key" bs=1024 count=1 status=none
     head -c 18 /dev/urandom | base64 | tr '+/' '-_' >"$D/etc/db-password")
    mariadb-install-db --no-defaults --datadir="$D/mysql/data" --user=root --skip-test-db \
        --auth-root-authentication-method=socket >>"$D/log/mariadb-install.out" 2>&1 \
        || { log "mariadb-install-db failed:"; tail -n 20 "$D/log/mariadb-install.out" >&2; exit 1; }
    touch "$D/.initialised"
}

start() {
    install
    if alive slurmd && alive slurmctld; then
        log "already running (slurmctld pid $(pid_of slurmctld))"
        echo "export SLURM_CONF=$CONF"
        return
    fi
    local t0=$SECONDS
    [[ -f "$D/.initialised" ]] || init
    write_configs
    export SLURM_CONF="$CONF"
    local db=(mariadb --no-defaults -S "$DB_SOCKET" -u root)

    alive munged || launch munged munged -F -f --key-file="$D/munge-key/munge.key" --socket="$MUNGE_SOCKET" \
        --pid-file="$D/munge/munged.pid" --log-file="$D/log/munged.log" --seed-file="$D/munge/munged.seed"
    alive mariadbd || launch mariadbd mariadbd --no-defaults --datadir="$D/mysql/data" --user=root \
        --port="$DB_PORT" --bind-address=127.0.0.1 --socket="$DB_SOCKET" --skip-name-resolve \
        --pid-file="$D/mysql/mariadbd.pid" --log-error="$D/log/mariadb.log" \
        --innodb-buffer-pool-size=64M --innodb-lock-wait-timeout=900
    wait_for munged 10 munge -S "$MUNGE_SOCKET" -n
    wait_for mariadbd 60 mariadb-admin --no-defaults -S "$DB_SOCKET" -u root ping
    "${db[@]}" -e "CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$(cat "$D/etc/db-password")';
                   GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"

    alive slurmdbd || launch slurmdbd slurmdbd -D  # reads slurmdbd.conf beside $SLURM_CONF
    wait_for slurmdbd 30 bash -c "exec 3<>/dev/tcp/127.0.0.1/$DBD_PORT"
    alive slurmctld || launch slurmctld slurmctld -D -f "$CONF"
    wait_for slurmctld 30 scontrol ping
    alive slurmd || launch slurmd slurmd -D -f "$CONF" -N localhost
    wait_for slurmd 30 bash -c '[[ "$(sinfo -h -N -o %t)" == idle ]]'
    wait_for slurmdbd 30 sacct -n -X
    log "ready ($((SECONDS - t0)) s; slurmctld pid $(pid_of slurmctld), port $CTLD_PORT)"
    echo "export SLURM_CONF=$CONF"
}

stop() {
    local i name
    for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do
        name="${DAEMONS[i]}"
        if ! alive "$name"; then
            rm -f "$D/run/$name.pid"
            continue
        fi
        bash "$(dirname "$0")/stop-by-pid.sh" "$name" "$(pid_of "$name")"
        rm -f "$D/run/$name.pid"
    done
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status)
        if alive slurmctld && alive slurmd && SLURM_CONF="$CONF" scontrol ping >/dev/null 2>&1; then
            echo "running: export SLURM_CONF=$CONF"
        else
            echo "stopped"
            exit 1
        fi
        ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
