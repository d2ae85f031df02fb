#!/usr/bin/env bash
# Live soak under retention: `tapvault replay` sends the enterprise capture in
# a loop over loopback at SOAK_PPS datagrams/s to `tapvault ingest -l` with a
# small --max-size, so retention deletes segments many times over.  Every
# SOAK_SAMPLE seconds: the store's segments, index and flow-record bytes, and
# the ingest process's RssAnon.  Reports the samples, the index + flow records'
# share of the store, and how flat RssAnon is over the last SOAK_FLAT seconds.
# Run by tests/bench/bench.sh when BENCH_SOAK=1; it can run alone.
#
# Environment:
#   TAPVAULT=./tapvault  GEN=build/tv-gen
#   SOAK_SECONDS=900     sending time (the run ends within about a minute after it)
#   SOAK_PPS=40000       datagrams per second
#   SOAK_ARGS="--max-size 256M --segment-size 16M --workers 2"   ingest options
#   SOAK_SAMPLE=30       seconds between samples
#   SOAK_FLAT=300        the final stretch whose RssAnon must stay within 5 %
#   SOAK_PORT=47891      loopback UDP port
#   BENCH_DIR=build/bench  results in BENCH_DIR/soak/results.md
# Loopback only (127.0.0.1); every wait is bounded.
set -u -o pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/tests/bench
abspath() { case $1 in /*) realpath -m "$1" ;; *) realpath -m "$ROOT/$1" ;; esac; }
TV=$(abspath "${TAPVAULT:-./tapvault}")
GEN=$(abspath "${GEN:-build/tv-gen}")
W=$(abspath "${BENCH_DIR:-build/bench}")/soak
SECS=${SOAK_SECONDS:-900}
PPS=${SOAK_PPS:-40000}
ARGS=${SOAK_ARGS:---max-size 256M --segment-size 16M --workers 2}
EVERY=${SOAK_SAMPLE:-30}
FLAT=${SOAK_FLAT:-300}
PORT=${SOAK_PORT:-47891}
PY="python3 $HERE/bench.py"
EPY="python3 $HERE/enterprise.py"
die() { echo "soak: $*" >&2; exit 2; }
[ -x "$TV" ] || die "$TV is not built"
[ -x "$GEN" ] || die "$GEN is not built"
command -v mdb_stat > /dev/null || die "mdb_stat (lmdb-utils) is missing"

rm -rf "$W"; mkdir -p "$W"
cd "$W" || exit 2
PIDS=()
cleanup() { local p; for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done; }
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

echo "+ $GEN --profile enterprise --bytes 256M --outer soak.pcap" >&2
"$GEN" --profile enterprise --bytes 256M --outer soak.pcap --summary > gen.txt || die "tv-gen failed"
npk=$(awk -F= '$1 == "packets" {print $2}' gen.txt)
loops=$(( PPS * SECS / npk + 2 ))

port_bound() { ss -Hnul "sport = :$PORT" 2>/dev/null | grep -q .; }
k0=$($PY udperr)
echo "+ $TV ingest -q -s st -l 127.0.0.1:$PORT $ARGS" >&2
# shellcheck disable=SC2086
"$TV" ingest -q -s st -l "127.0.0.1:$PORT" $ARGS > ingest.out 2> ingest.err &
ip=$!; PIDS+=("$ip")
for _ in $(seq 1 50); do port_bound && break; sleep 0.2; done
port_bound || { tail -n 5 ingest.err >&2; die "ingest did not bind 127.0.0.1:$PORT"; }
echo "+ $TV replay soak.pcap --to 127.0.0.1:$PORT --pps $PPS --loop $loops --max-seconds $SECS" >&2
timeout $(( SECS + 120 )) "$TV" replay soak.pcap --to "127.0.0.1:$PORT" --pps "$PPS" --loop "$loops" \
  --max-seconds "$SECS" > replay.out 2> replay.err &
rp=$!; PIDS+=("$rp")

# samples: t  segments  index(all but segments and flow records)  flowrec  rss_anon_kib  rss_file_kib  stored
t0=$(date +%s)
printf 't_s\tsegments\tindex\tflowrec\trss_anon_kib\trss_file_kib\tstored_packets\n' > samples.tsv
sample() {
  local t seg tot fr anon file stored
  t=$(( $(date +%s) - t0 ))
  tot=$(du -sb st 2>/dev/null | cut -f1)
  seg=$(du -sb st/segments 2>/dev/null | cut -f1)
  read -r _ fr _ _ < <($EPY tables st/index)
  read -r anon file < <(awk '/^RssAnon/ {a = $2} /^RssFile/ {f = $2} END {print a + 0, f + 0}' "/proc/$ip/status" 2>/dev/null || echo "0 0")
  stored=$("$TV" stats -s st --format json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin).get("packets", 0))' 2>/dev/null || echo '?')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$seg" $(( tot - seg - fr )) "$fr" "$anon" "$file" "$stored" >> samples.tsv
  echo "  t=${t}s segments $seg index $(( tot - seg - fr )) flow records $fr RssAnon ${anon} KiB stored $stored" >&2
}
k=1
while kill -0 "$rp" 2>/dev/null; do
  # on a fixed schedule: a slow sample must not stretch the next interval
  while kill -0 "$rp" 2>/dev/null && [ $(( $(date +%s) - t0 )) -lt $(( k * EVERY )) ]; do sleep 1; done
  kill -0 "$rp" 2>/dev/null || break
  k=$(( k + 1 ))
  kill -0 "$ip" 2>/dev/null || { tail -n 5 ingest.err >&2; die "ingest ended during the soak"; }
  sample
done
wait "$rp"; rrc=$?
sleep 3
sample
kill -INT "$ip" 2>/dev/null
for _ in $(seq 1 150); do kill -0 "$ip" 2>/dev/null || break; sleep 0.2; done
kill -0 "$ip" 2>/dev/null && { kill -TERM "$ip"; sleep 2; kill -KILL "$ip" 2>/dev/null; }
wait "$ip"; irc=$?
k1=$($PY udperr)
"$TV" stats -s st --format json > stats.json 2>/dev/null
echo "+ $TV verify -s st" >&2
"$TV" verify -s st > verify.out 2>&1; vrc=$?

python3 - "$W" "$SECS" "$PPS" "$ARGS" "$FLAT" "$rrc" "$irc" "$vrc" $(( k1 - k0 )) "$EVERY" <<'PY'
import json, os, sys
w, secs, pps, args, flat, rrc, irc, vrc, kdrop, every = sys.argv[1:]
rows = []
with open(os.path.join(w, 'samples.tsv')) as f:
    next(f)
    for line in f:
        t, seg, idx, fr, anon, fil, stored = line.split('\t')
        rows.append((int(t), int(seg), int(idx), int(fr), int(anon), int(fil), stored.strip()))
st = json.load(open(os.path.join(w, 'stats.json'))) if os.path.exists(os.path.join(w, 'stats.json')) else {}
c = st.get('counters', {})
sent = open(os.path.join(w, 'replay.out')).read().strip()
prof = 'enterprise 256M replayed (soak)'
L = ['## Soak: live ingest under retention (%s)' % prof, '']
L.append('`tapvault ingest -l 127.0.0.1 %s`, fed by `tapvault replay --pps %s` for %s s over loopback; '
         'a sample every %s s (table below; the last one after the sender stopped). Replay: %s (exit %s); '
         'ingest exit %s; `verify` exit %s; stored %s packets (`store.packets`); kernel drops on ingest\'s '
         'sockets %s (`live.kernel_drops`; the system-wide UDP InErrors, other processes included, grew by %s); '
         'workers waited for the queue %s times; retention deleted %s segments.' % (
             args, pps, secs, every, sent or '?', rrc, irc, vrc, c.get('store.packets', '?'),
             c.get('live.kernel_drops', '?'), kdrop, c.get('live.queue_full_waits', '?'),
             c.get('retention.segments_deleted', '?')))
L.append('')
if rows:
    last_t = rows[-1][0]
    tail = [r for r in rows if r[0] >= last_t - int(flat)]
    shares = [(r[2] + r[3]) / (r[1] + r[2] + r[3]) for r in rows if r[1] + r[2] + r[3] > 0]
    tshares = [(r[2] + r[3]) / (r[1] + r[2] + r[3]) for r in tail if r[1] + r[2] + r[3] > 0]
    anon = [r[4] for r in tail if r[4] > 0]
    flatness = (max(anon) - min(anon)) / min(anon) if anon else None
    L.append('| profile | measurement | tapvault | goal | status |')
    L.append('|---|---|---|---|---|')
    L.append('| %s | index + flow records / store, last %s s | max %.1f %% (whole soak max %.1f %%) | <= 5 %% | %s |' % (
        prof, flat, 100 * max(tshares), 100 * max(shares), 'met' if max(tshares) <= 0.05 else '**missed**'))
    if flatness is not None:
        L.append('| %s | ingest RssAnon, last %s s | %.1f-%.1f MiB (spread %.1f %%; first sample %.1f MiB) | within 5 %% | %s |' % (
            prof, flat, min(anon) / 1024, max(anon) / 1024, 100 * flatness, rows[0][4] / 1024,
            'met' if flatness <= 0.05 else '**missed**'))
    L.append('')
    L.append('| t (s) | segments | index | flow records | index + flow records | RssAnon | RssFile | stored packets |')
    L.append('|---|---|---|---|---|---|---|---|')
    for t, seg, idx, fr, a, fil, stored in rows:
        tot = seg + idx + fr
        L.append('| %d | %.1f MB | %.1f MB | %.1f MB | %.1f %% | %.1f MiB | %.1f MiB | %s |' % (
            t, seg / 1e6, idx / 1e6, fr / 1e6, 100.0 * (idx + fr) / tot if tot else 0, a / 1024, fil / 1024, stored))
    L.append('')
text = '\n'.join(L)
open(os.path.join(w, 'results.md'), 'w').write(text + '\n')
print(text)
PY
rm -rf st soak.pcap
[ "$rrc" = 0 ] && [ "$vrc" = 0 ] || exit 1
exit 0
