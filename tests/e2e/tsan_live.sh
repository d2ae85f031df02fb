#!/usr/bin/env bash
# ThreadSanitizer run of multi-worker live ingest.  Not part of `make test`:
# `make tsan` runs it, and so does .ci/run.
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
# ThreadSanitizer's shadow memory and a randomised layout can leave no room
# for the index's 1 TiB LMDB map (open fails with ENOMEM now and then):
# run without address-space randomisation (setarch -R execs the program,
# so $! of a background run is still its pid).
run_tsan() { setarch "$(uname -m)" -R "$TAPVAULT_TSAN" "$@"; }
GEN=${GEN:-$root/build-tsan/tv-gen}
[ -x "$GEN" ] || GEN=$root/build/tv-gen
work=$(mktemp -d "${TMPDIR:-/tmp}/tv-tsan.XXXXXX")
cd "$work"
export TSAN_OPTIONS="halt_on_error=0 exitcode=66 second_deadlock_stack=1 log_path=$work/tsan"
"$GEN" --seed 5 --flows 200 --outer outer.pcap >/dev/null
# a valid map (ingest refuses one that does not load): the SIGHUP re-copy runs
printf '%s\n' 'vni=1 eni=eni-0a1b2c3d4e5f60789 account=111122223333 region=eu-west-1' > map.txt
port=$(( 20000 + (RANDOM % 30000) ))
setarch "$(uname -m)" -R "$TAPVAULT_TSAN" ingest -s st -l 127.0.0.1:$port --workers 4 --seal-interval 200ms \
  --max-size 4M --segment-size 512K --chunk-size 64K --no-sync --vni-map map.txt >ingest.out 2>ingest.err &
pid=$!
trap 'kill -9 $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do grep -q 'listening on' ingest.err && break; sleep 0.1; done
grep -q 'listening on' ingest.err || { cat ingest.err; exit 1; }
setarch "$(uname -m)" -R "$TAPVAULT_TSAN" replay outer.pcap --to 127.0.0.1:$port --pps 8000 --loop 6 --max-seconds 15 >replay.out &
rpid=$!
queries=0
while kill -0 $rpid 2>/dev/null; do
  run_tsan query -s st --format count >/dev/null 2>>query.err || true
  run_tsan stats -s st --format json >/dev/null 2>>query.err || true
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
run_tsan verify -s st
echo "tsan_live: clean"
rm -rf "$work"
