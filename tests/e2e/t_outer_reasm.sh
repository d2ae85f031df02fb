# VXLAN and GENEVE whose outer IPv4 or IPv6 packets are fragmented: the
# inner packets come out whole (query -w writes them byte for byte, at the
# time of their datagram's last fragment), the mirror's own transport never
# becomes a flow record, and the fragments that cannot be reassembled (one
# datagram lost its second fragment, one its first) are stored as the outer
# frames as captured, flagged decap_error and counted.
. "$E2E_LIB"
need python3
here=$(dirname "$E2E_LIB")
python3 "$here/pcapgen.py" outerfrag outer.pcap want.pcap
"$TAPVAULT" ingest -q -s st -r outer.pcap
"$TAPVAULT" stats -s st --format json > stats.json
ctr() { python3 -c 'import json,sys; print(json.load(open("stats.json"))["counters"].get(sys.argv[1], 0))' "$1"; }
expect_eq "decap.reasm.datagrams" 4 "$(ctr decap.reasm.datagrams)"
expect_eq "decap.reasm.incomplete" 3 "$(ctr decap.reasm.incomplete)"
expect_eq "decap.failed" 3 "$(ctr decap.failed)"
expect_eq "flow.skipped_decap_error" 3 "$(ctr flow.skipped_decap_error)"
expect_eq "decap.not_tunnelled" 0 "$(ctr decap.not_tunnelled)"
# the inner packets, byte for byte
"$TAPVAULT" query -s st 'not net 192.168.5.0/24' -w got.pcap
python3 - "$here" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
from pcapgen import read_pcap
got, want = read_pcap("got.pcap"), read_pcap("want.pcap")
assert len(got) == len(want), (len(got), len(want))
for (gt, gd, go), (wt, wd, wo) in zip(sorted(got), sorted(want)):
    assert gd == wd, "inner frame differs at %d: %d vs %d bytes" % (wt, len(gd), len(wd))
    assert gt == wt and go == len(wd), (gt, wt, go, len(wd))
print("%d inner packets whole" % len(got))
PY
# the lost ones: the outer frames as captured, decap_error
"$TAPVAULT" query -s st 'net 192.168.5.0/24' -w lost.pcap
"$TAPVAULT" query -s st 'net 192.168.5.0/24' --format json > lost.json
python3 - "$here" <<'PY'
import json, sys
sys.path.insert(0, sys.argv[1])
from pcapgen import read_pcap
got, want = read_pcap("lost.pcap"), read_pcap("outer.pcap.lost")
assert sorted(got) == sorted((t, d, len(d)) for t, d, o in want), "lost fragments differ"
assert all(json.loads(l).get("decap_error") for l in open("lost.json"))
print("%d lost fragments stored as captured" % len(got))
PY
# flows: the inner flows only; nothing of the mirror transport
"$TAPVAULT" flows -s st --format json \
  --fields 'pkt-srcaddr pkt-dstaddr srcport dstport protocol packets bytes' > f.json
python3 - <<'PY'
import json
recs = [json.loads(l) for l in open("f.json")]
for r in recs:
    for a in (r["pkt-srcaddr"], r["pkt-dstaddr"]):
        assert a not in ("192.168.5.11", "10.10.11.11", "fd00::11", "fd00::12"), r
got = sorted((r["vni"], r["pkt-srcaddr"], r["dstport"], r["packets"], r["bytes"]) for r in recs)
want = sorted([(100, "10.1.0.1", 443, 3, 1440 + 1440 + 140), (200, "2001:db8::1", 53, 1, 40 + 8 + 2048),
               (300, "10.1.0.1", 443, 1, 1040)])
assert got == want, (got, want)
print("flows:", got)
PY
# tshark, reassembling the outer fragments itself, sees the same inner packets
if command -v tshark >/dev/null 2>&1; then
  n=$(tshark -r outer.pcap -o ip.defragment:TRUE -o ipv6.defragment:TRUE -Y 'vxlan or geneve' 2>/dev/null | wc -l)
  expect_eq "tshark's reassembled tunnel packets" 5 "$n"
fi
echo "ok: outer fragments reassembled"
