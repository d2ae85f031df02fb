# Every line of every shared flow-log file either parses
# or is reported with its reason, through `tapvault audit` end to end (the
# per-file counts of tests/unit/test_flowlog.c); the AWS CLI mirror filter and
# session samples load.  Skips when ../shared/testdata is absent.
. "$E2E_LIB"
need python3
[ -d "$SHARED/flowlogs" ] || skip "$SHARED/flowlogs is absent"
here=$(dirname "$E2E_LIB")
"$GEN" --duration 60 --flows 5 --outer o.pcap
"$TAPVAULT" ingest -q -s st -r o.pcap --flow-interval 60
python3 "$here/audit_shared.py" "$TAPVAULT" st "$SHARED/flowlogs"
f="$SHARED/flowlogs/aws-cli-example-describe-traffic-mirror-filters.json"
s="$SHARED/flowlogs/aws-cli-example-describe-traffic-mirror-sessions.json"
[ -f "$f" ] && [ -f "$s" ] || skip "mirror JSON samples are absent"
# all the shared logs at once, with the mirror configuration
"$TAPVAULT" audit -q -s st --flow-logs "$SHARED/flowlogs" --mirror-filters "$f" --sessions "$s" --no-payload -o all.json
python3 - all.json <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
enis = {i["interface"]: i for i in r["interfaces"]}
# the sessions sample names eni-0a471a5cf3EXAMPLE with VNI 42 (session 1)
assert "eni-0a471a5cf3EXAMPLE" in enis and enis["eni-0a471a5cf3EXAMPLE"]["vni"] == 42, enis.get("eni-0a471a5cf3EXAMPLE")
fr = r["flowlog_reader"]
# the directory holds JSON samples and custom-format files too: read with the
# default format their lines are rejected, each with its reason, and counted
assert fr["records"] > 0 and fr["lines"] == fr["records"] + fr["headers"] + fr["blank"] + fr["rejected"], fr
assert sum(fr["rejected_by_reason"].values()) == fr["rejected"], fr
print("ok: samples load;", r["totals"]["classes"])
PY
