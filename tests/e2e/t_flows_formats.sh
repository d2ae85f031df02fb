# The output formats of `tapvault flows`.  Every v2-v8 field alone
# and all together parse back through the project's own flow-log reader and
# give the same values as the JSON output; the version column is the
# highest field version; --header and CSV header rows; --fields syntaxes;
# VNI maps (text and AWS CLI JSON) with the primary-address rule; errors
# with file:line; the S3 layout (names, folders, 5-minute periods by end
# time, hash, gzip, header line) read back as Athena's table would.
. "$E2E_LIB"
need python3; need zcat
here=$(dirname "$E2E_LIB"); root=$(cd "$here/../.." && pwd)
lib=$(dirname "$TAPVAULT")/libtapvault.a
[ -f "$lib" ] || lib=$root/build/libtapvault.a
[ -f "$lib" ] || skip "libtapvault.a not found next to $TAPVAULT"
command -v cc >/dev/null 2>&1 || skip "no C compiler for the parser helper"
# the library of a SAN=1 build needs the sanitizer runtimes too
for san in "" "-fsanitize=address,undefined"; do
  cc -std=c11 -D_GNU_SOURCE -O1 $san -o flows_parse "$here/flows_parse.c" "$lib" \
    -lpcap -lzstd -llmdb -larchive -ljansson -lpthread -lm 2>cc.err && break
done
[ -x flows_parse ] || { tail -n 5 cc.err; fail "cannot build flows_parse against $lib"; }

"$GEN" --seed 3 --outer o.pcap --truth t.csv >/dev/null
"$TAPVAULT" ingest -q -s st -r o.pcap --flow-interval 60

V2="version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"
V3="vpc-id subnet-id instance-id tcp-flags type pkt-srcaddr pkt-dstaddr"
V4="region az-id sublocation-type sublocation-id"
V5="pkt-src-aws-service pkt-dst-aws-service flow-direction traffic-path"
V7="ecs-cluster-arn ecs-cluster-name ecs-container-instance-arn ecs-container-instance-id ecs-container-id ecs-second-container-id ecs-service-name ecs-task-definition-arn ecs-task-arn ecs-task-id"
V8="reject-reason resource-id encryption-status"
ALL="$V2 $V3 $V4 $V5 $V7 $V8"
expect_eq "field count" 42 "$(echo $ALL | wc -w)"

# the default format is the v2 list, without a header
"$TAPVAULT" flows -s st > def.txt
"$TAPVAULT" flows -s st --fields "$V2" > v2.txt
cmp -s def.txt v2.txt || fail "default output differs from --fields with the v2 list"
head -n 1 def.txt | grep -q '^2 - vni-' || fail "default output: $(head -n 1 def.txt)"
nrec=$(wc -l < def.txt)
[ "$nrec" -gt 100 ] || fail "too few records ($nrec)"

# check_fields FIELDS VERSION: aws with --header parses back identically, and
# agrees value by value with the JSON output
check_fields() {
  local f=$1 ver=$2
  "$TAPVAULT" flows -s st --fields "$f" --header > a.txt
  "$TAPVAULT" flows -s st --fields "$f" --format json > a.json
  expect_eq "header for '$f'" "$(echo $f)" "$(head -n 1 a.txt)"
  ./flows_parse a.txt > p.txt || fail "'$f': the parser rejected lines"
  python3 - "$f" "$ver" <<'PY' || fail "'$1' check failed"
import json, sys
fields, ver = sys.argv[1].split(), int(sys.argv[2])
lines = open("a.txt").read().splitlines()
parsed = open("p.txt").read().splitlines()
objs = [json.loads(l) for l in open("a.json")]
assert len(lines) - 1 == len(parsed) == len(objs), (len(lines), len(parsed), len(objs))
for line, p, o in zip(lines[1:], parsed, objs):
    head, rec = p.split("\t")
    assert head == " ".join(fields), head
    assert rec == line, (rec, line)            # parse + format gives the same text
    toks = line.split(" ")
    assert len(toks) == len(fields), line
    for name, t in zip(fields, toks):
        v = o[name]
        assert (t == "-") == (v is None), (name, t, v)
        if v is not None:
            assert str(v) == t, (name, t, v)
        if name == "version":
            assert int(t) == ver, (t, ver)
    assert set(o) == set(fields) | {"vni", "outer_src"}, o.keys()
PY
}
check_fields "$ALL" 8
for f in $ALL; do
  v=2
  case " $V3 " in *" $f "*) v=3 ;; esac
  case " $V4 " in *" $f "*) v=4 ;; esac
  case " $V5 " in *" $f "*) v=5 ;; esac
  case " $V7 " in *" $f "*) v=7 ;; esac
  case " $V8 " in *" $f "*) v=8 ;; esac
  if [ "$f" = version ]; then check_fields version 2; else check_fields "$f version" "$v"; fi
done
echo "ok every field: 42 formats + all together parse back, version column right"

# --fields syntaxes
"$TAPVAULT" flows -s st --fields 'interface-id srcaddr tcp-flags' > s1.txt
"$TAPVAULT" flows -s st --fields 'interface-id,srcaddr,tcp-flags' > s2.txt
"$TAPVAULT" flows -s st --fields '${interface-id} ${srcaddr}, ${tcp-flags}' > s3.txt
"$TAPVAULT" flows -s st --fields 'interface_id SRCADDR tcp-flags' > s4.txt
cmp -s s1.txt s2.txt && cmp -s s1.txt s3.txt && cmp -s s1.txt s4.txt || fail "--fields syntaxes differ"
expect_exit 2 "$TAPVAULT" flows -s st --fields 'srcaddr colour'
grep -q "unknown field 'colour'" err.txt || fail "unknown field: $(cat err.txt)"
expect_exit 2 "$TAPVAULT" flows -s st --fields 'srcaddr srcaddr'
expect_exit 2 "$TAPVAULT" flows -s st --format xml

# CSV: a header row, then the AWS values with commas
"$TAPVAULT" flows -s st --format csv --fields 'interface-id srcaddr vpc-id packets' > c.csv
expect_eq "csv header" "interface-id,srcaddr,vpc-id,packets" "$(head -n 1 c.csv)"
expect_eq "csv rows" "$nrec" "$(($(wc -l < c.csv) - 1))"
sed -n 2p c.csv | grep -Eq '^vni-[0-9]+,[0-9.]+,-,[0-9]+$' || fail "csv row: $(sed -n 2p c.csv)"

# time filter: after/before by the records' start/end
t0=$(head -n 1 def.txt | cut -d' ' -f11)
"$TAPVAULT" flows -s st "after $((t0 + 120)) and before $((t0 + 300))" > tf.txt
awk -v a=$((t0 + 120)) -v b=$((t0 + 300)) '$11 < a || $12 >= b { bad++ } END { exit bad > 0 }' tf.txt ||
  fail "time filter let through records outside [after, before)"
want=$(awk -v a=$((t0 + 120)) -v b=$((t0 + 300)) '$11 >= a && $12 < b' def.txt | wc -l)
expect_eq "time-filtered records" "$want" "$(wc -l < tf.txt)"
"$TAPVAULT" flows -s st 'tcp and dst port 22' > p22.txt
[ -s p22.txt ] && awk '$8 != 6 || $7 != 22 { exit 1 }' p22.txt || fail "port filter"
expect_exit 2 "$TAPVAULT" flows -s st 'port' 
grep -q 'bad expression' err.txt || fail "bad expression message"

# VNI maps: text, then the AWS CLI JSON with a secondary address
vni=$(awk -F, 'NR == 2 { print $1 }' t.csv)
ip=$(awk -F, -v v=$vni 'NR > 1 && $1 == v { print $2; exit }' t.csv)   # the ENI's primary = outer source
cat > map.txt <<M
# generated VNI $vni
vni=$vni eni=eni-0a1b2c3d4e5f60789 account=111122223333 vpc=vpc-0abc subnet=subnet-0abc instance=i-0abc region=eu-west-1 az=euw1-az1 addr=$ip
M
"$TAPVAULT" flows -s st --vni-map map.txt --fields "account-id interface-id vpc-id subnet-id instance-id region az-id flow-direction srcaddr pkt-srcaddr" "vni $vni" > m.txt
[ -s m.txt ] || fail "no records for vni $vni"
awk '$1 != "111122223333" || $2 != "eni-0a1b2c3d4e5f60789" || $3 != "vpc-0abc" || $4 != "subnet-0abc" || $5 != "i-0abc" || $6 != "eu-west-1" || $7 != "euw1-az1" { exit 1 }' m.txt ||
  fail "map values not in the records: $(head -n 2 m.txt)"
cat > sessions.json <<J
{ "TrafficMirrorSessions": [ { "TrafficMirrorSessionId": "tms-1", "TrafficMirrorFilterId": "tmf-1",
  "NetworkInterfaceId": "eni-0fff", "OwnerId": "444455556666", "VirtualNetworkId": $vni, "SessionNumber": 1 } ] }
J
cat > nis.json <<J
{ "NetworkInterfaces": [ { "NetworkInterfaceId": "eni-0fff", "OwnerId": "444455556666", "VpcId": "vpc-9",
  "SubnetId": "subnet-9", "AvailabilityZone": "ap-southeast-2c", "AvailabilityZoneId": "apse2-az3",
  "Attachment": { "InstanceId": "i-9" }, "PrivateIpAddress": "10.0.99.1",
  "PrivateIpAddresses": [ { "PrivateIpAddress": "10.0.99.1", "Primary": true },
                          { "PrivateIpAddress": "$ip", "Primary": false } ] } ] }
J
"$TAPVAULT" flows -s st --vni-map nis.json --vni-map sessions.json --fields "account-id interface-id region az-id flow-direction srcaddr pkt-srcaddr dstaddr pkt-dstaddr" "vni $vni and ip" > j.txt
python3 - "$ip" <<'PY' || fail "sessions + interfaces JSON: $(head -n 3 j.txt)"
import sys
ip = sys.argv[1]; n = 0
for line in open("j.txt"):
    a, e, r, az, d, s, ps, dd, pd = line.split()
    assert (a, e, r, az) == ("444455556666", "eni-0fff", "ap-southeast-2", "apse2-az3"), line
    if d == "egress":
        assert ps == ip and s == "10.0.99.1" and dd == pd, line     # secondary -> primary in srcaddr
    elif d == "ingress":
        assert pd == ip and dd == "10.0.99.1" and s == ps, line
    else:
        assert s == ps and dd == pd, line
    n += 1
assert n > 5
print(f"ok JSON map: {n} records, secondary address shown as the primary")
PY
printf 'vni=%s eni=eni-1\nvni=7 eni eni-2\n' "$vni" > bad.txt
expect_exit 2 "$TAPVAULT" flows -s st --vni-map bad.txt
grep -q "bad.txt:2: expected key=value, found 'eni'" err.txt || fail "map error: $(cat err.txt)"
expect_exit 2 "$TAPVAULT" flows -s st --vni-map nonexistent.txt

# S3 layout
"$TAPVAULT" flows -q -s st --s3 out --account 111122223333 --region eu-west-1 --flow-log-id fl-1234abcd
"$TAPVAULT" flows -s st --account 111122223333 --region eu-west-1 > acct.txt
head -n 1 acct.txt | grep -q '^2 111122223333 vni-' || fail "--account does not fill account-id: $(head -n 1 acct.txt)"
./flows_parse out > s3parsed.txt || fail "the parser rejected S3 lines"
python3 - <<'PY' || fail "S3 layout"
import gzip, hashlib, os, re, subprocess
pat = re.compile(r"^out/AWSLogs/111122223333/vpcflowlogs/eu-west-1/(\d{4})/(\d\d)/(\d\d)/"
                 r"111122223333_vpcflowlogs_eu-west-1_fl-1234abcd_(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)Z_([0-9a-f]{8})\.log\.gz$")
V2 = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"
import calendar
files = sorted(os.path.join(d, f) for d, _, fs in os.walk("out") for f in fs)
assert files, "no files"
lines = []
for p in files:
    m = pat.match(p)
    assert m, p
    y, mo, d, y2, mo2, d2, hh, mm, h = m.groups()
    assert (y, mo, d) == (y2, mo2, d2), p
    assert int(mm) % 5 == 0, p
    period = calendar.timegm((int(y), int(mo), int(d), int(hh), int(mm), 0))
    raw = open(p, "rb").read()
    assert raw[:2] == b"\x1f\x8b", p
    text = subprocess.run(["zcat", p], check=True, capture_output=True).stdout
    assert text == gzip.decompress(raw)
    assert hashlib.sha256(text).hexdigest()[:8] == h, p
    t = text.decode().splitlines()
    assert t[0] == V2, t[0]
    # Athena's VPC Flow Logs table: space-delimited, skip.header.line.count=1,
    # v2 columns: version int, account_id string, interface_id string,
    # srcaddr string, dstaddr string, srcport int, dstport int, protocol bigint,
    # packets bigint, bytes bigint, start bigint, end bigint, action string,
    # log_status string
    for l in t[1:]:
        c = l.split(" ")
        assert len(c) == 14, l
        for i in (0, 5, 6, 7, 8, 9, 10, 11):
            int(c[i])
        assert period <= int(c[11]) < period + 300, (p, l)   # the file holds records by END time
        lines.append(l)
print(f"ok S3: {len(files)} files, {len(lines)} records")
stdout = open("acct.txt").read().splitlines()
assert sorted(lines) == sorted(stdout), "S3 records differ from the stdout records"
parsed = [x.split("\t")[1] for x in open("s3parsed.txt").read().splitlines()]
assert sorted(parsed) == sorted(lines)
PY
# deterministic: a second run writes the same bytes under the same names
"$TAPVAULT" flows -q -s st --s3 out2 --account 111122223333 --region eu-west-1 --flow-log-id fl-1234abcd
diff -r out out2 >/dev/null || fail "S3 output is not deterministic"
# defaults: placeholders, or the map's account and region
"$TAPVAULT" flows -q -s st --s3 out3
ls out3/AWSLogs/123456789012/vpcflowlogs/us-east-1/*/*/*/123456789012_vpcflowlogs_us-east-1_fl-tapvault_*.log.gz >/dev/null ||
  fail "default S3 names"
"$TAPVAULT" flows -q -s st --s3 out4 --vni-map map.txt
ls out4/AWSLogs/111122223333/vpcflowlogs/eu-west-1/ >/dev/null || fail "S3 path from the map"
expect_exit 2 "$TAPVAULT" flows -s st --s3 out5 --account '11/22'
expect_exit 2 "$TAPVAULT" flows -s st --s3 out5 --format json
echo "ok S3 layout, determinism, defaults"
