# Retention under a fast live feed with several chunks per writer pass: a
# segment that holds chunks appended in the pass but not yet committed is
# never deleted, so every chunk the index names can be read (verify --deep
# passes) and the query count equals the stored packets.  Small chunks and
# a small cap make retention run while such chunks are pending.
. "$E2E_LIB"
. "$(dirname "$E2E_LIB")/live_lib.sh"
"$GEN" --seed 11 --flows 400 --outer outer.pcap >/dev/null
for run in 1 2; do
  rm -rf st
  live_start st --workers 4 --max-size 2M --chunk-size 256K --no-sync
  "$TAPVAULT" replay outer.pcap --to "127.0.0.1:$LIVE_PORT" --pps 200000 --loop 40 --max-seconds 6 > replay.out
  cat replay.out
  sleep 0.5
  live_stop
  "$TAPVAULT" stats -s st --format json > stats.json
  deleted=$(json_field stats.json live/retention_segments_deleted)
  [ "$deleted" -gt 0 ] || fail "run $run: retention deleted nothing (the test did not reach the cap)"
  expect_exit 0 "$TAPVAULT" verify -s st --deep
  stored=$(json_field stats.json packets)
  expect_exit 0 "$TAPVAULT" query -s st --format count
  expect_eq "run $run: query count against stats packets" "$stored" "$(cat out.txt)"
  echo "ok: run $run: $deleted segments deleted, $stored packets kept, verify --deep clean"
done
