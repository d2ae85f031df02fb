#!/usr/bin/env bash
# Lossless live-ingest rate with 2 workers, for the binary under test and,
# when TAPVAULT_PREV (or BENCH_BASELINE) names one, the previous main's binary,
# in the same run: the steps of both searches alternate, so both see the same
# machine load.  The sender is always the binary under test's `tapvault
# replay`, sending the enterprise capture's VXLAN datagrams over loopback.
# A step counts as lossless when every datagram sent was stored, the kernel
# counted no receive drop on ingest's sockets (the drops column of
# /proc/net/udp for LIVE_PORT, read before ingest stops: other processes'
# drops, such as a soak's on another port, do not count), tapvault's drop
# counters stayed 0, and the sender kept up (>= 90 % of the rate asked).
# Run by tests/bench/bench.sh when BENCH_LIVE=1; it can run alone.
#
# Environment:
#   TAPVAULT=./tapvault  GEN=build/tv-gen
#   TAPVAULT_PREV=/path/to/prev/tapvault  the previous main's binary (BENCH_BASELINE is
#                        the same); build it in a scratch worktree, e.g. for #12:
#                          git worktree add /work/wt-prev e538f71^ && make -C /work/wt-prev -j2 tapvault
#   LIVE_WORKERS=2       ingest --workers
#   LIVE_BYTES=256M      the enterprise capture replayed (tv-gen --bytes)
#   LIVE_START_PPS=50000 LIVE_MAX_PPS=300000   search range (datagrams/s)
#   LIVE_STEPS=6         search steps per binary
#   LIVE_STEP_SECONDS=8  length of a search step; LIVE_SECONDS=30 the confirming runs (at the
#                        search's rate, else 90 %, else 75 % of it)
#   LIVE_PORT=47892      loopback UDP port
#   BENCH_DIR=build/bench  results in BENCH_DIR/live/results.md
# Loopback only; every step is bounded (timeout); the whole run takes about
# 2 x (steps x (step + 10 s) + 3 x (confirm + 10 s)) at most.
set -u -o pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/tests/bench
abspath() { case $1 in /*) realpath -m "$1" ;; *) realpath -m "$ROOT/$1" ;; esac; }
TV=$(abspath "${TAPVAULT:-./tapvault}")
GEN=$(abspath "${GEN:-build/tv-gen}")
PREV=${TAPVAULT_PREV:-${BENCH_BASELINE:-}}
BASE=${PREV:+$(abspath "$PREV")}
BYTES=${LIVE_BYTES:-256M}
W=$(abspath "${BENCH_DIR:-build/bench}")/live
WORKERS=${LIVE_WORKERS:-2}
START=${LIVE_START_PPS:-50000}
MAX=${LIVE_MAX_PPS:-300000}
STEPS=${LIVE_STEPS:-6}
STEP_S=${LIVE_STEP_SECONDS:-8}
CONF_S=${LIVE_SECONDS:-30}
PORT=${LIVE_PORT:-47892}
PY="python3 $HERE/bench.py"
die() { echo "live: $*" >&2; exit 2; }
[ -x "$TV" ] || die "$TV is not built"
[ -x "$GEN" ] || die "$GEN is not built"
[ -z "$BASE" ] || [ -x "$BASE" ] || die "TAPVAULT_PREV=$BASE is not an executable"

rm -rf "$W"; mkdir -p "$W"
cd "$W" || exit 2
PIDS=()
cleanup() { local p; for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done; }
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

echo "+ $GEN --profile enterprise --bytes $BYTES --outer live.pcap" >&2
"$GEN" --profile enterprise --bytes "$BYTES" --outer live.pcap --summary > gen.txt || die "tv-gen failed"
NPK=$(awk -F= '$1 == "packets" {print $2}' gen.txt)

port_bound() { ss -Hnul "sport = :$PORT" 2>/dev/null | grep -q .; }
stop_pid() {
  local p=$1
  kill -INT "$p" 2>/dev/null
  for _ in $(seq 1 150); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
  kill -0 "$p" 2>/dev/null && { kill -TERM "$p" 2>/dev/null; sleep 2; }
  kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
  wait "$p" 2>/dev/null
}

# step BIN PPS SECS: sets S_SENT S_STORED S_KDROPS S_UDPERR S_TVDROPS S_RATE S_WHY, S_LOSSLESS
# (everything sent was stored) and S_KEPTUP (the sender reached 90 % of PPS); 0 when both
step() {
  local bin=$1 pps=$2 secs=$3
  local loops=$(( pps * secs / NPK + 1 ))
  rm -rf st
  local k0; k0=$($PY udperr)
  echo "+ $bin ingest -q -s st -l 127.0.0.1:$PORT --workers $WORKERS" >&2
  "$bin" ingest -q -s st -l "127.0.0.1:$PORT" --workers "$WORKERS" > ingest.out 2> ingest.err &
  local ip=$!; PIDS+=("$ip")
  for _ in $(seq 1 50); do port_bound && break; sleep 0.2; done
  if ! port_bound; then
    tail -n 3 ingest.err >&2; stop_pid "$ip"
    S_SENT=0; S_STORED=0; S_KDROPS='?'; S_TVDROPS='?'; S_RATE=0; S_WHY="ingest did not bind the port"
    return 2
  fi
  echo "+ $TV replay live.pcap --to 127.0.0.1:$PORT --pps $pps --loop $loops --count $(( pps * secs ))" >&2
  timeout $(( secs * 3 + 30 )) "$TV" replay live.pcap --to "127.0.0.1:$PORT" --pps "$pps" --loop "$loops" \
    --count $(( pps * secs )) --max-seconds $(( secs * 2 + 5 )) > replay.out 2> replay.err
  local rc=$?
  sleep 2
  S_KDROPS=$($PY udpdrops "$PORT")   # ingest's sockets, made for this step: their drops since
  stop_pid "$ip"
  local k1; k1=$($PY udperr)
  S_UDPERR=$(( k1 - k0 ))            # system-wide, every process: reported, not judged
  "$bin" stats -s st --format json > stats.json 2>/dev/null
  S_STORED=$($PY json stats.json packets); S_STORED=${S_STORED:-0}
  S_TVDROPS=$($PY jsondrops stats.json | cut -d' ' -f1)
  S_SENT=$(grep -m1 -oE 'sent [0-9]+' replay.out | cut -d' ' -f2); S_SENT=${S_SENT:-0}
  local el; el=$(grep -m1 -oE 'in [0-9.]+ s' replay.out | cut -d' ' -f2)
  S_RATE=$(awk -v n="$S_SENT" -v e="${el:-0}" 'BEGIN {printf "%.0f", (e > 0 ? n / e : 0)}')
  rm -rf st
  echo "  -> $bin: asked $pps/s, sent $S_SENT ($S_RATE/s), stored $S_STORED, kernel drops $S_KDROPS (system-wide UDP InErrors +$S_UDPERR), tapvault drops $S_TVDROPS, replay exit $rc" >&2
  S_WHY=""
  [ "$rc" = 0 ] || S_WHY+="replay exit $rc, "
  [ "$S_STORED" = "$S_SENT" ] || S_WHY+="stored $S_STORED of $S_SENT, "
  [ "$S_KDROPS" = 0 ] || S_WHY+="kernel drops $S_KDROPS, "
  [ "${S_TVDROPS:-0}" = 0 ] || S_WHY+="tapvault drops $S_TVDROPS, "
  S_WHY=${S_WHY%, }
  S_LOSSLESS=0; [ -z "$S_WHY" ] && S_LOSSLESS=1
  # a sender that cannot keep up leaves the rate asked untested: the
  # ingest was lossless at the rate it got, and no faster rate can be tried
  S_KEPTUP=0; [ $(( S_RATE * 10 )) -ge $(( pps * 9 )) ] && S_KEPTUP=1
  [ "$S_KEPTUP" = 1 ] || S_WHY+="${S_WHY:+, }the sender managed only $S_RATE/s"
  [ "$S_LOSSLESS" = 1 ] && [ "$S_KEPTUP" = 1 ]
}

# search state per binary (index 0: under test, 1: baseline)
BINS=("$TV"); [ -n "$BASE" ] && BINS+=("$BASE")
declare -a OK BAD NEXT LOGS FINAL DESC LIMITED
for i in "${!BINS[@]}"; do OK[$i]=0; BAD[$i]=0; NEXT[$i]=$START; LOGS[$i]=""; FINAL[$i]=0; LIMITED[$i]=0; done
for s in $(seq 1 "$STEPS"); do
  for i in "${!BINS[@]}"; do
    pps=${NEXT[$i]}
    [ "$pps" -ge 1000 ] || continue
    [ "${BAD[$i]}" != 0 ] && [ $(( BAD[i] - OK[i] )) -le $(( BAD[i] / 10 )) ] && continue
    if step "${BINS[$i]}" "$pps" "$STEP_S"; then
      OK[$i]=$pps; LOGS[$i]+="$pps ok; "
    else
      BAD[$i]=$pps; LOGS[$i]+="$pps: $S_WHY; "
      # lossless at the rate the sender reached: that rate is known good
      if [ "$S_LOSSLESS" = 1 ]; then
        LIMITED[$i]=1
        [ "$S_RATE" -gt "${OK[$i]}" ] && [ "$S_RATE" -lt "$pps" ] && OK[$i]=$S_RATE
      fi
    fi
    if [ "${BAD[$i]}" = 0 ]; then NEXT[$i]=$(( pps * 2 )); else NEXT[$i]=$(( (OK[i] + BAD[i]) / 2 )); fi
    [ "${OK[$i]}" = 0 ] && [ "${BAD[$i]}" != 0 ] && NEXT[$i]=$(( BAD[i] / 2 ))
    [ "${NEXT[$i]}" -gt "$MAX" ] && NEXT[$i]=$MAX
    [ "${OK[$i]}" -ge "$MAX" ] && NEXT[$i]=0
  done
done
# confirming runs: the search's rate, then 90 % and 75 % of it, until one is lossless;
# the rate reported is the one the sender reached in it
for i in "${!BINS[@]}"; do
  DESC[$i]="no lossless rate found"
  [ "${OK[$i]}" -gt 0 ] || continue
  DESC[$i]=""
  for pct in 100 90 75; do
    r=$(( OK[i] * pct / 100 ))
    step "${BINS[$i]}" "$r" "$CONF_S"
    if [ "$S_LOSSLESS" = 1 ]; then
      FINAL[$i]=$S_RATE
      [ "$S_KEPTUP" = 1 ] || LIMITED[$i]=1
      DESC[$i]+="lossless at $S_RATE/s ($r/s asked, $pct % of the search) for $CONF_S s: sent $S_SENT, stored $S_STORED"
      [ "$S_KEPTUP" = 1 ] || DESC[$i]+=" (the sender's limit)"
      break
    fi
    DESC[$i]+="$r/s for $CONF_S s: $S_WHY; "
  done
done

{
  echo "## Live ingest: lossless rate with $WORKERS workers (enterprise $BYTES capture, replayed over loopback)"
  echo
  echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg). The sender (\`$TV replay\`) shares the $(nproc) cores."
  echo "Search: from $START/s, $STEPS steps of $STEP_S s per binary, alternating; confirming runs of $CONF_S s."
  echo
  echo "| profile | binary | lossless rate | search steps | confirming run |"
  echo "|---|---|---|---|---|"
  for i in "${!BINS[@]}"; do
    role="this tree (under test)"; [ "$i" = 1 ] && role="previous main (TAPVAULT_PREV)"
    echo "| enterprise $BYTES, live | $role: \`${BINS[$i]}\` | ${FINAL[$i]} datagrams/s | ${LOGS[$i]} | ${DESC[$i]} |"
  done
  echo
  for i in "${!BINS[@]}"; do
    [ "${LIMITED[$i]}" = 1 ] && echo "\`${BINS[$i]}\`: the sender, not the ingest, set the limit (it stored everything it was sent at the highest rate the sender reached)."
  done
  if [ -n "$BASE" ] && [ "${FINAL[1]}" -gt 0 ]; then
    r=$(awk -v a="${FINAL[0]}" -v b="${FINAL[1]}" 'BEGIN {printf "%.2f", a / b}')
    st=$(awk -v a="${FINAL[0]}" -v b="${FINAL[1]}" 'BEGIN {print (a >= b ? "met" : "**missed**")}')
    # below 1.0 with this tree's rate set by the sender: the ingest was not the limit
    [ "$st" != met ] && [ "${LIMITED[0]}" = 1 ] &&
      st="not judged: the sender, not this tree's ingest, set its rate"
    echo
    echo "Ratio this tree / previous main: ${r}x (goal: >= 1.0x, at or above the previous main's): $st."
    [ "${LIMITED[0]}" = 1 ] && [ "${LIMITED[1]}" = 1 ] &&
      echo "Both runs were limited by the sender: the ratio compares the sender's speed in two runs, not the two binaries."
  elif [ -n "$BASE" ]; then
    echo
    echo "The previous main found no lossless rate in this run: no ratio, the goal is not judged."
  else
    echo "No previous main (TAPVAULT_PREV unset): the binary under test alone; the goal is not judged."
  fi
} > results.md
cat results.md
rm -f live.pcap
exit 0
