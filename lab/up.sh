#!/bin/bash
# Exploratory: boot the lab hosts from the bundle's user-data (systemd-nspawn, NoCloud seed).
set -euo pipefail
lab=/var/tmp/hagen-lab
ns=hagenlab
ip netns add $ns 2>/dev/null || true
nsenter --net=/run/netns/$ns ip link add br0 type bridge 2>/dev/null || true
nsenter --net=/run/netns/$ns ip link set br0 up
nsenter --net=/run/netns/$ns ip link set lo up
for host in "$@"; do
    d=$lab/hosts/$host
    mkdir -p $d/upper $d/work $d/merged
    mountpoint -q $d/merged || mount -t overlay overlay -o lowerdir=$lab/base,upperdir=$d/upper,workdir=$d/work $d/merged
    mkdir -p $d/merged/var/lib/cloud/seed/nocloud
    printf 'instance-id: %s\nlocal-hostname: %s\n' "$host" "$host" > $d/merged/var/lib/cloud/seed/nocloud/meta-data
    cp $lab/deploy/nodes/$host/user-data $d/merged/var/lib/cloud/seed/nocloud/user-data
    # static address inside the host (networkd config written into the host's root)
    addr=$(awk -v h=$host '$2==h {print $1}' $lab/deploy/nodes/$host/etc/hosts)
    printf 'version: 2\nethernets:\n  host0:\n    addresses: [%s/24]\n' "$addr" > $d/merged/var/lib/cloud/seed/nocloud/network-config
    for ctl in systemd unified; do mkdir -p /sys/fs/cgroup/$ctl/lab-$host; done
    (
        echo $BASHPID > /sys/fs/cgroup/systemd/lab-$host/cgroup.procs
        echo $BASHPID > /sys/fs/cgroup/unified/lab-$host/cgroup.procs
        exec nsenter --net=/run/netns/$ns unshare --mount --propagation private \
            systemd-nspawn -D $d/merged -M $host --boot --register=no --keep-unit \
            --network-bridge=br0 --console=pipe > $lab/hosts/$host.console 2>&1 < /dev/null
    ) &
    echo $! > $lab/hosts/$host.pid
done
