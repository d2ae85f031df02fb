# Flow-log counts near 2^64: two records of one flow with 2^63 and 2^63 + M
# packets (the second with 0 bytes) used to wrap to M and "match" a mirror
# that saw M packets.  The
# record that would make the sums pass 2^64 is rejected, listed with its
# line and counted (flowlog.rejected.sum_overflow); the flow keeps 2^63.
. "$E2E_LIB"
need python3
"$GEN" --seed 3 --outer outer.pcap --flowlog fl.log --vni-map map.txt >/dev/null
"$TAPVAULT" ingest -q -s st -r outer.pcap --flow-interval 60
"$TAPVAULT" audit -q -s st --flow-logs fl.log --vni-map map.txt --no-payload -o base.json
python3 - <<'PY'
import json
d = json.load(open('base.json'))
hdr, *lines = open('fl.log').read().splitlines()
names = hdr.split()
ix = {n: i for i, n in enumerate(names)}
# a matched flow with a single flow-log record
for f in d['flows']:
    if f['class'] != 'matched' or f['flowlog']['records'] != 1:
        continue
    for l in lines:
        v = l.split()
        if (v[ix['srcaddr']], v[ix['dstaddr']], v[ix['srcport']], v[ix['dstport']],
                v[ix['interface-id']]) == (f['src'], f['dst'], str(f['sport']), str(f['dport']),
                                           f['interface']):
            break
    else:
        continue
    break
m = f['mirror']['packets']
a, b = list(v), list(v)
a[ix['packets']] = str(1 << 63)
b[ix['packets']] = str((1 << 63) + m)
b[ix['bytes']] = '0'  # so that the wrapped sums equal the mirror's exactly
open('wrap.log', 'w').write(hdr + '\n' + ' '.join(a) + '\n' + ' '.join(b) + '\n')
open('flow.txt', 'w').write('%s %s %d %d %d\n' % (f['src'], f['dst'], f['sport'], f['dport'], m))
PY
read -r src dst sport dport m < flow.txt
echo "flow $src:$sport > $dst:$dport, mirror packets $m"
expect_exit 0 "$TAPVAULT" audit -s st --flow-logs wrap.log --vni-map map.txt --no-payload -o a.json
grep -q "wrap.log:3: .*the sums would pass 2^64; record rejected" err.txt || { cat err.txt; fail "overflow not named"; }
got=$(python3 - "$src" "$dst" "$sport" "$dport" <<'PY'
import json, sys
d = json.load(open('a.json'))
src, dst, sp, dp = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
f = [f for f in d['flows'] if (f['src'], f['dst'], f['sport'], f['dport']) == (src, dst, sp, dp)][0]
r = d['flowlog_reader']
print(f['class'], f['flowlog']['packets'], f['flowlog']['records'], r['rejected'],
      r['rejected_by_reason'].get('flowlog.rejected.sum_overflow', 0), d['totals']['flowlog_packets'])
PY
)
echo "class packets records rejected sum_overflow total: $got"
set -- $got
[ "$1" != matched ] || fail "the wrapped sum still matches"
expect_eq "flow-log packets of the flow" "$(python3 -c 'print(1 << 63)')" "$2"
expect_eq "records of the flow" 1 "$3"
expect_eq "rejected" 1 "$4"
expect_eq "sum_overflow" 1 "$5"
expect_eq "total flow-log packets" "$(python3 -c 'print(1 << 63)')" "$6"
echo ok
