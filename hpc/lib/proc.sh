# Sourced by hpc/lib/torchrun_node.sh and tests/slurm/stop.sh: process helpers from /proc only (minimal
# containers have no procps).
children() {  # PIDs whose parent is $1
  local f s a
  for f in /proc/[0-9]*/stat; do
    read -r s 2>/dev/null < "$f" || continue
    read -r -a a <<< "${s##*) }"          # fields after "pid (comm) ": state ppid ...
    if [ "${a[1]}" = "$1" ]; then f=${f#/proc/}; echo "${f%/stat}"; fi
  done
}
