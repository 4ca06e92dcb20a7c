#!/usr/bin/env bash
# A throw-away single-node SLURM for the test suite (tests/test_slurm.py), run as root.
#
#   tests/slurm/setup.sh STATE_DIR      # installs Debian's packages if needed, starts the daemons
#   tests/slurm/teardown.sh STATE_DIR   # stops them again, by pid (always call it, pass or fail)
#
# Verified with Debian 12's slurm 22.05.8 and munge 0.5.15, without systemd. Everything
# SLURM writes (slurm.conf, gres.conf, state, logs, pid files) lives in STATE_DIR and the
# daemons listen on their own ports (SLURM_TEST_PORT, default 16817 and the next one), so
# a system SLURM, if any, is left alone. Clients find the cluster through
# SLURM_CONF=STATE_DIR/slurm.conf.
#
# Design choices (see workflow/profiles/slurm/config.yaml):
#  * No accounting database (no slurmdbd/MariaDB): `sacct` does not work, so the
#    Snakemake executor must use `slurm-status-command: squeue`, which needs
#    MinJobAge >= 3 x slurm-init-seconds-before-status-checks (the plugin silently falls
#    back to sacct otherwise, and then waits forever). MinJobAge=600 keeps finished jobs
#    in squeue/scontrol for 10 minutes: that is where the test reads its evidence.
#  * Two fake GPUs. slurm 22.05 drops a GPU without a device file ("Removing file-less
#    GPU"), leaving the node INVALID, so they point at /dev/null and /dev/zero
#    (TaskPlugin=task/none: no device cgroup, nothing opens them). A GPU job then gets
#    CUDA_VISIBLE_DEVICES=0 or 1 and GRES gpu:1, so two training jobs run at once.
#  * No cgroups at all (proctrack/linuxproc, task/none): works in containers and VMs;
#    memory and CPU limits are scheduled, not enforced.
#  * Daemons run as root (SlurmUser=root); every pid is recorded in STATE_DIR/pids/.
set -euo pipefail

STATE=${1:?usage: setup.sh STATE_DIR}
PORT=${SLURM_TEST_PORT:-16817}
WAIT_S=${SLURM_TEST_WAIT_S:-60}
export DEBIAN_FRONTEND=noninteractive
mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd)
mkdir -p "$STATE/pids" "$STATE/log" "$STATE/ctld" "$STATE/spool"
t0=$(date +%s)
stamp() { echo "[setup +$(( $(date +%s) - t0 ))s] $*"; }
die() {
  echo "setup.sh: $*" >&2
  for f in "$STATE"/log/*.log; do [ -f "$f" ] && { echo "----- $f (last 40 lines)" >&2; tail -n 40 "$f" >&2; }; done
  exit 1
}

# ---------- 1. packages (only when missing) ----------
PKGS=(slurmctld slurmd slurm-client munge)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null || die "apt-get not found and packages missing: ${missing[*]}"
  # Debian's postinst scripts must not start the daemons (no systemd; we start them ourselves).
  timeout 300 apt-get update >"$STATE/log/apt.log" 2>&1 || die "apt-get update failed: $(tail -n 20 "$STATE/log/apt.log")"
  timeout 600 apt-get install -y --no-install-recommends "${missing[@]}" >>"$STATE/log/apt.log" 2>&1 \
    || die "apt-get install ${missing[*]} failed: $(tail -n 30 "$STATE/log/apt.log")"
  stamp "installed ${missing[*]}"
fi
stamp "$(slurmd -V)"

# ---------- 2. munge (reuse a running munged, else start one and remember its pid) ----------
if ! (munge -n | unmunge) >/dev/null 2>&1; then
  [ -s /etc/munge/munge.key ] || mungekey --create --keyfile=/etc/munge/munge.key
  chown munge:munge /etc/munge/munge.key
  chmod 0400 /etc/munge/munge.key
  install -d -o munge -g munge -m 0755 /run/munge
  install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge 2>/dev/null || true
  rm -f /run/munge/munged.pid
  su -s /bin/sh munge -c /usr/sbin/munged || die "munged did not start"
  for _ in $(seq 1 20); do [ -s /run/munge/munged.pid ] && break; sleep 0.25; done
  cp /run/munge/munged.pid "$STATE/pids/munged.pid"
  (munge -n | unmunge) >/dev/null 2>&1 || die "munge does not work"
  stamp "munged started (pid $(cat "$STATE/pids/munged.pid"))"
else
  stamp "reusing the running munged"
fi

# ---------- 3. configuration ----------
HW=$(slurmd -C | head -n1 | sed -E 's/^NodeName=\S+ //; s/ UpTime=.*//')
cat >"$STATE/slurm.conf" <<EOF
ClusterName=radiogenomicstest
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
MinJobAge=600
SlurmctldPidFile=$STATE/pids/slurmctld.pid
SlurmdPidFile=$STATE/pids/slurmd.pid
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=512
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
GresTypes=gpu
NodeName=localhost $HW Gres=gpu:2 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
# Two fake GPUs need two distinct device files.
cat >"$STATE/gres.conf" <<'EOF'
NodeName=localhost Name=gpu File=/dev/null
NodeName=localhost Name=gpu File=/dev/zero
EOF
export SLURM_CONF=$STATE/slurm.conf
# Job steps do not see SLURM_CONF (Snakemake's jobstep executor strips SLURM_* from the
# environment of its nested srun), so the default path must lead to this cluster too.
# A symlink, only if there is no SLURM configuration there yet; teardown.sh removes it.
ETC_CONF=/etc/slurm/slurm.conf
if [ -L "$ETC_CONF" ] && [ ! -e "$ETC_CONF" ]; then rm -f "$ETC_CONF"; fi   # dangling, from an old run
if [ -e "$ETC_CONF" ] || [ -L "$ETC_CONF" ]; then
  [ "$(readlink -f "$ETC_CONF")" = "$SLURM_CONF" ] \
    || die "$ETC_CONF exists (a real SLURM on this machine?); not touching it. Remove it to run this test."
else
  mkdir -p /etc/slurm
  ln -s "$SLURM_CONF" "$ETC_CONF"
  echo "$ETC_CONF" >"$STATE/pids/etc_conf_link"
fi
stamp "wrote $SLURM_CONF (linked from $ETC_CONF)"

# ---------- 4. daemons ----------
slurmctld -f "$SLURM_CONF" -i || die "slurmctld did not start"
alive() { [ -s "$STATE/pids/$1.pid" ] && kill -0 "$(cat "$STATE/pids/$1.pid")" 2>/dev/null; }
for _ in $(seq 1 "$WAIT_S"); do
  scontrol ping >/dev/null 2>&1 && break
  sleep 1
  alive slurmctld || die "slurmctld exited"
done
scontrol ping >/dev/null 2>&1 || die "slurmctld does not answer after ${WAIT_S}s"
slurmd -f "$SLURM_CONF" -N localhost || die "slurmd did not start"
st=""
for _ in $(seq 1 "$WAIT_S"); do
  st=$(sinfo -h -n localhost -o %T 2>/dev/null || true)
  [ "$st" = idle ] && break
  sleep 1
  alive slurmd || die "slurmd exited"
done
[ "$st" = idle ] || die "node not idle after ${WAIT_S}s (state '$st'): $(scontrol show node localhost 2>&1)"
stamp "slurmctld (pid $(cat "$STATE/pids/slurmctld.pid")) and slurmd (pid $(cat "$STATE/pids/slurmd.pid")) up, node idle"
