#!/usr/bin/env bash
# Start/stop a real local SLURM test cluster (Debian 12, slurm-wlm 22.05, no systemd).
#
#   scripts/slurm-cluster.sh start|stop|status|restart [--defaults] [--multi]
#
#   start      install slurm-wlm+munge if missing, start munged, write the config, start
#              slurmctld+slurmd, wait until the node(s) answer; prints `export SLURM_CONF=...`
#              on stdout (everything else goes to stderr), so `eval "$(... start)"` works.
#   stop       stop slurmd/slurmctld (munged stays up); with --multi also remove netns + bridge.
#   status     sinfo (+ squeue) of the cluster.
#   restart    stop, then start.
#   --defaults SLURM's default scheduling (no Epilog, batch_sched_delay=3 s): for benchmarks
#              that must show what one SLURM job per task costs at a typical site.
#   --multi    three compute nodes node1..node3, each in its own network namespace
#              (10.250.0.11-13 on bridge slbr0), own state dir and ports.
#   --accounting  also slurmdbd + MariaDB (installed when missing), so `sacct` works.
#
# Environment: CORRAL_SLURM_DIR (default /var/tmp/corral-slurm) is the single-node state dir;
# --multi uses "$CORRAL_SLURM_DIR-multi". Why each setting: docs/slurm-cluster.md.
set -euo pipefail

BASE_DIR="${CORRAL_SLURM_DIR:-/var/tmp/corral-slurm}"
CMD="${1:-}"
[ $# -gt 0 ] && shift
DEFAULTS=0
MULTI=0
ACCOUNTING=0
for arg in "$@"; do
  case "$arg" in
    --defaults) DEFAULTS=1 ;;
    --multi) MULTI=1 ;;
    --accounting) ACCOUNTING=1 ;;
    -h | --help) CMD=help ;;
    *) echo "slurm-cluster: unknown option: $arg" >&2; exit 2 ;;
  esac
done

if [ "$MULTI" = 1 ]; then
  DIR="$BASE_DIR-multi"
  CLUSTER=corralm
  NODES=(node1 node2 node3)
else
  DIR="$BASE_DIR"
  CLUSTER=corral
  NODES=(localhost)
fi
CONF="$DIR/slurm.conf"
if [ "$MULTI" = 1 ]; then DBD_PORT=6919; else DBD_PORT=6819; fi
export SLURM_CONF="$CONF"

log() { echo "slurm-cluster: $*" >&2; }
die() { log "$*"; exit 1; }

# A pid file's process is alive when /proc/PID/stat exists and is not a zombie: a killed daemon
# not yet reaped still answers kill -0 (measured, see docs).
pid_alive() {
  local f="$1" pid st
  # The daemon removes its own pid file as it exits, so the file may vanish between reads.
  pid=$(tr -dc '0-9' 2>/dev/null <"$f") || return 1
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
  st=$(sed -E 's/^[0-9]+ \(.*\) ([A-Za-z]).*/\1/' "/proc/$pid/stat" 2>/dev/null) || return 1
  [ "$st" != Z ] && [ "$st" != X ]
}

pidfile_ctld() { echo "$DIR/slurmctld.pid"; }
pidfile_d() { echo "$DIR/slurmd-$1.pid"; }

stop_pidfile() {
  local f="$1" pid i
  pid_alive "$f" || { rm -f "$f"; return 0; }
  pid=$(tr -dc '0-9' 2>/dev/null <"$f") || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 100); do
    pid_alive "$f" || break
    sleep 0.1
  done
  if pid_alive "$f"; then
    log "pid $pid did not exit within 10 s after SIGTERM, force-killed it"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.2
  fi
  rm -f "$f"
}

ensure_packages() {
  local missing=0 c
  for c in slurmctld slurmd sinfo sbatch munged munge; do
    command -v "$c" >/dev/null 2>&1 || [ -x "/usr/sbin/$c" ] || missing=1
  done
  [ "$missing" = 0 ] && return 0
  [ "$(id -u)" = 0 ] || die "slurm-wlm/munge are not installed and this is not root; run as root: apt-get install slurm-wlm munge"
  log "installing slurm-wlm munge (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends slurm-wlm munge >&2
}

munge_ok() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

ensure_munge() {
  if [ ! -s /etc/munge/munge.key ]; then
    log "creating /etc/munge/munge.key"
    mkdir -p /etc/munge
    if command -v mungekey >/dev/null 2>&1; then mungekey --create --force >&2; else dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 2>/dev/null; fi
    chown munge:munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
  fi
  munge_ok && return 0
  # The Debian way without systemd: run munged as the munge user with its own run dir.
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge
  rm -f /run/munge/munged.pid
  runuser -u munge -- /usr/sbin/munged >&2 9>&- || /usr/sbin/munged --force >&2 9>&-
  local i
  for i in $(seq 1 50); do munge_ok && return 0; sleep 0.1; done
  die "munged does not answer (munge -n | unmunge failed); see /var/log/munge/munged.log"
}

# Four char devices 1:3 (same as /dev/null) stand in for GPUs; a regular file also works but
# slurmd then logs "not a valid character or block device".
ensure_fake_gpus() {
  local i
  for i in 0 1 2 3; do
    [ -c "/dev/fakegpu$i" ] && continue
    rm -f "/dev/fakegpu$i"
    mknod -m 666 "/dev/fakegpu$i" c 1 3 2>/dev/null || { touch "/dev/fakegpu$i"; chmod 666 "/dev/fakegpu$i"; }
  done
}

node_lines() {
  if [ "$MULTI" = 1 ]; then
    local mem_mb i
    mem_mb=$(awk '/^MemTotal:/ {m=int($2/1024/4); print (m < 2000 ? m : 2000)}' /proc/meminfo)
    for i in 1 2 3; do echo "NodeName=node$i NodeAddr=10.250.0.1$i CPUs=2 RealMemory=$mem_mb Gres=gpu:2 Feature=a100 State=UNKNOWN"; done
    echo "PartitionName=main Nodes=node[1-3] Default=YES MaxTime=INFINITE State=UP"
  else
    local cpus mem_mb
    cpus=$(nproc)
    # Leave a quarter of the memory to the OS and other processes (slurmd drains a node that
    # reports less than RealMemory).
    mem_mb=$(awk '/^MemTotal:/ {print int($2/1024*3/4)}' /proc/meminfo)
    echo "NodeName=localhost CPUs=$cpus RealMemory=$mem_mb Gres=gpu:4 Feature=a100,h100 State=UNKNOWN"
    echo "PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP"
  fi
}

render_conf() {
  local host
  if [ "$MULTI" = 1 ]; then
    # The name part must be this host's real short name, or slurmctld says "not a valid controller".
    host="$(hostname -s)(10.250.0.1)"
  else
    host=localhost
  fi
  cat <<EOF
# Written by scripts/slurm-cluster.sh; changes are overwritten on the next start.
ClusterName=$CLUSTER
SlurmctldHost=$host
EOF
  if [ "$MULTI" = 1 ]; then
    echo "SlurmctldPort=6917"
    echo "SlurmdPort=6818"
  fi
  cat <<EOF
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MailProg=/bin/true
SchedulerType=sched/backfill
EOF
  if [ "$DEFAULTS" = 0 ]; then
    # Any Epilog makes slurmd report job end at once and slurmctld schedule immediately:
    # ~30 ms per short task instead of ~1.25 s (measured).
    echo "SchedulerParameters=batch_sched_delay=0,sched_min_interval=0"
    echo "Epilog=/bin/true"
  fi
  cat <<EOF
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=100
MaxArraySize=10001
MaxJobCount=100000
MinJobAge=3600
KillWait=5
ReturnToService=2
SlurmdTimeout=10
GresTypes=gpu
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool/%n
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd-%n.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd-%n.log
EOF
  if [ "$ACCOUNTING" = 1 ]; then
    cat <<EOF
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=$DBD_PORT
AccountingStorageTRES=gres/gpu
JobAcctGatherType=jobacct_gather/linux
EOF
  else
    echo "AccountingStorageType=accounting_storage/none"
    echo "JobAcctGatherType=jobacct_gather/none"
  fi
  node_lines
}

render_gres() {
  if [ "$MULTI" = 1 ]; then
    echo "NodeName=node[1-3] Name=gpu File=/dev/fakegpu[0-1]"
  else
    echo "NodeName=localhost Name=gpu File=/dev/fakegpu[0-3]"
  fi
}

# ---- accounting (--accounting) ------------------------------------------------------------
ensure_accounting() {
  if [ ! -x /usr/sbin/slurmdbd ] || [ ! -x /usr/sbin/mariadbd ]; then
    log "installing slurmdbd mariadb-server (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends slurmdbd mariadb-server >&2
  fi
  if ! mysqladmin ping >/dev/null 2>&1; then
    service mariadb start >&2 9>&-
  fi
  mysql -e "CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurmdbpass';
            GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;" >&2
  local dbd
  dbd=$(cat <<DBD
AuthType=auth/munge
DbdHost=localhost
DbdPort=$DBD_PORT
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=slurmdbpass
StorageLoc=slurm_acct_db
LogFile=$DIR/log/slurmdbd.log
PidFile=$DIR/slurmdbd.pid
DBD
)
  if [ "$(cat "$DIR/slurmdbd.conf" 2>/dev/null || true)" != "$dbd" ]; then
    stop_pidfile "$DIR/slurmdbd.pid"
    (umask 077; printf '%s\n' "$dbd" >"$DIR/slurmdbd.conf")
  fi
  # slurmdbd refuses a config file others can read.
  chmod 600 "$DIR/slurmdbd.conf"
  # slurmdbd finds slurmdbd.conf next to $SLURM_CONF.
  pid_alive "$DIR/slurmdbd.pid" || slurmdbd >&2 9>&-
  local i
  for i in $(seq 1 100); do
    sacctmgr -n list cluster >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  log "slurmdbd does not answer"
  diagnose
  exit 1
}

ctld_running() { pid_alive "$(pidfile_ctld)"; }

# Prints "ok" when every node is up and responding (idle/mixed/allocated), else the states.
node_states() { sinfo -h -N -o '%N %T' 2>&1 | sort -u; }
all_nodes_up() {
  local out
  out=$(sinfo -h -N -o '%T' 2>/dev/null | sort -u) || return 1
  [ -n "$out" ] || return 1
  ! grep -qvE '^(idle|mixed|allocated|completing)$' <<<"$out"
}

diagnose() {
  log "--- sinfo -N"; sinfo -N -l >&2 2>&1 || true
  log "--- scontrol show node"; scontrol show node >&2 2>&1 || true
  local f
  for f in "$DIR"/log/*.log; do
    [ -f "$f" ] || continue
    log "--- tail $f"; tail -n 25 "$f" >&2
  done
}

wait_up() {
  local t0 resumed=0
  t0=$(date +%s%3N)
  until all_nodes_up; do
    local el=$(($(date +%s%3N) - t0))
    # A node left DOWN/DRAINED by an earlier test (scontrol update State=DOWN) would never come
    # back by itself once its slurmd is already registered: resume it once.
    if [ "$resumed" = 0 ] && [ "$el" -gt 3000 ] && sinfo -h -N -o '%T' 2>/dev/null | grep -qE '^(down|drain|drained|draining)$'; then
      log "resuming down/drained nodes: $(node_states | tr '\n' ' ')"
      scontrol update NodeName="$(sinfo -h -o %N | paste -sd, -)" State=RESUME >&2 2>&1 || true
      resumed=1
    fi
    if [ "$el" -gt 60000 ]; then
      log "timeout after 60 s waiting for the node(s) to be idle: $(node_states | tr '\n' ' ')"
      diagnose
      exit 1
    fi
    sleep 0.1
  done
}

# ---- network namespaces for --multi -------------------------------------------------------
net_up() {
  if ! ip link show slbr0 >/dev/null 2>&1; then
    ip link add slbr0 type bridge
    ip addr add 10.250.0.1/24 dev slbr0
  fi
  ip link set slbr0 up
  local i
  for i in 1 2 3; do
    if [ ! -e "/run/netns/slnode$i" ]; then
      ip netns add "slnode$i"
    fi
    if ! ip -n "slnode$i" link show eth0 >/dev/null 2>&1; then
      ip link del "slveth$i" 2>/dev/null || true
      ip link add "slveth$i" type veth peer name eth0 netns "slnode$i"
      ip -n "slnode$i" addr add "10.250.0.1$i/24" dev eth0
    fi
    ip link set "slveth$i" master slbr0 up
    ip -n "slnode$i" link set eth0 up
    ip -n "slnode$i" link set lo up
  done
}

net_down() {
  local i pids
  for i in 1 2 3; do
    if [ -e "/run/netns/slnode$i" ]; then
      # Job processes left in the namespace (started by our slurmd) go with it.
      pids=$(ip netns pids "slnode$i" 2>/dev/null || true)
      [ -n "$pids" ] && kill -KILL $pids 2>/dev/null || true
      ip netns del "slnode$i" 2>/dev/null || true
    fi
    ip link del "slveth$i" 2>/dev/null || true
  done
  ip link del slbr0 2>/dev/null || true
}

start_slurmd() {
  local node="$1"
  pid_alive "$(pidfile_d "$node")" && return 0
  mkdir -p "$DIR/spool/$node"
  if [ "$MULTI" = 1 ]; then
    local i="${node#node}"
    # nsenter --net, not `ip netns exec`: the latter remounts /sys without the cgroup mounts and
    # slurmd fails. unshare --uts gives the node its own hostname, from which slurmd takes its name.
    nsenter --net="/run/netns/slnode$i" unshare --uts sh -c "hostname $node; exec slurmd -f '$CONF'" >&2 9>&-
  else
    slurmd -f "$CONF" >&2 9>&-
  fi
}

start_ctld() {
  ctld_running && return 0
  slurmctld -f "$CONF" >&2 9>&- || true
  local i
  for i in $(seq 1 30); do
    ctld_running && scontrol ping >/dev/null 2>&1 && return 0
    ctld_running || { [ "$i" -gt 5 ] && break; }
    sleep 0.1
  done
  ctld_running && return 0
  if grep -q "CLUSTER NAME MISMATCH" "$DIR/log/slurmctld.log" 2>/dev/null; then
    log "stale state from another ClusterName; removing $DIR/state/clustername and retrying"
    rm -f "$DIR/state/clustername"
    : >"$DIR/log/slurmctld.log"
    slurmctld -f "$CONF" >&2 9>&-
    sleep 0.3
    ctld_running && return 0
  fi
  log "slurmctld did not start"
  diagnose
  exit 1
}

stop_daemons() {
  local n
  for n in "${NODES[@]}"; do stop_pidfile "$(pidfile_d "$n")"; done
  stop_pidfile "$(pidfile_ctld)"
  stop_pidfile "$DIR/slurmdbd.pid"
}

do_start() {
  [ "$(id -u)" = 0 ] || {
    if all_nodes_up; then
      log "not root, but the cluster already answers"
      echo "export SLURM_CONF=$CONF"
      return 0
    fi
    die "starting the SLURM test cluster needs root (it runs slurmctld/slurmd as root and writes /etc/slurm)"
  }
  ensure_packages
  ensure_munge
  ensure_fake_gpus
  mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log"

  local new_conf new_gres changed=0
  new_conf=$(render_conf)
  new_gres=$(render_gres)
  if [ "$(cat "$CONF" 2>/dev/null || true)" != "$new_conf" ] || [ "$(cat "$DIR/gres.conf" 2>/dev/null || true)" != "$new_gres" ]; then
    changed=1
  fi
  # ClusterName is recorded in the state dir; a different one makes slurmctld exit with
  # "fatal: CLUSTER NAME MISMATCH".
  if [ -s "$DIR/state/clustername" ] && [ "$(tr -d '\0\n' <"$DIR/state/clustername")" != "$CLUSTER" ]; then
    log "removing stale $DIR/state/clustername ($(tr -d '\0\n' <"$DIR/state/clustername") != $CLUSTER)"
    rm -f "$DIR/state/clustername"
  fi
  if [ "$changed" = 1 ]; then
    # A Gres or node change needs both daemons restarted; a plain reconfigure is not enough.
    stop_daemons
    printf '%s\n' "$new_conf" >"$CONF"
    printf '%s\n' "$new_gres" >"$DIR/gres.conf"
    log "wrote $CONF"
  fi
  [ "$MULTI" = 1 ] && net_up

  # Another controller on our port (a cluster from another state dir) would answer every query
  # below and make this start look fine while ours cannot bind: refuse instead.
  if ! ctld_running && timeout 5 scontrol ping >/dev/null 2>&1; then
    die "a slurmctld not started from $DIR already answers on this cluster's port; stop it first (e.g. CORRAL_SLURM_DIR=<its dir> $0 stop)"
  fi
  if [ "$ACCOUNTING" = 1 ]; then ensure_accounting; fi
  start_ctld
  local n
  for n in "${NODES[@]}"; do start_slurmd "$n"; done
  wait_up
  for n in "${NODES[@]}"; do
    pid_alive "$(pidfile_d "$n")" || { log "slurmd for $n is not running"; diagnose; exit 1; }
  done
  ctld_running || { log "slurmctld exited"; diagnose; exit 1; }
  if [ "$MULTI" = 0 ]; then
    # So that plain `sbatch` works from any shell without SLURM_CONF.
    mkdir -p /etc/slurm
    cp "$CONF" /etc/slurm/slurm.conf.tmp && mv /etc/slurm/slurm.conf.tmp /etc/slurm/slurm.conf
    cp "$DIR/gres.conf" /etc/slurm/gres.conf.tmp && mv /etc/slurm/gres.conf.tmp /etc/slurm/gres.conf
  fi
  log "up: $(node_states | tr '\n' ' ')"
  echo "export SLURM_CONF=$CONF"
}

do_stop() {
  [ "$(id -u)" = 0 ] || die "stopping the SLURM test cluster needs root"
  stop_daemons
  [ "$MULTI" = 1 ] && net_down
  log "stopped ($DIR)"
}

do_status() {
  if ! ctld_running; then
    log "slurmctld is not running ($DIR)"
    return 3
  fi
  echo "SLURM_CONF=$CONF"
  sinfo
  squeue -h -t all -o '%T' 2>/dev/null | sort | uniq -c | sed 's/^/jobs: /' || true
}

# Two test runners may call start at once: serialise changes to one cluster. Every daemon is
# started with `9>&-` so that it does not inherit (and hold forever) this lock.
if [ "$(id -u)" = 0 ] && [ "$CMD" != status ] && command -v flock >/dev/null 2>&1; then
  exec 9>"$DIR.lock"
  flock -w 120 9 || die "another slurm-cluster.sh holds $DIR.lock"
fi

case "$CMD" in
  start) do_start ;;
  stop) do_stop ;;
  restart) do_stop; do_start ;;
  status) do_status ;;
  *)
    sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' >&2
    [ "$CMD" = help ] && exit 0
    exit 2
    ;;
esac
