# One million flows through a flow table capped at
# 65,536 entries.  Ingest must stay under a memory cap (peak RSS from
# /usr/bin/time -v: at most FLOWS_RSS_CAP_MB, default 400, and at most 96 MiB
# above the same ingest with --no-flows, so the flow table's share is
# bounded by --flow-max, not by the number of flows), the table must have
# flushed early, and the flow records must still sum to every packet the
# generator wrote.  About 25 s; FLOWS_MILLION=0 skips it.
. "$E2E_LIB"
[ "${FLOWS_MILLION:-1}" != 0 ] || skip "FLOWS_MILLION=0"
need python3
"$GEN" --many-flows 1000000 --outer many.pcap --summary > sum.txt
packets=$(sed -n 's/^packets=//p' sum.txt)
flows=$(sed -n 's/^flows=//p' sum.txt)
echo "generated $packets packets in $flows flows"
# ASan keeps freed memory in a quarantine (256 MiB by default) that counts in
# RSS and fills at its own pace in each run: keep it small so that the
# difference of the two runs measures the flow table, not the quarantine
if [ "${SAN:-0}" = 1 ]; then
  export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16"
fi
if [ -x /usr/bin/time ]; then
  /usr/bin/time -v "$TAPVAULT" ingest -q -s st -r many.pcap --flow-max 65536 2> time.txt
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' time.txt)
  /usr/bin/time -v "$TAPVAULT" ingest -q -s st0 -r many.pcap --no-flows 2> time0.txt
  rss0=$(sed -n 's/.*Maximum resident set size (kbytes): //p' time0.txt)
  cap=$(( ${FLOWS_RSS_CAP_MB:-400} * 1024 ))
  echo "peak RSS: $((rss / 1024)) MiB with flows (--flow-max 65536), $((rss0 / 1024)) MiB without"
  # a sanitizer build has its own shadow memory: only the relative check holds there
  if [ "${SAN:-0}" != 1 ]; then
    [ "$rss" -le "$cap" ] || fail "ingest peak RSS $((rss / 1024)) MiB > cap $((cap / 1024)) MiB"
  fi
  [ $((rss - rss0)) -le $((96 * 1024)) ] || fail "flows cost $(((rss - rss0) / 1024)) MiB over --no-flows"
else
  echo "note: /usr/bin/time is not installed: memory cap not checked"
  "$TAPVAULT" ingest -q -s st -r many.pcap --flow-max 65536
fi
"$TAPVAULT" stats -s st --format json > stats.json
"$TAPVAULT" flows -s st --format csv --fields 'packets bytes' > f.csv
python3 - "$packets" "$flows" <<'PY'
import json, sys
packets, flows = int(sys.argv[1]), int(sys.argv[2])
c = json.load(open("stats.json"))["counters"]
assert c["flow.early_flushes"] > 0, "the 65,536-entry table never flushed early: the test proves nothing"
rows = open("f.csv").read().splitlines()
assert rows[0] == "packets,bytes", rows[0]
total = sum(int(r.split(",")[0]) for r in rows[1:])
print(f"{len(rows) - 1} records (stored {c['flow.records']}, {c['flow.early_flushes']} early flushes) "
      f"sum to {total} packets; generator {packets}, not IP {c['flow.skipped_not_ip']}")
assert total == packets - c["flow.skipped_not_ip"] == packets, total
assert len(rows) - 1 >= flows, "fewer records than flows"
PY
