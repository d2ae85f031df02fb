#!/usr/bin/env python3
"""Compare tapvault's view of a capture with tshark's innermost layer.

usage: tshark_oracle.py CAPTURE TAPVAULT_JSON [--port-map udp.port==8472,vxlan]

Counts packets per VNI and per innermost 5-tuple on both sides and prints
the differences; exits 1 when there are any.  tshark decides what the
innermost layer is: the last IPv4/IPv6 header in frame.protocols that is not
inside an ICMP error, with the TCP/UDP ports that follow it.
"""
import collections, json, subprocess, sys

FIELDS = ["frame.protocols", "ip.src", "ip.dst", "ip.proto", "ipv6.src", "ipv6.dst",
          "ipv6.nxt", "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport",
          "vxlan.vni", "geneve.vni", "ip.frag_offset", "ip.flags.mf", "ipv6.fraghdr.nxt",
          "ip.len", "ipv6.plen"]

def tshark_rows(path, extra):
    fields = FIELDS
    cmd = ["tshark", "-n", "-r", path, "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE",
           "-o", "tcp.analyze_sequence_numbers:FALSE", "-T", "fields", "-E", "separator=\t",
           "-E", "aggregator=,", "-E", "occurrence=a"] + extra
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        cols = line.split("\t")
        cols += [""] * (len(fields) - len(cols))
        yield dict(zip(fields, [c.split(",") if c else [] for c in cols]))

PROTO_NUM = {"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58, "sctp": 132, "igmp": 2, "gre": 47,
             "esp": 50, "ah": 51}
IPV6_EXT = ("ipv6.hopopts", "ipv6.routing", "ipv6.dstopts", "ipv6.fraghdr")
TUNNELS = ("vxlan", "geneve")

def num(v):
    return int(v, 0)

def inner_layer(row):
    """(vni, None) or (vni, (src, dst, proto, sport, dport, later_frag, ip_bytes));
    ports are None where tshark shows none.  Shared with flows_tshark.py."""
    protos = row["frame.protocols"][0].split(":") if row["frame.protocols"] else []
    vni = None
    if row["vxlan.vni"]:
        vni = num(row["vxlan.vni"][-1])
    if row["geneve.vni"] and (vni is None or
                              max(i for i, p in enumerate(protos) if p == "geneve") >
                              max(i for i, p in enumerate(protos) if p == "vxlan")):
        vni = num(row["geneve.vni"][-1])
    # the inner packet starts after the last tunnel header; an ICMP error's
    # quoted header is not the packet
    first = 0
    for i, p in enumerate(protos):
        if p in TUNNELS:
            first = i + 1
    cut = len(protos)
    for i in range(first, len(protos)):
        if protos[i] in ("icmp", "icmpv6"):
            cut = i + 1
            break
    seen = {"ip": 0, "ipv6": 0, "tcp": 0, "udp": 0}
    inner = l4 = None
    at = None
    for i, p in enumerate(protos):
        if p in ("ip", "ipv6"):
            if first <= i < cut:
                inner, at, l4 = (p, seen[p]), i, None
            seen[p] += 1
        elif p in ("tcp", "udp"):
            if inner is not None and first <= i < cut and l4 is None:
                l4 = (p, seen[p])
            seen[p] += 1
    if inner is None:
        return vni, None
    kind, k = inner
    try:
        if kind == "ip":
            src, dst, proto = row["ip.src"][k], row["ip.dst"][k], int(row["ip.proto"][k])
            later_frag = bool(row["ip.frag_offset"]) and int(row["ip.frag_offset"][k]) > 0
            size = int(row["ip.len"][k])
        else:
            src, dst = row["ipv6.src"][k], row["ipv6.dst"][k]
            proto = int(row["ipv6.nxt"][k])
            j, frag = at + 1, False
            while j < len(protos) and protos[j] in IPV6_EXT:
                frag = frag or protos[j] == "ipv6.fraghdr"
                j += 1
            if j < len(protos) and protos[j] in PROTO_NUM:
                proto = PROTO_NUM[protos[j]]
            elif frag and row["ipv6.fraghdr.nxt"]:
                proto = int(row["ipv6.fraghdr.nxt"][-1])
            later_frag = False
            size = int(row["ipv6.plen"][k]) + 40
    except (IndexError, ValueError):
        return vni, None
    sport = dport = None
    if l4 is not None and not later_frag:
        p, j = l4
        try:
            sport, dport = int(row[p + ".srcport"][j]), int(row[p + ".dstport"][j])
        except (IndexError, ValueError):
            pass
    return vni, (src, dst, proto, sport, dport, later_frag, size)

def innermost(row):
    vni, t = inner_layer(row)
    return vni, (t[:5] if t else None)

def main():
    cap, js = sys.argv[1], sys.argv[2]
    extra = []
    if len(sys.argv) > 4 and sys.argv[3] == "--port-map":
        extra = ["-d", sys.argv[4]]
    want_vni, want_t = collections.Counter(), collections.Counter()
    for row in tshark_rows(cap, extra):
        vni, t = innermost(row)
        want_vni[vni] += 1
        want_t[t] += 1
    got_vni, got_t = collections.Counter(), collections.Counter()
    with open(js) as f:
        for line in f:
            o = json.loads(line)
            got_vni[o.get("vni")] += 1
            if "src" not in o:
                got_t[None] += 1
                continue
            sp, dp = o.get("sport"), o.get("dport")
            if o.get("frag") == "later":
                # tapvault gives a later fragment its datagram's ports; tshark
                # (defragmentation off) shows none: compare on tshark's terms
                sp = dp = None
            got_t[(o["src"], o["dst"], o["proto"], sp, dp)] += 1
    bad = 0
    for name, w, g in (("VNI", want_vni, got_vni), ("5-tuple", want_t, got_t)):
        for k in sorted(set(w) | set(g), key=str):
            if w[k] != g[k]:
                bad += 1
                print(f"{name} {k}: tshark {w[k]}, tapvault {g[k]}")
    print(f"{cap}: {sum(want_vni.values())} packets, {len(want_vni)} VNIs, {len(want_t)} 5-tuples, "
          f"{bad} differences")
    sys.exit(1 if bad else 0)

if __name__ == "__main__":
    main()
