#!/usr/bin/env bash
# A single-node Slurm on this machine, for the tests and for trying hydra/launcher=slurm:
#   bash scripts/slurm_local.sh start|stop|status
# start: installs Debian's slurm-wlm and munge when missing (needs root and apt), writes
# /etc/slurm/slurm.conf for this host's cores and memory (partition `debug`), starts munged,
# slurmctld and slurmd, and waits until the node is idle. No accounting: submitit then warns
# "Bypassing sacct error" and works. stop: cancels every job and stops the three daemons.
set -euo pipefail

conf=/etc/slurm/slurm.conf
host=$(hostname -s)

need_root() {
  if [ "$(id -u)" != 0 ]; then echo "slurm_local: needs root (apt, daemons)" >&2; exit 3; fi
}

install() {
  command -v slurmctld >/dev/null && command -v munged >/dev/null && return
  command -v apt-get >/dev/null || { echo "slurm_local: no apt-get to install slurm-wlm" >&2; exit 3; }
  echo "slurm_local: installing slurm-wlm and munge"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
}

write_conf() {
  local cpus mem
  cpus=$(nproc)
  mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
  mkdir -p /etc/slurm /var/spool/slurmd /var/spool/slurmctld /var/log/slurm
  cat > "$conf" <<CONF
# Written by scripts/slurm_local.sh: one node, no accounting.
ClusterName=mfh-local
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmdSpoolDir=/var/spool/slurmd
StateSaveLocation=/var/spool/slurmctld
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
}

idle() { sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; }

start() {
  need_root
  install
  if idle; then echo "slurm_local: already running"; sinfo; return; fi
  write_conf
  [ -s /etc/munge/munge.key ] || mungekey --create >/dev/null 2>&1 || \
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
  mkdir -p /run/munge /var/lib/munge /var/log/munge && chown munge:munge /run/munge /var/lib/munge /var/log/munge
  pgrep -x munged >/dev/null || runuser -u munge -- munged
  pgrep -x slurmctld >/dev/null || slurmctld
  pgrep -x slurmd >/dev/null || slurmd
  for _ in $(seq 1 60); do
    if idle; then scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true; sinfo; return; fi
    sleep 0.5
  done
  echo "slurm_local: the node did not become idle; see /var/log/slurm/" >&2
  sinfo >&2 || true
  exit 1
}

stop() {
  scancel --full --quiet --user="$(id -un)" 2>/dev/null || true
  pkill -x slurmd 2>/dev/null || true
  pkill -x slurmctld 2>/dev/null || true
  pkill -x munged 2>/dev/null || true
  echo "slurm_local: stopped"
}

status() { if idle; then sinfo; else echo "slurm_local: not running"; exit 1; fi; }

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
