#!/usr/bin/env bash
# The default-profile benchmark: tapvault against peer tools on tv-gen's
# scripted scenario with heavy TLS bulk (--target-bytes), measured in the same
# run.  Run by tests/bench/bench.sh (make bench; BENCH_PROFILE=default runs
# only this one); it can run alone.
#
# Environment:
#   TAPVAULT=./tapvault  GEN=build/tv-gen   binaries under test
#   BENCH_BYTES=1073741824     size of the generated outer capture (100000000 for a quick run)
#   BENCH_RUNS=3               runs per measurement (the table shows medians; bench.sh passes
#                              BENCH_DEFAULT_RUNS)
#   BENCH_DIR=build/bench      BENCH_DIR/default is the work directory; emptied at the end
#                              except results.md and raw/
#   BENCH_KEEP=0               1 keeps every file in BENCH_DIR
#   BENCH_DROP_CACHES=0        1 (root only) drops the page cache before every timed run;
#                              the default measures with a warm page cache
#   BENCH_LIVE_SECONDS=30      live ingest: length of the confirming run at the best rate
#   BENCH_LIVE_STEP_SECONDS=8  live ingest: length of each search step
#   BENCH_LIVE_STEPS=5         live ingest: search steps per worker count
#   BENCH_LIVE_START_PPS=100000  BENCH_LIVE_MAX_PPS=300000  BENCH_LIVE_PORT=47890
#                              (the cap bounds the disk: 30 s x 300k pkt/s x ~1.2 kB is ~11 GB)
#
# Every command is printed (+ ...) before it runs.  Wall times come from
# date +%s.%N around /usr/bin/time -v, which also gives the peak RSS.  The
# bench reports; it never fails on a goal (each goal is marked met/missed).
set -u -o pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
HERE=$ROOT/tests/bench
PY="python3 $HERE/bench.py"

abspath() { case $1 in /*) echo "$1" ;; *) echo "$ROOT/$1" ;; esac; }
TV=$(abspath "${TAPVAULT:-./tapvault}")
GEN=$(abspath "${GEN:-build/tv-gen}")
W=$(abspath "${BENCH_DIR:-build/bench}")/default
BYTES=${BENCH_BYTES:-1073741824}
N=${BENCH_RUNS:-3}
DROP=${BENCH_DROP_CACHES:-0}
LIVE_SECONDS=${BENCH_LIVE_SECONDS:-30}
LIVE_STEP_SECONDS=${BENCH_LIVE_STEP_SECONDS:-8}
LIVE_STEPS=${BENCH_LIVE_STEPS:-5}
LIVE_START_PPS=${BENCH_LIVE_START_PPS:-100000}
LIVE_MAX_PPS=${BENCH_LIVE_MAX_PPS:-300000}
LIVE_PORT=${BENCH_LIVE_PORT:-47890}
T_START=$(date +%s)

log() { printf '\n== %s\n' "$*" >&2; }
die() { echo "bench: $*" >&2; exit 2; }

[ -x "$TV" ] || die "$TV is not built (make, or TAPVAULT=...)"
[ -x "$GEN" ] || die "$GEN is not built (make, or GEN=...)"

# ------------------------------------------------------------------ tools
have() { command -v "$1" >/dev/null 2>&1; }
missing=()
for tp in nfpcapd:nfdump softflowd:softflowd zstd:zstd tcpdump:tcpdump /usr/bin/time:time hyperfine:hyperfine; do
  have "${tp%%:*}" || missing+=("${tp#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && have apt-get; then
    log "installing missing peer tools: ${missing[*]}"
    echo "+ apt-get install -y -qq ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 ||
      { timeout 300 apt-get update -qq >/dev/null 2>&1 &&
        DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1; } ||
      echo "bench: apt-get could not install all of: ${missing[*]} (those rows are skipped)" >&2
  else
    echo "bench: not root: missing ${missing[*]} (those rows are skipped)" >&2
  fi
fi
have python3 || die "python3 is needed for the report"
HAVE_TIME=0; [ -x /usr/bin/time ] && HAVE_TIME=1

# ------------------------------------------------------------------ work dir
mkdir -p "$W"
# remove what an earlier run left (only our own file names)
rm -rf "$W"/{st,st_ns,st_nf,st_many,live_st,nf,nf_many,log,raw,audit} "$W"/*.pcap "$W"/*.zst "$W"/*.csv "$W"/*.txt "$W"/*.tsv "$W"/*.out "$W"/*.err "$W"/audit_rows.md
mkdir -p "$W/log" "$W/raw"
R=$W/raw
: > "$R/measurements.tsv"; : > "$R/info.tsv"; : > "$R/commands.tsv"; : > "$R/notes.tsv"
cd "$W"

BG_PIDS=()
cleanup_bg() { local p; for p in "${BG_PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done; BG_PIDS=(); }
trap 'cleanup_bg' EXIT
trap 'cleanup_bg; exit 130' INT TERM

info() { printf '%s\t%s\n' "$1" "$2" >> "$R/info.tsv"; }
note() { printf '%s\t%s\n' "$1" "$2" >> "$R/notes.tsv"; echo "note ($1): $2" >&2; }
show() { echo "+ $(printf '%q ' "$@")" >&2; }
run() { show "$@"; "$@"; }

free_kb() { df -Pk "$W" | awk 'NR==2 {print $4}'; }
avail=$(free_kb)
need=$(( BYTES / 1024 * 9 ))
[ "$avail" -gt "$need" ] || echo "bench: warning: $((avail/1048576)) GiB free in $W, about $((need/1048576)) GiB needed" >&2

drop_caches() {
  [ "$DROP" = 1 ] || return 0
  sync
  echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || { echo "bench: cannot drop caches (not root?)" >&2; DROP=0; }
}

# measure KEY RUN CMD...: one timed run; appends to measurements.tsv
measure() {
  local key=$1 run=$2; shift 2
  local cmd; cmd=$(printf '%q ' "$@"); cmd=${cmd% }
  echo "+ $cmd" >&2
  awk -F'\t' -v k="$key" '$1 == k {f = 1} END {exit !f}' "$R/commands.tsv" || printf '%s\t%s\n' "$key" "$cmd" >> "$R/commands.tsv"
  drop_caches
  local t0 t1 rc rss=0
  t0=$(date +%s.%N)
  if [ "$HAVE_TIME" = 1 ]; then
    /usr/bin/time -v -o "$W/log/time.txt" "$@" > "$W/log/$key.$run.out" 2> "$W/log/$key.$run.err"
    rc=$?
  else
    "$@" > "$W/log/$key.$run.out" 2> "$W/log/$key.$run.err"
    rc=$?
  fi
  t1=$(date +%s.%N)
  local cpu=0
  if [ "$HAVE_TIME" = 1 ]; then
    rss=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$W/log/time.txt")
    cpu=$(awk -F: '/User time \(seconds\)|System time \(seconds\)/ {c += $2} END {printf "%.3f", c}' "$W/log/time.txt")
  fi
  local wall; wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.6f", b - a}')
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$key" "$run" "$wall" "${rss:-0}" "$rc" "$cpu" >> "$R/measurements.tsv"
  echo "  -> ${wall} s, CPU ${cpu} s, max RSS ${rss:-?} KiB, exit $rc" >&2
  [ "$rc" = 0 ] || tail -n 3 "$W/log/$key.$run.err" >&2
  return "$rc"
}

# gen_kv FILE PREFIX: key=value summary lines of tv-gen into info.tsv
gen_kv() { while IFS== read -r k v; do [ -n "$k" ] && info "$2$k" "$v"; done < "$1"; }
kv() { awk -F= -v k="$2" '$1 == k {print $2}' "$1"; }

info date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
info machine "$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
info load_start "$(cut -d' ' -f1-3 /proc/loadavg)"
info runs "$N"
info bench_bytes "$BYTES"
info seed 1
info tapvault "$TV ($(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?')$(cd "$ROOT" && git diff --quiet HEAD 2>/dev/null || echo '+dirty'))"
if [ "$DROP" = 1 ]; then info cache "dropped before every timed run"; else info cache "warm (files were just written; 24 GiB RAM holds them)"; fi

# ------------------------------------------------------------------ captures
log "generating captures (seed 1: outer + inner + truth; seeds 2-4: outer for the 4x archive)"
run "$GEN" --seed 1 --target-bytes "$BYTES" --outer outer.pcap --inner inner.pcap --truth truth1.csv --summary > gen1.txt ||
  die "tv-gen failed"
cat gen1.txt >&2
gen_kv gen1.txt ""
OUTER_BYTES=$(kv gen1.txt outer_bytes)
INNER_BYTES=$(kv gen1.txt inner_bytes)
last_ns=$(kv gen1.txt last_ns)
for s in 2 3 4; do
  start=$(( (last_ns / 1000000000 / 600 + 2) * 600 ))
  run "$GEN" --seed "$s" --start "$start" --target-bytes "$BYTES" --outer "outer$s.pcap" --truth "truth$s.csv" --summary > "gen$s.txt" ||
    die "tv-gen failed"
  last_ns=$(kv "gen$s.txt" last_ns)
done

# the host for the query rows: outside the VPC and the scripted scenario,
# a few hundred to a few thousand packets in seed 1, and (nearly) absent from seeds 2-4
HOST=""
while read -r a n; do
  other=$($PY hostcount "$a" truth2.csv truth3.csv truth4.csv)
  if [ "$other" -le $(( n / 10 )) ]; then HOST=$a; HOST_N=$n; HOST_OTHER=$other; break; fi
done < <($PY hosts truth1.csv 200 5000 | head -n 50)
if [ -z "$HOST" ]; then
  read -r HOST HOST_N < <($PY hosts truth1.csv 50 100000 | head -n 1)
  HOST_OTHER=$($PY hostcount "$HOST" truth2.csv truth3.csv truth4.csv)
fi
info host "$HOST"
echo "query host: $HOST ($HOST_N packets in seed 1, $HOST_OTHER in seeds 2-4)" >&2
note 4 "host $HOST: $HOST_N packets in the seed-1 capture, $HOST_OTHER in seeds 2-4 (generator truth)"

# ------------------------------------------------------------------ 1, 2, 5, 6: ingest
log "1/2/5/6: ingest (fsync, --no-sync, --no-sync --no-flows) and zstd -3 -T1, interleaved, $N runs"
for r in $(seq 1 "$N"); do
  rm -rf st
  measure ingest.sync "$r" "$TV" ingest -q -s st -r outer.pcap
  rm -rf st_ns
  measure ingest.nosync "$r" "$TV" ingest -q --no-sync -s st_ns -r outer.pcap
  [ "$r" = "$N" ] && { "$TV" stats -s st_ns --format json > stats_ns.json 2>/dev/null; }
  rm -rf st_ns st_nf
  measure ingest.noflows "$r" "$TV" ingest -q --no-sync --no-flows -s st_nf -r outer.pcap
  rm -rf st_nf
  if have zstd; then
    measure zstd3 "$r" zstd -3 -T1 -q -f inner.pcap -o inner.pcap.zst
  fi
done
have zstd || note 1 "zstd is not installed: no comparison"
"$TV" stats -s st --format json > stats1.json
info flow_records "$($PY json stats1.json flow.records)"
info stored_packets "$($PY json stats1.json packets)"
[ "$($PY json stats1.json packets)" = "$(kv gen1.txt packets)" ] ||
  note 1 "stored packets $($PY json stats1.json packets) != generated $(kv gen1.txt packets)"
info store_bytes "$(du -sb st | cut -f1)"
info store_seg_bytes "$(du -sb st/segments | cut -f1)"
info store_idx_bytes "$(du -sb st/index | cut -f1)"
[ -f inner.pcap.zst ] && info zstd3_bytes "$(stat -c %s inner.pcap.zst)"
rm -f inner.pcap.zst

# ------------------------------------------------------------------ 3: one-host query
log "3: query 'host $HOST' (tapvault on the store vs tcpdump on the decapsulated capture), $N runs after one warm-up"
run "$TV" query -v -s st "host $HOST" --format count > /dev/null 2> plan1.txt
info plan1x "$(grep -m1 '^plan:' plan1.txt | sed 's/^plan: //')"
"$TV" query -s st "host $HOST" -w q1.pcap
for r in $(seq 1 "$N"); do measure query1x "$r" "$TV" query -s st "host $HOST" -w q1.pcap; done
info query1x_count "$($PY count q1.pcap)"
if have tcpdump; then
  tcpdump --time-stamp-precision=nano -Z root -r inner.pcap -w q2.pcap "host $HOST" 2>/dev/null
  for r in $(seq 1 "$N"); do measure tcpdump1x "$r" tcpdump --time-stamp-precision=nano -Z root -r inner.pcap -w q2.pcap "host $HOST"; done
  info tcpdump1x_count "$($PY count q2.pcap)"
  info query1x_identical "$($PY sameseq q1.pcap q2.pcap)"
else
  note 3 "tcpdump is not installed: no comparison"
fi

# ------------------------------------------------------------------ 6: flow peers
log "6: flow records from the decapsulated capture: nfpcapd and softflowd, $N runs"
if have nfpcapd; then
  for r in $(seq 1 "$N"); do
    rm -rf nf; mkdir nf
    measure nfpcapd "$r" nfpcapd -r inner.pcap -w nf
  done
  info nf_flows "$(nfdump -R nf -I 2>/dev/null | awk '$1 == "Flows:" {print $2}')"
  rm -rf nf
  note 6 "nfpcapd rotates its output every 5 min of capture time and splits flows at the 60 s idle / 300 s active timeouts, so its flow count is not the 600 s-window count"
else
  note 6 "nfpcapd (nfdump) is not installed: row skipped"
fi
if have softflowd; then
  for r in $(seq 1 "$N"); do
    measure softflowd "$r" timeout 600 softflowd -r inner.pcap -n 127.0.0.1:9995 -c none -d -6 -p "$W/sf.pid"
  done
  info sf_flows "$(grep -m1 -oE 'Flows exported: [0-9]+ \([0-9]+ records' "log/softflowd.$N.err" "log/softflowd.$N.out" 2>/dev/null | grep -oE '[0-9]+ records' | cut -d' ' -f1)"
  note 6 "softflowd exports bidirectional flows (counted here as records); it sends NetFlow v5 to 127.0.0.1:9995 where nothing listens, -c none keeps it from waiting at end of file"
else
  note 6 "softflowd is not installed: row skipped"
fi

# ------------------------------------------------------------------ 4: 4x archive
log "4: the same query on a 4x archive (seeds 2-4 added to the store, --no-sync, start times shifted)"
for s in 2 3 4; do
  measure ingest.add "$s" "$TV" ingest -q --no-sync -s st -r "outer$s.pcap"
  rm -f "outer$s.pcap"
done
info store4x_bytes "$(du -sb st | cut -f1)"
run "$TV" query -v -s st "host $HOST" --format count > /dev/null 2> plan4.txt
info plan4x "$(grep -m1 '^plan:' plan4.txt | sed 's/^plan: //')"
"$TV" query -s st "host $HOST" -w q4.pcap
for r in $(seq 1 "$N"); do measure query4x "$r" "$TV" query -s st "host $HOST" -w q4.pcap; done
info query4x_count "$($PY count q4.pcap)"
rm -rf st q1.pcap q2.pcap q4.pcap

# ------------------------------------------------------------------ 6: 1M flows
log "6: a capture with 1,000,000 extra short flows: ingest time and peak RSS, beside nfpcapd and softflowd"
run "$GEN" --seed 1 --many-flows 1000000 --outer many.pcap --inner many_in.pcap --summary > genm.txt || die "tv-gen failed"
info many_packets "$(kv genm.txt packets)"
info many_inner_bytes "$(kv genm.txt inner_bytes)"
for r in $(seq 1 "$N"); do
  rm -rf st_many
  measure ingest.many "$r" "$TV" ingest -q -s st_many -r many.pcap
done
"$TV" stats -s st_many --format json > stats_many.json
info many_flow_records "$($PY json stats_many.json flow.records)"
info many_store_bytes "$(du -sb st_many | cut -f1)"
info many_store_idx_bytes "$(du -sb st_many/index | cut -f1)"
info many_store_seg_bytes "$(du -sb st_many/segments | cut -f1)"
# one more, untimed run sampling /proc/PID/status at 10 Hz: how much of the
# peak RSS is anonymous memory and how much the LMDB map (file pages)
rm -rf st_many
show "$TV" ingest -q -s st_many -r many.pcap "(sampling RssAnon/RssFile)"
"$TV" ingest -q -s st_many -r many.pcap & sp=$!
ma=0; mf=0
while kill -0 "$sp" 2>/dev/null; do
  read -r a f < <(awk '/^RssAnon/ {a = $2} /^RssFile/ {f = $2} END {print a + 0, f + 0}' "/proc/$sp/status" 2>/dev/null || echo "0 0")
  [ "${a:-0}" -gt "$ma" ] && ma=$a; [ "${f:-0}" -gt "$mf" ] && mf=$f
  sleep 0.1
done
wait "$sp"
info many_rss_anon_kib "$ma"; info many_rss_file_kib "$mf"
echo "  -> peak RssAnon $ma KiB, peak RssFile $mf KiB" >&2
if have zstd; then
  for r in $(seq 1 "$N"); do measure many.zstd3 "$r" zstd -3 -T1 -q -f many_in.pcap -o many_in.pcap.zst; done
  info many_zstd3_bytes "$(stat -c %s many_in.pcap.zst)"; rm -f many_in.pcap.zst
fi
fe=$($PY json stats_many.json flow.early_flushes)
[ -n "$fe" ] && [ "$fe" != 0 ] && note 6 "1M flows: $fe early flushes of the flow table (--flow-max 262144)"
rm -rf st_many
if have nfpcapd; then
  for r in $(seq 1 "$N"); do rm -rf nf_many; mkdir nf_many; measure many.nfpcapd "$r" nfpcapd -r many_in.pcap -w nf_many; done
  info many.nfpcapd_flows "$(nfdump -R nf_many -I 2>/dev/null | awk '$1 == "Flows:" {print $2}')"
  rm -rf nf_many
fi
if have softflowd; then
  for r in $(seq 1 "$N"); do
    measure many.softflowd "$r" timeout 600 softflowd -r many_in.pcap -n 127.0.0.1:9995 -c none -d -6 -m 2000000 -p "$W/sf.pid"
  done
  info many.softflowd_flows "$(grep -m1 -oE 'Flows exported: [0-9]+ \([0-9]+ records' "log/many.softflowd.$N.err" "log/many.softflowd.$N.out" 2>/dev/null | grep -oE '[0-9]+ records' | cut -d' ' -f1)"
  note 6 "softflowd on the 1M-flow capture runs with -m 2000000 (default 8192 would expire flows early)"
fi
rm -f many.pcap many_in.pcap

# ------------------------------------------------------------------ 7: live ingest
# Guarded: runs only when `tapvault ingest --help` documents -l (UDP listener)
# and `tapvault replay --help` works.
live_supported() {
  "$TV" ingest --help 2>&1 | grep -qE -- '(^|[[:space:],])-l([[:space:],]|$)|--listen' &&
    "$TV" replay --help > /dev/null 2>&1
}

port_bound() { ss -Hnul "sport = :$LIVE_PORT" 2>/dev/null | grep -q .; }

# stop_pid PID: SIGINT, then SIGTERM, then SIGKILL, each bounded
stop_pid() {
  local p=$1 i
  kill -INT "$p" 2>/dev/null
  for i in $(seq 1 150); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
  kill -0 "$p" 2>/dev/null && { kill -TERM "$p" 2>/dev/null; sleep 2; }
  kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
  wait "$p" 2>/dev/null
}

# live_step WORKERS PPS SECONDS: one run; sets L_SENT L_STORED L_KDROPS L_TVDROPS L_RATE L_GBPS
# returns 0 when every sent packet was stored and nothing was dropped
live_step() {
  local w=$1 pps=$2 secs=$3
  local loops=$(( (pps * secs + LIVE_NPK - 1) / LIVE_NPK )); [ "$loops" -ge 1 ] || loops=1
  rm -rf live_st
  local k0; k0=$($PY udperr)
  show "$TV" ingest -q -s live_st -l "127.0.0.1:$LIVE_PORT" --workers "$w"
  "$TV" ingest -q -s live_st -l "127.0.0.1:$LIVE_PORT" --workers "$w" > log/live_ingest.out 2> log/live_ingest.err &
  local ip=$!; BG_PIDS+=("$ip")
  local i; for i in $(seq 1 50); do port_bound && break; sleep 0.2; done
  if ! port_bound; then
    echo "bench: live ingest did not bind 127.0.0.1:$LIVE_PORT" >&2; tail -n 3 log/live_ingest.err >&2
    stop_pid "$ip"; L_SENT=0; L_STORED=0; L_RATE=0; L_GBPS=0; L_KDROPS='?'; L_TVDROPS='?'; return 2
  fi
  local extra=()
  [ "$REPLAY_COUNT" = 1 ] && extra+=(--count $(( pps * secs )))
  [ "$REPLAY_MAXSEC" = 1 ] && extra+=(--max-seconds $(( secs * 2 + 5 )))
  show "$TV" replay live.pcap --to "127.0.0.1:$LIVE_PORT" --pps "$pps" --loop "$loops" "${extra[@]}"
  local t0 t1 rc
  t0=$(date +%s.%N)
  timeout $(( secs * 3 + 30 )) "$TV" replay live.pcap --to "127.0.0.1:$LIVE_PORT" --pps "$pps" --loop "$loops" "${extra[@]}" > log/replay.out 2> log/replay.err
  rc=$?
  cat log/replay.out >&2
  t1=$(date +%s.%N)
  sleep 2
  stop_pid "$ip"
  local k1; k1=$($PY udperr)
  L_KDROPS=$(( k1 - k0 ))
  "$TV" stats -s live_st --format json > live_stats.json 2>/dev/null
  L_STORED=$($PY json live_stats.json packets); L_STORED=${L_STORED:-0}
  L_TVDROPS=$($PY jsondrops live_stats.json | cut -d' ' -f1)
  # sent: the replay's own count when it prints one ("sent N" / "N packets"), else loops x packets
  L_SENT=$(grep -ioE 'sent[^0-9]{0,20}[0-9]+' log/replay.out log/replay.err 2>/dev/null | head -n1 | grep -oE '[0-9]+$')
  [ -n "$L_SENT" ] || L_SENT=$(( loops * LIVE_NPK ))
  local el; el=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')
  # "sent N packets, B bytes in S s (R pps)": the replay's own bytes and seconds when it prints them
  local rb rs
  rb=$(grep -m1 -oE '[0-9]+ bytes in [0-9.]+ s' log/replay.out | cut -d' ' -f1)
  rs=$(grep -m1 -oE '[0-9]+ bytes in [0-9.]+ s' log/replay.out | cut -d' ' -f4)
  [ -n "$rs" ] && el=$rs
  L_RATE=$(awk -v n="$L_SENT" -v e="$el" 'BEGIN {printf "%.0f", (e > 0 ? n / e : 0)}')
  if [ -n "$rb" ]; then
    # UDP payload bytes less the 8-byte VXLAN header of each datagram = inner frames
    L_GBPS=$(awk -v n="$L_SENT" -v e="$el" -v b="$rb" 'BEGIN {printf "%.3f", (e > 0 ? (b - 8 * n) * 8 / e / 1e9 : 0)}')
  else
    L_GBPS=$(awk -v n="$L_SENT" -v e="$el" -v b="$LIVE_INNER_BYTES" -v k="$LIVE_NPK" 'BEGIN {printf "%.3f", (e > 0 ? n * (b / k) * 8 / e / 1e9 : 0)}')
  fi
  rm -rf live_st
  echo "  -> workers $w, asked $pps pkt/s: sent $L_SENT in ${el} s ($L_RATE pkt/s, $L_GBPS Gbit/s inner), stored $L_STORED, kernel drops $L_KDROPS, tapvault drop counters $L_TVDROPS, replay exit $rc" >&2
  L_NODROPS=0
  [ "$rc" = 0 ] && [ "$L_STORED" = "$L_SENT" ] && [ "$L_KDROPS" = 0 ] && [ "${L_TVDROPS:-0}" = 0 ] && L_NODROPS=1
  # the step counts only when the sender kept up (>= 90 % of the asked rate)
  L_KEPTUP=0; [ $(( L_RATE * 10 )) -ge $(( pps * 9 )) ] && L_KEPTUP=1
  [ "$L_KEPTUP" = 1 ] || echo "  -> the sender did not keep up ($L_RATE of $pps pkt/s): this step counts as a failure" >&2
  [ "$L_NODROPS" = 1 ] && [ "$L_KEPTUP" = 1 ]
}

# live_search WORKERS: doubling then bisection over --pps, then a confirming run
live_search() {
  local w=$1 ok=0 bad=0 pps=$LIVE_START_PPS s okdesc=""
  for s in $(seq 1 "$LIVE_STEPS"); do
    if live_step "$w" "$pps" "$LIVE_STEP_SECONDS"; then
      ok=$pps
      [ "$pps" -ge "$LIVE_MAX_PPS" ] && break
      if [ "$bad" = 0 ]; then pps=$(( pps * 2 )); else pps=$(( (ok + bad) / 2 )); fi
      [ "$pps" -gt "$LIVE_MAX_PPS" ] && pps=$LIVE_MAX_PPS
    else
      bad=$pps
      pps=$(( (ok + bad) / 2 )); [ "$ok" = 0 ] && pps=$(( bad / 4 ))
    fi
    [ "$bad" != 0 ] && [ $(( bad - ok )) -le $(( bad / 10 )) ] && break
    [ "$pps" -ge 1000 ] || break
  done
  if [ "$ok" = 0 ]; then
    info "live_w$w" "no rate without drops down to $pps pkt/s asked (last: sent $L_SENT, stored $L_STORED, kernel drops $L_KDROPS)"
    return
  fi
  log "7: confirming $ok pkt/s with $w worker(s) for $LIVE_SECONDS s"
  if live_step "$w" "$ok" "$LIVE_SECONDS"; then
    okdesc="zero drops"
  else
    ok=$(( ok * 3 / 4 ))
    log "7: drops in the confirming run; once more at $ok pkt/s"
    if live_step "$w" "$ok" "$LIVE_SECONDS"; then okdesc="zero drops (second confirming run, at 3/4 of the search result)"
    else okdesc="**not confirmed: drops or a slow sender in the ${LIVE_SECONDS} s runs**"; fi
  fi
  [ "$ok" -gt "$LIVE_BEST" ] && LIVE_BEST=$ok
  info "live_w$w" "$(printf '%s pkt/s, %s Gbit/s inner (asked %s; sent %s, stored %s, kernel drops %s, tapvault drop counters %s: %s)%s' \
    "$L_RATE" "$L_GBPS" "$ok" "$L_SENT" "$L_STORED" "$L_KDROPS" "${L_TVDROPS:-?}" "$okdesc" \
    "$([ "$ok" -ge "$LIVE_MAX_PPS" ] && echo "; at the bench cap BENCH_LIVE_MAX_PPS")")"
}

log "7: live ingest on loopback"
if live_supported; then
  info live yes
  info live_seconds "$LIVE_SECONDS"
  # the first 200k packets of the capture, replayed in a loop
  LIVE_NPK=$(( $(kv gen1.txt packets) < 200000 ? $(kv gen1.txt packets) : 200000 ))
  run tcpdump --time-stamp-precision=nano -Z root -r outer.pcap -c "$LIVE_NPK" -w live.pcap 2>/dev/null
  tcpdump --time-stamp-precision=nano -Z root -r inner.pcap -c "$LIVE_NPK" -w live_in.pcap 2>/dev/null
  # inner bytes of those packets: file size less the pcap headers
  LIVE_INNER_BYTES=$(( $(stat -c %s live_in.pcap) - 24 - 16 * LIVE_NPK ))
  rm -f outer.pcap inner.pcap live_in.pcap   # free the disk: a live store of 30 s can be several GB
  REPLAY_COUNT=0; REPLAY_MAXSEC=0
  "$TV" replay --help 2>&1 | grep -q -- '--count' && REPLAY_COUNT=1
  "$TV" replay --help 2>&1 | grep -q -- '--max-seconds' && REPLAY_MAXSEC=1
  LIVE_BEST=0
  for w in 1 2; do
    log "7: searching the highest zero-drop rate with $w worker(s)"
    live_search "$w"
  done
  if have tcpdump && [ "$LIVE_BEST" -gt 0 ]; then
    secs=$(( LIVE_SECONDS < 10 ? LIVE_SECONDS : 10 ))
    loops=$(( (LIVE_BEST * secs + LIVE_NPK - 1) / LIVE_NPK ))
    log "7: tcpdump -i lo on the same stream: $LIVE_BEST pkt/s for about $secs s (a UDP sink keeps the port open)"
    $PY sink "$LIVE_PORT" $(( secs * 3 + 30 )) > sink.out &
    sp=$!; BG_PIDS+=("$sp")
    for i in $(seq 1 50); do port_bound && break; sleep 0.2; done
    show tcpdump -Z root -i lo -n -w live_td.pcap "udp port $LIVE_PORT"
    # timeout relays SIGINT to tcpdump, which then prints its drop counts
    timeout $(( secs * 3 + 40 )) tcpdump -Z root -i lo -n -w live_td.pcap "udp port $LIVE_PORT" 2> log/live_tcpdump.err &
    tp=$!; BG_PIDS+=("$tp")
    sleep 2
    extra=()
    [ "$REPLAY_COUNT" = 1 ] && extra+=(--count $(( LIVE_BEST * secs )))
    [ "$REPLAY_MAXSEC" = 1 ] && extra+=(--max-seconds $(( secs * 2 + 5 )))
    run timeout $(( secs * 3 + 30 )) "$TV" replay live.pcap --to "127.0.0.1:$LIVE_PORT" --pps "$LIVE_BEST" --loop "$loops" "${extra[@]}" > log/replay_td.out 2>&1
    cat log/replay_td.out >&2
    sleep 2
    stop_pid "$tp"; wait "$sp" 2>/dev/null
    sent=$(grep -ioE 'sent[^0-9]{0,20}[0-9]+' log/replay_td.out | head -n1 | grep -oE '[0-9]+$')
    [ -n "$sent" ] || sent=$(( loops * LIVE_NPK ))
    kept=$($PY count live_td.pcap 2>/dev/null || echo 0)
    kd=$(grep -oE '[0-9]+ packets dropped by kernel' log/live_tcpdump.err | cut -d' ' -f1)
    info live_tcpdump "tcpdump -i lo -w F 'udp port $LIVE_PORT' kept $kept of $sent sent at $LIVE_BEST pkt/s asked (${kd:-?} dropped by kernel)"
    rm -f live_td.pcap
  fi
  rm -f live.pcap
else
  info live no
  info live_note "\`tapvault ingest --help\` does not document -l (or \`tapvault replay\` is missing): live ingest not measured; the code path is in bench.sh, guarded by that check"
fi

# ------------------------------------------------------------------ 8: audit
log "8: audit"
if [ -f "$HERE/audit_bench.sh" ] && "$TV" audit --help > /dev/null 2>&1; then
  # audit_bench.sh takes its work directory as $1 and prints key=value lines
  info audit yes
  show env TAPVAULT="$TV" GEN="$GEN" bash "$HERE/audit_bench.sh" "$W/audit"
  t0=$(date +%s.%N)
  TAPVAULT=$TV GEN=$GEN timeout 1800 bash "$HERE/audit_bench.sh" "$W/audit" > audit.out 2> audit.err
  rc=$?
  t1=$(date +%s.%N)
  cat audit.out >&2
  [ "$rc" = 0 ] || tail -n 5 audit.err >&2
  while IFS== read -r k v; do
    [ -n "$k" ] && [ -n "$v" ] && info "audit.$k" "$v"
  done < <(grep -E '^[A-Za-z0-9_]+=' audit.out)
  grep '^|' audit.out > "$R/audit_rows.md" || true
  info audit_summary "audit_bench.sh exit $rc in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", b - a}') s (generation and ingest included)"
  rm -rf "$W/audit"
else
  info audit no
  if [ ! -f "$HERE/audit_bench.sh" ]; then
    info audit_note "tests/bench/audit_bench.sh does not exist yet: skipped"
  else
    info audit_note "\`tapvault audit --help\` fails: skipped"
  fi
fi

# ------------------------------------------------------------------ report
info load_end "$(cut -d' ' -f1-3 /proc/loadavg)"
note - "total bench time $(( $(date +%s) - T_START )) s"
log "results (also in $W/results.md)"
$PY report "$R" "$W/results.md"

if [ "${BENCH_KEEP:-0}" != 1 ]; then
  cd "$W" && find . -mindepth 1 -maxdepth 1 ! -name results.md ! -name raw -exec rm -rf {} +
fi
exit 0
