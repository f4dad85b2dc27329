#!/usr/bin/env bash
# Print this node's address for the rendezvous (train.sbatch runs it on the first node with srun):
# the address its host name resolves to when that is not a loopback address, else the first address
# of its interfaces. Works where SLURM's node names are not resolvable host names.
a=$(hostname --ip-address 2>/dev/null | tr ' ' '\n' | grep -v -e '^127\.' -e '^::1$' -e '^$' | head -n1)
[ -n "$a" ] || a=$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -v -e '^$' | head -n1)
[ -n "$a" ] || a=$(python -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.connect(("10.255.255.255", 1)); print(s.getsockname()[0])' 2>/dev/null)
[ -n "$a" ] || { echo "node_address.sh: no address found on $(hostname)" >&2; exit 1; }
echo "$a"
