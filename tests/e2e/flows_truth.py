#!/usr/bin/env python3
"""Check `tapvault flows --format json` against tv-gen's truth CSV.

usage: flows_truth.py TRUTH.CSV FLOWS.JSONL INTERVAL

The JSON must carry pkt-srcaddr, pkt-dstaddr, srcport, dstport, protocol,
packets, bytes, start, end, tcp-flags (and the non-AWS "vni").  Records summed
per (vni, src, dst, sport, dport, proto) must equal the truth exactly:
packets, bytes, min start == floor(first_ns / 1e9), max end ==
floor(last_ns / 1e9), OR of tcp-flags == tcp_flags_aws.  Each record must lie
inside one window of INTERVAL seconds, and no flow may have two records in
one window (the writer merges them).
"""
import collections, csv, ipaddress, json, sys

def addr(s):
    return str(ipaddress.ip_address(s))

def main():
    truth_path, flows_path, interval = sys.argv[1], sys.argv[2], int(sys.argv[3])
    want = {}
    with open(truth_path) as f:
        for row in csv.DictReader(f):
            k = (int(row["vni"]), addr(row["src"]), addr(row["dst"]), int(row["sport"]),
                 int(row["dport"]), int(row["proto"]))
            if k in want:
                print(f"truth has {k} twice"); sys.exit(2)
            want[k] = dict(packets=int(row["packets"]), bytes=int(row["bytes"]),
                           start=int(row["first_ns"]) // 10**9, end=int(row["last_ns"]) // 10**9,
                           flags=int(row["tcp_flags_aws"]))
    got = {}
    seen_window = set()
    bad = 0
    nrec = 0
    with open(flows_path) as f:
        for line in f:
            o = json.loads(line)
            nrec += 1
            k = (o["vni"], addr(o["pkt-srcaddr"]), addr(o["pkt-dstaddr"]), o["srcport"], o["dstport"],
                 o["protocol"])
            w = o["start"] // interval
            if o["end"] // interval != w:
                bad += 1; print(f"record crosses a {interval} s window: {line.strip()}")
            if (k, w) in seen_window:
                bad += 1; print(f"two records of one flow in one window: {k} window {w * interval}")
            seen_window.add((k, w))
            g = got.setdefault(k, dict(packets=0, bytes=0, start=None, end=None, flags=0))
            g["packets"] += o["packets"]
            g["bytes"] += o["bytes"]
            g["start"] = o["start"] if g["start"] is None else min(g["start"], o["start"])
            g["end"] = o["end"] if g["end"] is None else max(g["end"], o["end"])
            g["flags"] |= o["tcp-flags"]
    for k in sorted(set(want) | set(got), key=str):
        if k not in got:
            bad += 1; print(f"missing flow {k}: truth {want[k]}")
        elif k not in want:
            bad += 1; print(f"extra flow {k}: {got[k]}")
        elif want[k] != got[k]:
            bad += 1; print(f"flow {k}: truth {want[k]}, tapvault {got[k]}")
        if bad > 30:
            break
    print(f"{len(want)} truth flows, {nrec} records ({interval} s windows), "
          f"{sum(v['packets'] for v in got.values())} packets, {bad} differences")
    sys.exit(1 if bad else 0)

main()
