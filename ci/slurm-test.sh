#!/usr/bin/env bash
# A real Slurm test: installs Slurm and munge (Debian packages) when missing,
# starts munge, slurmctld and slurmd on this machine with a configuration
# under target/slurm, submits the quick suite (2 seeds) as a 4-task job array
# plus the dependent merge job through deploy/slurm/submit.sh, waits (at most
# 10 minutes), checks that the merged results.csv has exactly the rows of a
# single-process run with the same seeds (byte-identical after sorting,
# without the wall-time column), and stops the daemons it started, by PID.
# Without root or apt it says so and skips.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
work="$root/target/slurm"
bin="$root/target/release/mixact-lab"
args=(suite quick --seeds 2)

if [ "$(id -u)" != 0 ] || ! command -v apt-get > /dev/null; then
  echo "slurm-test: needs root and apt-get to install Slurm; skipping"
  exit 0
fi
if ! command -v slurmctld > /dev/null || ! command -v slurmd > /dev/null \
  || ! command -v sbatch > /dev/null || ! command -v munged > /dev/null; then
  echo "slurm-test: installing slurmctld slurmd slurm-client munge"
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    slurmctld slurmd slurm-client munge > /dev/null; }; then
    echo "slurm-test: the Slurm packages cannot be installed here; skipping"
    exit 0
  fi
fi
[ -x "$bin" ] || cargo build --release --quiet -p mixact-lab

rm -rf "$work"
mkdir -p "$work/state" "$work/spool" "$work/out"
pids=()
stop() {
  for pidfile in "$work/slurmd.pid" "$work/slurmctld.pid" "$work/munged.pid"; do
    if [ -s "$pidfile" ]; then
      pid=$(cat "$pidfile")
      kill "$pid" 2> /dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
    fi
  done
}
trap stop EXIT

# munge: a key, its run folder, the daemon (pid file in our folder).
mkdir -p /etc/munge /run/munge /var/lib/munge /var/log/munge
if [ ! -s /etc/munge/munge.key ]; then
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge
chmod 400 /etc/munge/munge.key
sock="$work/munge.socket"
touch "$work/munged.pid"
chown munge:munge "$work" "$work/munged.pid"
su -s /bin/sh munge -c "/usr/sbin/munged --socket=$sock --pid-file=$work/munged.pid --force"
export MUNGE_SOCKET="$sock"

host=$(hostname -s)
cat > "$work/slurm.conf" << CONF
ClusterName=mixact-ci
SlurmctldHost=$host
AuthType=auth/munge
AuthInfo=socket=$sock
CryptoType=crypto/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ReturnToService=2
MpiDefault=none
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
MinJobAge=600
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=ci Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$work/slurm.conf"
/usr/sbin/slurmctld -f "$SLURM_CONF"
/usr/sbin/slurmd -f "$SLURM_CONF"
up=no
for _ in $(seq 60); do
  if sinfo -h -o '%T' 2> /dev/null | grep -qE 'idle|mixed|alloc'; then up=yes; break; fi
  sleep 1
done
sinfo || true
if [ "$up" != yes ]; then
  # The machine cannot host a Slurm node (hostname, ports): that is not a
  # defect of the suite, so say so loudly and skip rather than fail.
  echo "slurm-test: SKIPPED: the local Slurm node did not become idle within 60 s"
  tail -20 "$work/slurmctld.log" "$work/slurmd.log" 2> /dev/null || true
  exit 0
fi

submitted=$(deploy/slurm/submit.sh -n 4 -o "$work/out" -b "$bin" -- "${args[@]}")
echo "$submitted"
array=$(echo "$submitted" | sed -n 's/^array job \([0-9]*\).*/\1/p')
merge=$(echo "$submitted" | sed -n 's/.*merge job \([0-9]*\) submitted.*/\1/p')
[ -n "$array" ] && [ -n "$merge" ] || { echo "slurm-test: could not read the job ids"; exit 1; }

state=""
for _ in $(seq 600); do
  state=$(scontrol show job "$merge" 2> /dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -1)
  case "$state" in
    COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY) break ;;
  esac
  sleep 1
done
echo "array tasks:"
scontrol show job "$array" | grep -E 'JobId=|JobState=' | paste - - | sed 's/^ *//'
echo "merge job $merge: $state"
cat "$work"/out/merge-*.out || true
if [ "$state" != COMPLETED ]; then
  echo "slurm-test: the merge job did not complete"
  tail -20 "$work/slurmctld.log" "$work/slurmd.log" || true
  exit 1
fi

"$bin" "${args[@]}" --out "$work/single" > /dev/null
rows() { cut -d, -f1-12 "$1" | sort; }
if ! diff <(rows "$work/single/results.csv") <(rows "$work/out/report/results.csv") > "$work/rows.diff"; then
  echo "slurm-test: the merged rows differ from a single-process run:"
  head -20 "$work/rows.diff"
  exit 1
fi
echo "slurm-test: array job $array (4 tasks) and merge job $merge give the rows of a single-process run ($(($(wc -l < "$work/single/results.csv") - 1)) runs)"
