# A burst against a small receive buffer: the kernel drops datagrams, and
# SO_RXQ_OVFL reports the count only with the next datagram, so the drops
# of the last burst went uncounted.  Ingest reads the socket's drop count
# itself (SO_MEMINFO) on a timer and at shutdown: every datagram sent is
# either received or counted as a kernel drop.  Loopback only, bounded.
. "$E2E_LIB"
. "$(dirname "$E2E_LIB")/live_lib.sh"
"$GEN" --seed 21 --flows 300 --outer burst.pcap >/dev/null
live_start st --rcvbuf 256K --seal-interval 500ms
# as fast as possible: most of the burst overflows the buffer
"$TAPVAULT" replay burst.pcap --to "127.0.0.1:$LIVE_PORT" --pps 0 --loop 10 --max-seconds 20 > replay.out
sent=$(awk '/^sent/{print $2}' replay.out)
# nothing follows the burst: the drops must be read without a datagram
sleep 2
"$TAPVAULT" stats -s st --format json > live.json
live_stop
"$TAPVAULT" stats -s st --format json > stats.json
received=$(json_field stats.json live/received)
drops=$(json_field stats.json live/kernel_drops)
echo "sent $sent received $received kernel drops $drops"
[ "$drops" -gt 0 ] || skip "no datagram was dropped: the burst did not overflow the buffer here"
expect_eq "sent = received + kernel drops" "$sent" "$((received + drops))"
# and while ingest still ran, two seal intervals after the burst
expect_eq "sent = received + kernel drops (while running)" "$sent" \
  "$(( $(json_field live.json live/received) + $(json_field live.json live/kernel_drops) ))"
expect_eq "stored = received" "$received" "$("$TAPVAULT" query -s st --format count)"
