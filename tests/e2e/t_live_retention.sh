# With --max-size well below the data sent, the store's
# segments never exceed the cap by more than one segment, recent data still
# answers, and a query of a pruned time range answers empty with a note.
. "$E2E_LIB"
. "$(dirname "$E2E_LIB")/live_lib.sh"
cap=$((2 * 1024 * 1024)); seg=$((256 * 1024))
"$GEN" --seed 9 --flows 300 --outer outer.pcap >/dev/null
live_start st --workers 2 --max-size $cap --segment-size $seg --chunk-size 64K --seal-interval 200ms --no-sync
"$TAPVAULT" replay outer.pcap --to "127.0.0.1:$LIVE_PORT" --pps 15000 --loop 4 --max-seconds 20 > replay.out &
rpid=$!
max=0
while kill -0 $rpid 2>/dev/null; do
  # files vanish while find walks the folder: its complaint is expected
  b=$( { find st/segments -name 'seg-*.tvs' -printf '%s\n' 2>/dev/null || true; } | awk '{s+=$1} END{print s+0}')
  [ "$b" -gt "$max" ] && max=$b
  sleep 0.05
done
wait $rpid
cat replay.out
sleep 0.5
live_stop
cat ingest.out
b=$(find st/segments -name 'seg-*.tvs' -printf '%s\n' | awk '{s+=$1} END{print s+0}')
[ "$b" -gt "$max" ] && max=$b
sentbytes=$(awk '/^sent/{print $4}' replay.out)
echo "sent $sentbytes bytes; cap $cap; largest segment total seen $max; now $b"
[ "$sentbytes" -gt $((3 * cap)) ] || fail "the test did not send enough to need retention"
[ "$max" -le $((cap + seg + 65536 + 1024)) ] || fail "segments reached $max bytes: over the cap by more than one segment"
"$TAPVAULT" stats -s st --format json > stats.json
deleted=$(json_field stats.json live/retention_segments_deleted)
until=$(json_field stats.json live/pruned_until_ns)
last=$(json_field stats.json last_ts_ns)
echo "retention deleted $deleted segments; pruned until $until; newest packet $last"
[ "$deleted" -gt 0 ] || fail "nothing was pruned"
expect_exit 0 "$TAPVAULT" verify -s st
# recent data answers
recent=$("$TAPVAULT" query -s st --format count "after $(( last / 1000000000 - 1 ))")
[ "$recent" -gt 0 ] || fail "no packets in the last second"
# a pruned range answers empty, with a note
before=$(( until / 1000000000 - 2 ))
expect_exit 0 "$TAPVAULT" query -s st --format count "before $before"
expect_eq "packets in the pruned range" 0 "$(cat out.txt)"
grep -q 'pruned by retention' err.txt || { cat err.txt; fail "no pruned-range note"; }
echo "ok: pruned range empty with note: $(cat err.txt)"
# a range after the mark has no note
expect_exit 0 "$TAPVAULT" query -s st --format count "after $(( until / 1000000000 + 1 ))"
! grep -q 'pruned' err.txt || fail "a note for a range that was not pruned"
