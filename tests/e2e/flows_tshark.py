#!/usr/bin/env python3
"""Compare `tapvault flows` records of a capture with tshark's innermost layer.

usage: flows_tshark.py CAPTURE FLOWS.JSONL [--port-map udp.port==8472,vxlan]

FLOWS.JSONL is `tapvault flows --format json --fields 'pkt-srcaddr
pkt-dstaddr srcport dstport protocol packets bytes'`.  Per (VNI, src, dst,
sport, dport, proto), packets and bytes summed over the records must equal
what tshark reports for the innermost IP header: one packet per frame, bytes
= ip.len, or ipv6.plen + 40.  Frames without an inner IP layer are not flows
(flow.skipped_not_ip).  Later IP fragments carry no ports in tshark's view;
tapvault gives them their first fragment's ports, so flows whose address
pair and protocol have such fragments are compared per (VNI, src, dst,
proto) instead.

The innermost-layer logic is tshark_oracle.py's (the query oracle), extended
with the IP length.
"""
import collections, ipaddress, json, subprocess, sys

FIELDS = ["frame.protocols", "ip.src", "ip.dst", "ip.proto", "ipv6.src", "ipv6.dst",
          "ipv6.nxt", "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport",
          "vxlan.vni", "geneve.vni", "ip.frag_offset", "ip.flags.mf", "ipv6.fraghdr.nxt",
          "ip.len", "ipv6.plen"]
PROTO_NUM = {"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58, "sctp": 132, "igmp": 2, "gre": 47,
             "esp": 50, "ah": 51}
IPV6_EXT = ("ipv6.hopopts", "ipv6.routing", "ipv6.dstopts", "ipv6.fraghdr")
TUNNELS = ("vxlan", "geneve")

def tshark_rows(path, extra):
    cmd = ["tshark", "-n", "-r", path, "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE",
           "-o", "tcp.analyze_sequence_numbers:FALSE", "-T", "fields", "-E", "separator=\t",
           "-E", "aggregator=,", "-E", "occurrence=a"] + extra
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        cols = line.split("\t")
        cols += [""] * (len(FIELDS) - len(cols))
        yield dict(zip(FIELDS, [c.split(",") if c else [] for c in cols]))

def num(v):
    return int(v, 0)

def innermost(row):
    """(vni, (src, dst, proto, sport, dport, later_frag), ip_bytes) or (vni, None, 0)."""
    protos = row["frame.protocols"][0].split(":") if row["frame.protocols"] else []
    vni = None
    if row["vxlan.vni"]:
        vni = num(row["vxlan.vni"][-1])
    if row["geneve.vni"] and (vni is None or
                              max(i for i, p in enumerate(protos) if p == "geneve") >
                              max(i for i, p in enumerate(protos) if p == "vxlan")):
        vni = num(row["geneve.vni"][-1])
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
        return vni, None, 0
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
        return vni, None, 0
    sport = dport = 0
    if l4 is not None and not later_frag:
        p, j = l4
        try:
            sport, dport = int(row[p + ".srcport"][j]), int(row[p + ".dstport"][j])
        except (IndexError, ValueError):
            pass
    return vni, (str(ipaddress.ip_address(src)), str(ipaddress.ip_address(dst)), proto, sport, dport,
                 later_frag), size

def main():
    cap, js = sys.argv[1], sys.argv[2]
    extra = ["-d", sys.argv[4]] if len(sys.argv) > 4 and sys.argv[3] == "--port-map" else []
    want = collections.defaultdict(lambda: [0, 0])
    frag_pairs = set()
    frames = 0
    for row in tshark_rows(cap, extra):
        vni, t, size = innermost(row)
        if t is None:
            continue
        frames += 1
        src, dst, proto, sport, dport, later = t
        if later:
            frag_pairs.add((vni, src, dst, proto))
        w = want[(vni, src, dst, proto, sport, dport, later)]
        w[0] += 1
        w[1] += size
    got = collections.defaultdict(lambda: [0, 0])
    with open(js) as f:
        for line in f:
            o = json.loads(line)
            k = (o["vni"], str(ipaddress.ip_address(o["pkt-srcaddr"])),
                 str(ipaddress.ip_address(o["pkt-dstaddr"])), o["protocol"], o["srcport"], o["dstport"])
            g = got[k]
            g[0] += o["packets"]
            g[1] += o["bytes"]
    def fold(d, is_want):
        out = collections.defaultdict(lambda: [0, 0])
        for k, v in d.items():
            key = k[:4] if k[:4] in frag_pairs else k[:6]
            out[key][0] += v[0]
            out[key][1] += v[1]
        return out
    w, g = fold(want, True), fold(got, False)
    bad = 0
    for k in sorted(set(w) | set(g), key=str):
        if w.get(k) != g.get(k):
            bad += 1
            print(f"flow {k}: tshark packets/bytes {w.get(k)}, tapvault {g.get(k)}")
    print(f"{cap}: {frames} IP frames, {len(w)} flows, {sum(v[1] for v in w.values())} bytes, "
          f"{bad} differences")
    sys.exit(1 if bad else 0)

main()
