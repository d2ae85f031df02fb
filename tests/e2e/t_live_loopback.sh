# Replay sends a generated capture over loopback to a
# live `ingest -l` with two workers; after SIGTERM every datagram the kernel
# did not report dropped is stored and queryable, byte for byte, and the
# counts reconcile: sent = stored + kernel drops.
. "$E2E_LIB"
. "$(dirname "$E2E_LIB")/live_lib.sh"
need tcpdump
"$GEN" --seed 21 --flows 300 --outer outer.pcap --inner inner.pcap --truth truth.csv >/dev/null
live_start st --workers 2 --seal-interval 500ms
"$TAPVAULT" replay outer.pcap --to "127.0.0.1:$LIVE_PORT" --pps 20000 --max-seconds 30 > replay.out
cat replay.out
sent=$(awk '/^sent/{print $2}' replay.out)
# visible while ingest still runs: within the seal interval (+ commit)
sleep 1.5
live_n=$("$TAPVAULT" query -s st --format count)
live_stop
cat ingest.out
"$TAPVAULT" stats -s st --format json > stats.json
stored=$(json_field stats.json live/stored)
drops=$(json_field stats.json live/kernel_drops)
received=$(json_field stats.json live/received)
echo "sent $sent received $received stored $stored kernel drops $drops (visible while live: $live_n)"
expect_eq "sent = stored + kernel drops" "$sent" "$((stored + drops))"
expect_eq "received = stored" "$received" "$stored"
expect_eq "query count" "$stored" "$("$TAPVAULT" query -s st --format count)"
[ "$drops" -gt 0 ] || expect_eq "visible while live (seal interval)" "$stored" "$live_n"
expect_exit 0 "$TAPVAULT" verify -s st
# the stored frames are the generator's inner frames (times are arrival times
# now, so compare the packets without their time stamps, as multisets)
if [ "$drops" = 0 ]; then
  "$TAPVAULT" query -s st -w got.pcap
  pcap_text got.pcap | awk '/^[0-9]/{ $1=""; print "@" $0; next } {print}' | tr '\n' ' ' | sed 's/ @/\n@/g' | sort > got.txt
  pcap_text inner.pcap | awk '/^[0-9]/{ $1=""; print "@" $0; next } {print}' | tr '\n' ' ' | sed 's/ @/\n@/g' | sort > want.txt
  cmp -s got.txt want.txt || { diff got.txt want.txt | head -5; fail "stored packets differ from the inner capture"; }
  echo "ok: $(wc -l < got.txt) packets identical to the inner capture"
fi
# flows: one record per truth flow (all packets fall in one run)
flows=$(json_field stats.json counters/flow.records)
[ "$flows" -gt 0 ] || fail "no flow records"
# store permissions: 0700 directories, 0600 files
bad=$(find st -type d ! -perm 0700 -o -type f ! -perm 0600 | head -3)
[ -z "$bad" ] || fail "store permissions: $bad"
# the stats text shows the live section
"$TAPVAULT" stats -s st > stats.txt
grep -q '^live  *received' stats.txt || fail "stats text has no live line"
"$TAPVAULT" stats -s st --format prometheus > stats.prom
grep -q '^tapvault_kernel_drops_total ' stats.prom || fail "prometheus: no kernel drops"
