#!/bin/sh
# A swarm node's first process: make the container able to hold containers,
# then become dockerd. Arguments go to dockerd (e.g. --mtu 1400).
#
# The node runs with every capability its engine can give (not --privileged:
# see tests/e2e/swarm_nodes.py), so Docker still mounted /sys and the cgroup
# hierarchies read-only. dockerd must write there: remount them read-write.
set -eu

mount -o remount,rw /sys
awk '$3 == "cgroup" || $3 == "cgroup2" { print $2 }' /proc/mounts | while read -r hierarchy; do
    mount -o remount,bind,rw "$hierarchy"
done

# cgroup v2: processes may not sit in a cgroup whose controllers are handed to
# children, so move ours into a leaf before dockerd makes its own.
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    mkdir -p /sys/fs/cgroup/node
    xargs -rn1 </sys/fs/cgroup/cgroup.procs >/sys/fs/cgroup/node/cgroup.procs 2>/dev/null || true
    sed 's/[^ ]\+/+&/g' /sys/fs/cgroup/cgroup.controllers >/sys/fs/cgroup/cgroup.subtree_control
fi

rm -f /var/run/docker.pid
exec dockerd --host unix:///var/run/docker.sock "$@"
