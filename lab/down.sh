#!/bin/bash
# Exploratory teardown: stop every lab host by PID, unmount, remove cgroups and the netns.
lab=/var/tmp/hagen-lab
for pidfile in $lab/hosts/*.pid; do
    [ -e "$pidfile" ] || continue
    host=$(basename "$pidfile" .pid)
    for _ in 1 2 3 4 5; do  # every process of the host, in every sub-cgroup (a power cut)
        pids=$(find /sys/fs/cgroup/systemd/lab-$host -name cgroup.procs -exec cat {} + 2>/dev/null)
        [ -z "$pids" ] && break
        kill -9 $pids 2>/dev/null
        sleep 1
    done
    find /sys/fs/cgroup/systemd/lab-$host /sys/fs/cgroup/unified/lab-$host -depth -type d -exec rmdir {} \; 2>/dev/null
    umount -l $lab/hosts/$host/merged 2>/dev/null
    rm -f "$pidfile"
done
ip netns del hagenlab 2>/dev/null
rm -rf /run/systemd/nspawn
true
