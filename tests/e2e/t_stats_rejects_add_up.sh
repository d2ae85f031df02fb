# stats and the live summary: "rejected N (sender a, vni b, oversize c)"
# adds up (it used to include datagrams with tunnel errors, which are
# stored as their outer frames, and showed "rejected 19669 (sender 0, vni
# 0, oversize 0)"); tunnel errors are shown on their own, and received =
# stored + rejected.
. "$E2E_LIB"
. "$(dirname "$E2E_LIB")/live_lib.sh"
need python3
# sends KIND COUNT: vni7 (stored), vni9 (rejected by --allow-vni 7), or
# cut (a VXLAN header cut short: a tunnel error, stored as the outer frame)
send() {
  python3 - "$LIVE_PORT" "$1" "$2" <<'PY'
import socket, struct, sys, time
port, kind, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
def frame(i):
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + 8 + 4, i, 0, 64, 17, 0,
                     bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
    udp = struct.pack('!HHHH', 40000, 53, 12, 0) + b'abcd'
    return b'\x02' * 6 + b'\x04' * 6 + b'\x08\x00' + ip + udp
for i in range(count):
    if kind == 'cut':
        d = b'\x08\x00\x00'
    else:
        d = struct.pack('!B3xI', 0x08, int(kind[3:]) << 8) + frame(i)
    s.sendto(d, ('127.0.0.1', port))
    if i % 50 == 49:
        time.sleep(0.01)
PY
}
live_start st --allow-vni 7 --seal-interval 200ms
send vni7 300
send vni9 200
sleep 1
live_stop
cat ingest.out
grep -q '^rejected 200 (sender 0, vni 200, oversize 0); 0 with tunnel errors (stored as outer frames)' ingest.out ||
  fail "live summary: rejects do not add up"
live_start st --seal-interval 200ms
send cut 100
sleep 1
live_stop
cat ingest.out
grep -q '^rejected 0 (sender 0, vni 0, oversize 0); 100 with tunnel errors (stored as outer frames)' ingest.out ||
  fail "live summary of the second run"
"$TAPVAULT" stats -s st > stats.txt
grep '^live' stats.txt
grep -q '^live .*, stored 400, .*rejected 200 (sender 0, vni 200, oversize 0), tunnel errors 100 (stored as outer frames)' stats.txt ||
  fail "stats text: the rejected parts do not add up to the total"
"$TAPVAULT" stats -s st --format json > stats.json
received=$(json_field stats.json live/received)
stored=$(json_field stats.json live/stored)
rejected=$(json_field stats.json live/rejected)
tunnel=$(json_field stats.json live/tunnel_errors)
drops=$(json_field stats.json live/kernel_drops)
echo "received $received stored $stored rejected $rejected tunnel errors $tunnel drops $drops"
expect_eq "rejected (json)" 200 "$rejected"
expect_eq "tunnel errors (json)" 100 "$tunnel"
expect_eq "received = stored + rejected" "$received" "$(( stored + rejected ))"
"$TAPVAULT" stats -s st --format prometheus > stats.prom
grep -q '^tapvault_rejected_total 200$' stats.prom || { grep rejected stats.prom; fail "prometheus rejected_total"; }
grep -q '^tapvault_tunnel_errors_total 100$' stats.prom || fail "prometheus tunnel_errors_total"
echo ok
