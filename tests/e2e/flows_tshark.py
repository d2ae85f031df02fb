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
import collections, ipaddress, json, os, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tshark_oracle import tshark_rows, inner_layer  # noqa: E402

def innermost(row):
    """(vni, (src, dst, proto, sport, dport, later_frag), ip_bytes) or (vni, None, 0)."""
    vni, t = inner_layer(row)
    if t is None:
        return vni, None, 0
    src, dst, proto, sport, dport, later, size = t
    return vni, (str(ipaddress.ip_address(src)), str(ipaddress.ip_address(dst)), proto,
                 sport or 0, dport or 0, later), size

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
