#!/usr/bin/env bash
# ThreadSanitizer run of multi-worker live ingest.  Not part of
# `make test`; CI may run it:  bash tests/e2e/tsan_live.sh
# Builds build-tsan/ (gcc -fsanitize=thread) unless TAPVAULT_TSAN names a
# ready binary, then: ingest -l 127.0.0.1:PORT with 4 workers and retention,
# replay over loopback, queries and stats racing the writer, SIGHUP, SIGTERM.
# Exit 0 when TSan reports nothing.  Loopback only; bounded (~30 s).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
if [ -z "${TAPVAULT_TSAN:-}" ]; then
  make -C "$root" BUILD=build-tsan OPT="-O1 -g -fsanitize=thread" LDFLAGS=-fsanitize=thread -j2 \
    build-tsan/tapvault build-tsan/tv-gen >/dev/null
  TAPVAULT_TSAN=$root/build-tsan/tapvault
fi
GEN=${GEN:-$root/build-tsan/tv-gen}
[ -x "$GEN" ] || GEN=$root/build/tv-gen
work=$(mktemp -d "${TMPDIR:-/tmp}/tv-tsan.XXXXXX")
cd "$work"
export TSAN_OPTIONS="halt_on_error=0 exitcode=66 second_deadlock_stack=1 log_path=$work/tsan"
"$GEN" --seed 5 --flows 200 --outer outer.pcap >/dev/null
echo '{"VNIs":[]}' > map.json
port=$(( 20000 + (RANDOM % 30000) ))
"$TAPVAULT_TSAN" ingest -s st -l 127.0.0.1:$port --workers 4 --seal-interval 200ms \
  --max-size 4M --segment-size 512K --chunk-size 64K --no-sync --vni-map map.json >ingest.out 2>ingest.err &
pid=$!
trap 'kill -9 $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do grep -q 'listening on' ingest.err && break; sleep 0.1; done
grep -q 'listening on' ingest.err || { cat ingest.err; exit 1; }
"$TAPVAULT_TSAN" replay outer.pcap --to 127.0.0.1:$port --pps 8000 --loop 6 --max-seconds 15 >replay.out &
rpid=$!
queries=0
while kill -0 $rpid 2>/dev/null; do
  "$TAPVAULT_TSAN" query -s st --format count >/dev/null 2>>query.err || true
  "$TAPVAULT_TSAN" stats -s st --format json >/dev/null 2>>query.err || true
  queries=$((queries + 1))
  [ $queries = 5 ] && kill -HUP $pid
  sleep 0.2
done
wait $rpid
sleep 0.5
kill -TERM $pid
rc=0; wait $pid || rc=$?
trap - EXIT
cat replay.out ingest.out
echo "ingest exit $rc; $queries query+stats rounds raced the writer"
reports=$(cat tsan.* 2>/dev/null | grep -c 'WARNING: ThreadSanitizer' || true)
if [ "$reports" != 0 ] || [ "$rc" != 0 ]; then
  cat tsan.* 2>/dev/null | head -80
  echo "tsan_live: FAIL ($reports reports, ingest exit $rc); work dir $work"
  exit 1
fi
"$TAPVAULT_TSAN" verify -s st
echo "tsan_live: clean"
rm -rf "$work"
