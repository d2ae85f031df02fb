# SIGKILL during live ingest under load, restart (which
# recovers the store), verify passes; everything a query saw before the kill
# is still there, and the loss is bounded by the seal interval.
. "$E2E_LIB"
. "$(dirname "$E2E_LIB")/live_lib.sh"
# the sanitizer build receives and seals several times slower: at 20k pps
# its socket buffer holds a backlog at the kill that no seal interval
# bounds, so it gets a rate it keeps up with
pps=20000; [ "${SAN:-0}" = 1 ] && pps=5000
"$GEN" --seed 4 --flows 300 --outer outer.pcap >/dev/null
live_start st --workers 2 --seal-interval 1s --chunk-size 256K
t0=$(date +%s.%N)
"$TAPVAULT" replay outer.pcap --to "127.0.0.1:$LIVE_PORT" --pps $pps --loop 20 --max-seconds 6 > replay.out &
rpid=$!
sleep 3
seen=$("$TAPVAULT" query -s st --format count)
kill -9 "$LIVE_PID"
t1=$(date +%s.%N)
wait "$LIVE_PID" 2>/dev/null || true
LIVE_PID=
wait "$rpid" || true
cat replay.out
# what the replayer had sent when the kill came (it paces at $pps from t0)
sent_at_kill=$(python3 -c "print(int(($t1 - $t0) * $pps))")
# restart: recovery indexes whole chunks past the index and cuts a torn tail
live_start st --workers 2
grep 'recovered' ingest.err || true
live_stop
expect_exit 0 "$TAPVAULT" verify -s st
after=$("$TAPVAULT" query -s st --format count)
"$TAPVAULT" stats -s st --format json > stats.json
drops=$(json_field stats.json live/kernel_drops)
echo "sent about $sent_at_kill before the kill; visible before the kill $seen; stored after restart $after; kernel drops $drops"
[ "$after" -ge "$seen" ] || fail "packets visible before the kill were lost ($seen -> $after)"
# bound: one seal interval (1 s) of traffic, plus 0.5 s for the commit and
# the time between the clock reads and the kill
lost=$(( sent_at_kill - after - drops ))
max_lost=$(( pps * 3 / 2 ))
echo "lost $lost (bound $max_lost)"
[ "$lost" -le "$max_lost" ] || fail "lost $lost packets, more than 1.5 s of traffic"
# no duplicates after recovery: every chunk is indexed once
expect_eq "stats packets = query count" "$after" "$(json_field stats.json packets)"
