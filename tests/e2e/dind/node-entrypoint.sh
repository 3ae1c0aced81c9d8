#!/bin/sh
# Start dockerd as this container's main process. Arguments go to dockerd
# (e.g. --mtu 1400, to match the outer network's MTU).
set -eu
# cgroup v1 or v2, as the outer engine gave them; dockerd finds its way.
# The legacy iptables tables are the ones every kernel here has.
update-alternatives --set iptables /usr/sbin/iptables-legacy >/dev/null 2>&1 || true
update-alternatives --set ip6tables /usr/sbin/ip6tables-legacy >/dev/null 2>&1 || true
rm -f /var/run/docker.pid /run/docker/containerd/containerd.pid
exec dockerd --host unix:///var/run/docker.sock "$@"
