#!/usr/bin/env bash
# A real single-node SLURM cluster on this machine, for testing `intarsia sweep --launcher slurm`.
#
#   sudo scripts/slurm-local.sh start   # installs slurm-wlm + munge if missing, starts munged, slurmctld, slurmd
#   export SLURM_CONF=/tmp/intarsia-slurm/slurm.conf   (start prints this line)
#   sudo scripts/slurm-local.sh stop    # stops what start started and removes the state folder
#   scripts/slurm-local.sh status
#
# Needs root (the daemons run as root) and apt-get (Debian/Ubuntu). Everything it writes lives under
# $INTARSIA_SLURM_DIR (default /tmp/intarsia-slurm); the system's /etc/slurm is left alone: the cluster's
# conf is passed with -f to the daemons and with SLURM_CONF to the clients.
set -euo pipefail

DIR="${INTARSIA_SLURM_DIR:-/tmp/intarsia-slurm}"
CONF="$DIR/slurm.conf"

die() { echo "slurm-local: $*" >&2; exit 1; }

running() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

install_packages() {
  if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null; then
    return
  fi
  command -v apt-get >/dev/null || die "slurm-wlm and munge are not installed and there is no apt-get to install them"
  echo "slurm-local: installing slurm-wlm and munge (apt-get)"
  DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >/dev/null
}

start_munge() {
  if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    return  # a munged already answers (the system's, or one started earlier)
  fi
  if [[ ! -s /etc/munge/munge.key ]]; then
    mkdir -p /etc/munge
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
  chown munge:munge /etc/munge/munge.key 2>/dev/null || true
  chmod 400 /etc/munge/munge.key
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
  if id munge >/dev/null 2>&1; then
    su -s /bin/sh munge -c "munged --force" || munged --force
  else
    munged --force
  fi
  for _ in $(seq 1 50); do
    munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && return
    sleep 0.1
  done
  die "munged did not come up"
}

write_conf() {
  local cpus mem
  cpus="$(nproc)"
  mem="$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.8}' /proc/meminfo)"
  mkdir -p "$DIR/state" "$DIR/spool"
  cat >"$CONF" <<EOF
ClusterName=intarsia-local
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=localhost CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
}

start() {
  [[ "$(id -u)" == 0 ]] || die "start needs root (slurmctld and slurmd run as root here)"
  if running "$DIR/slurmctld.pid" && running "$DIR/slurmd.pid"; then
    echo "slurm-local: already running"
    echo "export SLURM_CONF=$CONF"
    return
  fi
  install_packages
  start_munge
  write_conf
  slurmctld -f "$CONF"
  slurmd -f "$CONF"
  for _ in $(seq 1 100); do
    if SLURM_CONF="$CONF" sinfo -h -o %t 2>/dev/null | grep -qx idle; then
      echo "slurm-local: node idle (conf $CONF)"
      echo "export SLURM_CONF=$CONF"
      return
    fi
    sleep 0.3
  done
  tail -n 20 "$DIR/slurmctld.log" "$DIR/slurmd.log" >&2 || true
  die "the node did not become idle in 30 s (logs above)"
}

stop() {
  local pidfile
  for pidfile in "$DIR/slurmd.pid" "$DIR/slurmctld.pid"; do
    if running "$pidfile"; then
      kill "$(cat "$pidfile")"
      for _ in $(seq 1 50); do running "$pidfile" || break; sleep 0.1; done
      running "$pidfile" && kill -9 "$(cat "$pidfile")" 2>/dev/null || true
    fi
  done
  rm -rf "$DIR"
  echo "slurm-local: stopped"
}

status() {
  if running "$DIR/slurmctld.pid" && running "$DIR/slurmd.pid"; then
    SLURM_CONF="$CONF" sinfo
  else
    echo "slurm-local: not running"
    return 1
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
