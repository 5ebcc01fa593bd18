"""The lab: boot a deploy bundle's nodes as whole Debian hosts, let them deploy themselves from
their own user-data, then drive traffic through the VIPs and crash each node in turn.

hosts.py   base root, network namespace, nspawn hosts, crash and teardown (the only privileged code)
run.py     up / test / down: the bundle's README steps, the crash scenarios, the report
client.py  the client process inside the lab network (writes, tokens, messages, VIP probes)
report.py  events -> figures and the report table (pure)
"""
