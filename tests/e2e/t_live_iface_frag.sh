# `ingest -i` reassembles outer fragments: its capture filter admits the UDP
# fragments that a port test cannot see.  The outer-fragmented VXLAN and
# GENEVE of t_outer_reasm are written onto the loopback interface with a
# packet socket; the inner packets are stored whole, and the fragments that
# cannot be reassembled (still waiting at SIGTERM) are stored as captured.
# Needs root (CAP_NET_RAW) for the capture and the packet socket.
. "$E2E_LIB"
need python3
[ "$(id -u)" = 0 ] || skip "needs root for -i and a packet socket"
here=$(dirname "$E2E_LIB")
python3 "$here/pcapgen.py" outerfrag outer.pcap want.pcap
"$TAPVAULT" ingest -s st -i lo --seal-interval 500ms >ingest.out 2>ingest.err &
pid=$!
trap 'kill -9 $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
  grep -q 'capturing on lo' ingest.err 2>/dev/null && break
  kill -0 $pid 2>/dev/null || { cat ingest.err; skip "ingest -i lo did not start"; }
  sleep 0.1
done
sleep 0.5
python3 - "$here" <<'PY'
import socket, sys, time
sys.path.insert(0, sys.argv[1])
from pcapgen import read_pcap
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("lo", 0))
for ts, data, orig in read_pcap("outer.pcap"):
    s.send(data)
    time.sleep(0.002)
PY
sleep 1.5
kill -TERM $pid
for _ in $(seq 1 200); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
kill -0 $pid 2>/dev/null && fail "ingest -i did not stop within 20 s of SIGTERM"
wait $pid || { cat ingest.err; fail "ingest -i exited non-zero"; }
trap - EXIT
"$TAPVAULT" stats -s st --format json > stats.json
ctr() { python3 -c 'import json,sys; print(json.load(open("stats.json"))["counters"].get(sys.argv[1], 0))' "$1"; }
expect_eq "decap.reasm.datagrams" 4 "$(ctr decap.reasm.datagrams)"
expect_eq "decap.reasm.incomplete" 3 "$(ctr decap.reasm.incomplete)"
"$TAPVAULT" query -s st 'not net 192.168.5.0/24' -w got.pcap
python3 - "$here" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
from pcapgen import read_pcap
got = sorted(d for t, d, o in read_pcap("got.pcap"))
want = sorted(d for t, d, o in read_pcap("want.pcap"))
assert got == want, "inner frames differ: %d stored, %d expected" % (len(got), len(want))
print("%d inner packets whole" % len(got))
PY
"$TAPVAULT" flows -s st --format json --fields 'pkt-srcaddr pkt-dstaddr packets' > f.json
python3 - <<'PY'
import json
for l in open("f.json"):
    r = json.loads(l)
    for a in (r["pkt-srcaddr"], r["pkt-dstaddr"]):
        assert a not in ("192.168.5.11", "10.10.11.11", "fd00::11", "fd00::12"), r
PY
echo "ok: -i reassembles outer fragments"
