# Sourced by start.sh (one node) and start2.sh (two nodes in network namespaces): what the two test clusters
# share, written once: munge with its own key and socket under DIR, and the settings of slurm.conf.

start_munge() {  # start_munge DIR PROG: munged with its own key and socket under DIR; sets SOCK; PROG names the caller in errors
  local dir=$1 prog=$2
  mkdir -p "$dir/munge" "$dir/log"; chmod 700 "$dir/munge"
  [ -s "$dir/munge/munge.key" ] || mungekey --create --keyfile="$dir/munge/munge.key" 2>/dev/null \
    || dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$dir/munge/munge.key"
  SOCK="$dir/munge/munge.socket"
  munged --foreground --force --key-file="$dir/munge/munge.key" --socket="$SOCK" \
    --pid-file="$dir/munge/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/seed" \
    >>"$dir/log/munged.out" 2>&1 &
  echo $! > "$dir/munged.pid"
  for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.05; done
  [ -S "$SOCK" ] || { echo "$prog: munged did not start; see $dir/log/munged.log" >&2; cat "$dir/log/munged.out" "$dir/log/munged.log" >&2 2>/dev/null; exit 1; }
}

write_slurm_conf() {  # write_slurm_conf DIR NAME HOST(ADDR) CTLD_PORT SLURMD_PORT < the cluster's own lines
  # DIR/slurm.conf: the settings both clusters share, then the lines read from stdin (spool, PID and log
  # files, kill wait, preemption, nodes and partitions). Needs SOCK (start_munge).
  local dir=$1
  {
    cat <<CONF
ClusterName=$2
SlurmctldHost=$3
SlurmctldPort=$4
SlurmdPort=$5
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCK
StateSaveLocation=$dir/state
SlurmctldLogFile=$dir/log/slurmctld.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MailProg=/bin/true
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=600
CONF
    cat
  } > "$dir/slurm.conf"
}
