#!/usr/bin/env python3
"""Runs `tapvault audit` on every shared flow-log file and checks the reader's
counts in the JSON report: every line either parses or is rejected with its
reason.  The per-file numbers are those of tests/unit/test_flowlog.c.
Usage: audit_shared.py TAPVAULT STORE FLOWLOG_DIR
"""
import json
import os
import subprocess
import sys

V2 = ("${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} "
      "${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}")
V3 = " ${vpc-id} ${subnet-id} ${instance-id} ${tcp-flags} ${type} ${pkt-srcaddr} ${pkt-dstaddr}"
V4 = " ${region} ${az-id} ${sublocation-type} ${sublocation-id}"
V5 = " ${pkt-src-aws-service} ${pkt-dst-aws-service} ${flow-direction} ${traffic-path}"
V7 = (" ${ecs-cluster-arn} ${ecs-cluster-name} ${ecs-container-instance-arn} "
      "${ecs-container-instance-id} ${ecs-container-id} ${ecs-second-container-id} "
      "${ecs-service-name} ${ecs-task-definition-arn} ${ecs-task-arn} ${ecs-task-id}")
TGW_CUSTOM = ("${version} ${interface-id} ${account-id} ${vpc-id} ${subnet-id} ${instance-id} ${srcaddr} "
              "${dstaddr} ${srcport} ${dstport} ${protocol} ${tcp-flags} ${type} ${pkt-srcaddr} "
              "${pkt-dstaddr} ${action} ${log-status}")
TGW = ("${version} ${resource-type} ${account-id} ${tgw-id} ${tgw-attachment-id} "
       "${tgw-src-vpc-account-id} ${tgw-dst-vpc-account-id} ${tgw-src-vpc-id} ${tgw-dst-vpc-id} "
       "${tgw-src-subnet-id} ${tgw-dst-subnet-id} ${tgw-src-eni} ${tgw-dst-eni} ${tgw-src-az-id} "
       "${tgw-dst-az-id} ${tgw-pair-attachment-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} "
       "${protocol} ${packets} ${bytes} ${start} ${end} ${log-status} ${type} "
       "${packets-lost-no-route} ${packets-lost-blackhole} ${packets-lost-mtu-exceeded} "
       "${packets-lost-ttl-expired} ${tcp-flags} ${region} ${flow-direction} "
       "${pkt-src-aws-service} ${pkt-dst-aws-service}")

# file: (format or None, records, rejected, headers, blank, json, nodata, skipdata)
CASES = {
    "awsdocs-flow-logs-records-examples-nat-gateway-custom.log": (None, 6, 0, 1, 0, 0, 0, 0),
    "awsdocs-flow-logs-records-examples-transit-gateway-custom.log": (None, 4, 0, 1, 0, 0, 0, 0),
    "awsdocs-flow-logs-records-examples-v2-default.log": (None, 7, 0, 0, 0, 0, 1, 1),
    "awsdocs-flow-logs-records-examples-v3-tcp-flag-sequence.log": (None, 8, 0, 1, 0, 0, 0, 0),
    "awsdocs-flow-logs-records-examples-v5-traffic-path.log": (None, 2, 0, 1, 0, 0, 0, 0),
    "beats-vpcflow-accept-reject-traffic.log": (None, 4, 0, 1, 0, 0, 0, 0),
    "beats-vpcflow-bad.log": (None, 0, 1, 0, 0, 0, 0, 0),
    "beats-vpcflow-custom-nat-gateway.log": (None, 2, 0, 1, 0, 0, 0, 0),
    "beats-vpcflow-custom-transit-gateway.log": (TGW_CUSTOM, 1, 0, 0, 0, 0, 0, 0),
    "beats-vpcflow-ipv6.log": (None, 1, 0, 0, 0, 0, 0, 0),
    "beats-vpcflow-no-data-skip-data.log": (None, 2, 0, 0, 0, 0, 1, 1),
    "beats-vpcflow-tcp-flag-sequence-skip-data.log": (None, 2, 0, 2, 1, 0, 1, 1),
    "beats-vpcflow-tcp-flag-sequence.log": (None, 1, 0, 1, 0, 0, 0, 0),
    "elastic-integrations-vpcflow-test-ecs-samples.log": (V2 + V3 + V4 + V5 + V7, 10, 0, 0, 0, 0, 4, 2),
    "elastic-integrations-vpcflow-test-extra-samples.log": (None, 7, 0, 0, 0, 0, 1, 1),
    "elastic-integrations-vpcflow-test-tcp-flag-sequence.log": (None, 3, 0, 3, 0, 0, 1, 1),
    "elastic-integrations-vpcflow-test-tgw-samples.log": (TGW, 10, 0, 0, 0, 0, 1, 6),
    "elastic-integrations-vpcflow-test-v5-all-fields.log": (V2 + V3 + V4 + V5, 1, 0, 0, 0, 0, 0, 0),
    "elastic-integrations-vpcflow-test-v8-samples.log": (V2 + V3 + V4 + V5 + V7 + " ${reject-reason}", 1, 0, 0, 0, 0, 1, 0),
    "elastic-integrations-vpcflow-test-with-message-field.log": (None, 1, 0, 0, 0, 1, 1, 0),
}
KEYS = ("records", "rejected", "headers", "blank", "json", "nodata", "skipdata")


def main():
    tv, store, d = sys.argv[1:4]
    bad = seen = 0
    for name in sorted(os.listdir(d)):
        if not name.endswith(".log"):
            continue
        seen += 1
        if name not in CASES:
            print("no expected counts for", name)
            bad += 1
            continue
        fmt, *want = CASES[name]
        cmd = [tv, "audit", "-q", "-s", store, "--flow-logs", os.path.join(d, name), "--no-payload", "-o", "r.json"]
        if fmt:
            cmd += ["--log-format", fmt]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            print(name, "exit", p.returncode, p.stderr)
            bad += 1
            continue
        r = json.load(open("r.json"))
        fr = r["flowlog_reader"]
        got = [fr[k] for k in KEYS]
        lines = fr["lines"]
        # every line is a record, a header, a blank line or a reject with its reason
        if got != want or lines != fr["records"] + fr["headers"] + fr["blank"] + fr["rejected"]:
            print(name, "want", dict(zip(KEYS, want)), "got", dict(zip(KEYS, got)), "lines", lines)
            bad += 1
            continue
        if fr["rejected"] != len(r["flowlog_rejects"]) or any(not x["reason"] or not x["message"] for x in r["flowlog_rejects"]):
            print(name, "rejects are not all reported with a reason", r["flowlog_rejects"])
            bad += 1
            continue
        print("ok %-62s %s" % (name, " ".join("%s=%d" % kv for kv in zip(KEYS, got))))
    print("files %d, failed %d" % (seen, bad))
    return 1 if bad or seen == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
