#!/usr/bin/env bash
# Stop what tests/slurm/setup.sh STATE_DIR started: cancel the test cluster's jobs, then
# stop slurmd, slurmctld and (only if setup.sh started it) munged, each by the pid it
# recorded in STATE_DIR/pids/. Safe to call twice, or after a setup that failed halfway.
set -u
STATE=${1:?usage: teardown.sh STATE_DIR}
[ -d "$STATE" ] || { echo "teardown: no $STATE"; exit 0; }
export SLURM_CONF=$STATE/slurm.conf

if [ -s "$STATE/pids/slurmctld.pid" ] && kill -0 "$(cat "$STATE/pids/slurmctld.pid")" 2>/dev/null; then
  # Jobs of this test cluster only (SLURM_CONF points at it); bounded wait for them to go.
  timeout 10 scancel --user="$(id -un)" 2>/dev/null || true
  for _ in $(seq 1 10); do
    [ -z "$(timeout 5 squeue -h -t running,pending,completing -o %i 2>/dev/null)" ] && break
    sleep 1
  done
fi

stop_pidfile() {  # $1 = pid file, $2 = name
  local f=$1 pid
  [ -s "$f" ] || { echo "teardown: $2 has no pid file"; return 0; }
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "teardown: $2 ($pid) still alive after 10 s, SIGKILL"
      kill -9 "$pid" 2>/dev/null || true
    fi
    echo "teardown: $2 ($pid) stopped"
  else
    echo "teardown: $2 ($pid) was not running"
  fi
  rm -f "$f"
}
stop_pidfile "$STATE/pids/slurmd.pid" slurmd
stop_pidfile "$STATE/pids/slurmctld.pid" slurmctld   # its child slurmscriptd exits with it
stop_pidfile "$STATE/pids/munged.pid" munged         # only present if setup.sh started it
# The /etc/slurm/slurm.conf symlink, if setup.sh made it and it still points here.
if [ -s "$STATE/pids/etc_conf_link" ]; then
  link=$(cat "$STATE/pids/etc_conf_link")
  if [ -L "$link" ] && [ "$(readlink "$link")" = "$SLURM_CONF" ]; then rm -f "$link"; echo "teardown: removed $link"; fi
  rm -f "$STATE/pids/etc_conf_link"
fi
exit 0
