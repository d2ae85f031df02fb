#!/usr/bin/env python3
"""Checks a `tapvault audit` JSON report against tv-gen's --audit-truth CSV.

Every truth row (interface, src, dst, sport, dport, proto) must appear in the
report with exactly the expected class and reason, and the report must hold
no flow the truth does not list.  With --payload it also checks the payload
findings the generator plants: SSH on 443, HTTP on 8443, the HTTP Basic and
FTP credentials (redacted), TLS server names and DNS names.
Usage: audit_truth.py REPORT.json TRUTH.csv [--payload]
"""
import csv
import json
import sys

PROTO = {"tcp": 6, "udp": 17, "icmp": 1, "icmp6": 58}


def main():
    rep = json.load(open(sys.argv[1]))
    got = {}
    for f in rep["flows"]:
        p = PROTO.get(f["proto"], f["proto"])
        k = (f["interface"], f["src"], f["dst"], f["sport"], f["dport"], int(p))
        if k in got:
            print("DUPLICATE flow in report", k)
            return 1
        got[k] = f
    bad = n = 0
    per = {}
    for t in csv.DictReader(open(sys.argv[2])):
        n += 1
        k = (t["interface"], t["src"], t["dst"], int(t["sport"]), int(t["dport"]), int(t["proto"]))
        f = got.pop(k, None)
        want = (t["class"], t["reason"])
        per[want] = per.get(want, 0) + 1
        have = (f["class"], f["reason"]) if f else None
        if have != want:
            bad += 1
            if bad <= 30:
                print("MISMATCH", k, "want", want, "got", have)
    for k, f in list(got.items())[:20]:
        print("NOT IN TRUTH", k, f["class"], f["reason"])
    for (c, r), v in sorted(per.items()):
        print("  %-14s %-28s %d" % (c, r, v))
    print("truth rows %d, mismatches %d, report flows not in truth %d" % (n, bad, len(got)))
    if bad or got or n == 0:
        return 1
    if "--payload" in sys.argv:
        fnd = [f for f in rep["flows"] if f["payload"]]
        def has(pred, what):
            if not any(pred(f) for f in fnd):
                print("payload: missing", what)
                return False
            print("payload: ok", what)
            return True
        ok = True
        ok &= has(lambda f: f["dport"] == 443 and f["payload"]["app"] == "ssh" and f["payload"]["protocol_mismatch"], "SSH on port 443")
        ok &= has(lambda f: f["dport"] == 8443 and f["payload"]["app"] == "http" and f["payload"]["protocol_mismatch"]
                  and f["payload"].get("http_host") == "updates.example-cdn.net", "HTTP on port 8443 with its Host")
        ok &= has(lambda f: f["payload"].get("credential", {}).get("kind") == "http_basic"
                  and f["payload"]["credential"]["user"] == "svc-orders"
                  and f["payload"]["credential"]["secret"] == "W********", "HTTP Basic svc-orders, redacted")
        ok &= has(lambda f: f["payload"].get("credential", {}).get("user") == "deploy", "FTP USER deploy")
        ok &= has(lambda f: f["payload"].get("credential", {}).get("kind") == "user_pass"
                  and f["payload"]["credential"]["secret"].startswith("T*"), "FTP PASS, redacted")
        ok &= has(lambda f: f["payload"].get("tls_sni") == "hooks.slack.com", "TLS SNI hooks.slack.com")
        ok &= has(lambda f: "deb.debian.org" in f["payload"].get("dns_names", []), "DNS name deb.debian.org")
        ok &= has(lambda f: f["payload"].get("banner", "").startswith("SSH-2.0-OpenSSH_9.6"), "SSH banner")
        if not ok:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
