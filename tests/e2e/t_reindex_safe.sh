# reindex never leaves a store that answers partially: it takes the writer
# lock first (refused, nothing changed, while an ingest runs), builds the new
# index aside and swaps it in one rename, so queries during a reindex and
# after a SIGKILL of it see the old index or the complete new one; flow
# records and counters are carried over (or rebuilt from the packets when
# the old index cannot be read).  A store whose index covers less than its
# segments says so in every query, and verify fails on it.
. "$E2E_LIB"
. "$(dirname "$E2E_LIB")/live_lib.sh"
"$GEN" --seed 9 --outer a.pcap --target-bytes 30000000 >/dev/null
"$GEN" --seed 10 --outer b.pcap --start 1764100000 >/dev/null
"$TAPVAULT" ingest -q -s st --chunk-size 64K --segment-size 4M -r a.pcap b.pcap
total=$("$TAPVAULT" query -s st --format count)
flows=$("$TAPVAULT" flows -s st --format csv | wc -l)
spk=$("$TAPVAULT" stats -s st --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["counters"]["store.packets"])')
expect_eq "store.packets" "$total" "$spk"

# 1. queries while a reindex runs: always the whole answer, exit 0
for round in 1 2; do
  "$TAPVAULT" reindex -q -s st & rpid=$!
  n=0
  while kill -0 $rpid 2>/dev/null; do
    got=$("$TAPVAULT" query -s st --format count 2>q.err) || { cat q.err; fail "query failed during reindex"; }
    expect_eq "query during reindex (round $round)" "$total" "$got"
    n=$((n + 1))
  done
  wait $rpid || fail "reindex failed"
  echo "round $round: $n queries during reindex, each $total"
done
expect_eq "flow records carried" "$flows" "$("$TAPVAULT" flows -s st --format csv | wc -l)"
spk=$("$TAPVAULT" stats -s st --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["counters"]["store.packets"])')
expect_eq "counters carried" "$total" "$spk"
ls -d st/index.old-* >/dev/null || fail "the old index was not kept"

# 2. SIGKILL of reindex at varying moments: the old or the new index, whole
for delay in 0.05 0.2 0.4 0.6; do
  "$TAPVAULT" reindex -q -s st & rpid=$!
  sleep $delay
  kill -9 $rpid 2>/dev/null || true
  wait $rpid 2>/dev/null || true
  expect_eq "query after SIGKILL of reindex at ${delay}s" "$total" "$("$TAPVAULT" query -s st --format count 2>q.err)"
  grep -q "covers less" q.err && fail "note after a killed reindex: $(cat q.err)"
  expect_exit 0 "$TAPVAULT" verify -s st
  expect_eq "flow records after SIGKILL at ${delay}s" "$flows" "$("$TAPVAULT" flows -s st --format csv | wc -l)"
done
expect_exit 0 "$TAPVAULT" reindex -s st
ls -d st/index.build-* 2>/dev/null && fail "an interrupted build was left behind"
expect_eq "after a clean reindex" "$total" "$("$TAPVAULT" query -s st --format count)"

# 3. an old index that cannot be read: flow records rebuilt from the packets
cp -r st bad
head -c 8192 /dev/urandom | dd of=bad/index/data.mdb bs=4096 seek=0 conv=notrunc 2>/dev/null
expect_exit 0 "$TAPVAULT" reindex -s bad
grep -q "flow records rebuilt from the stored packets" out.txt || fail "no rebuild said: $(cat out.txt err.txt)"
expect_eq "after reindex of a broken index" "$total" "$("$TAPVAULT" query -s bad --format count)"
fpk=$("$TAPVAULT" flows -s bad --format csv | awk -F, 'NR>1 {s+=$9} END {print s+0}')
expect_eq "packets in rebuilt flow records" "$total" "$fpk"

# 4. an index that covers less than the segments (an older index put back):
#    every query says so, verify fails; reindex makes it whole
"$TAPVAULT" ingest -q -s part --chunk-size 64K --segment-size 4M -r b.pcap
nb=$("$TAPVAULT" query -s part --format count)
cp -r part/index part-index
"$TAPVAULT" ingest -q -s part --chunk-size 64K --segment-size 4M -r a.pcap
rm -rf part/index && mv part-index part/index
expect_exit 0 "$TAPVAULT" query -s part --format count
expect_eq "partial index answers what it covers" "$nb" "$(cat out.txt)"
grep -q "part: the index covers less than the segments" err.txt || fail "no note: $(cat err.txt)"
expect_exit 0 "$TAPVAULT" flows -s part
grep -q "covers less than the segments" err.txt || fail "no note from flows: $(cat err.txt)"
expect_exit 1 "$TAPVAULT" verify -s part
grep -q "whole chunks in the .* are not in the index" out.txt || fail "verify did not name it: $(cat out.txt)"
expect_exit 0 "$TAPVAULT" reindex -s part
expect_exit 0 "$TAPVAULT" verify -s part
expect_eq "whole again" "$total" "$("$TAPVAULT" query -s part --format count)"

# 5. reindex while a live ingest runs: refused before anything changes
"$GEN" --seed 21 --flows 50 --outer live.pcap >/dev/null
live_start lv --seal-interval 200ms
"$TAPVAULT" replay live.pcap --to "127.0.0.1:$LIVE_PORT" --pps 5000 --count 2000 >/dev/null
sleep 1
before=$(ls lv | sort | tr '\n' ' ')
expect_exit 3 "$TAPVAULT" reindex -s lv
grep -q "an ingest is running on this store .* nothing was changed" err.txt || fail "unclear refusal: $(cat err.txt)"
expect_eq "store folder unchanged" "$before" "$(ls lv | sort | tr '\n' ' ')"
n1=$("$TAPVAULT" query -s lv --format count) || fail "query after the refused reindex"
"$TAPVAULT" replay live.pcap --to "127.0.0.1:$LIVE_PORT" --pps 5000 --count 1000 >/dev/null
live_stop
"$TAPVAULT" stats -s lv --format json > stats.json
stored=$(json_field stats.json live/stored)
expect_eq "live ingest went on storing" "$stored" "$("$TAPVAULT" query -s lv --format count)"
[ "$stored" -gt "$n1" ] || fail "nothing stored after the refused reindex ($n1 -> $stored)"
expect_exit 0 "$TAPVAULT" verify -s lv
echo "ok reindex: refused under ingest, never partial, survives SIGKILL, carries flows and counters"
