#!/usr/bin/env bash
# The enterprise-profile benchmark: tv-gen --profile enterprise at each size,
# tapvault against zstd -3 -T1 (ingest time, store size) and against tcpdump
# (queries), measured with hyperfine in the same run, with a warm page cache.
# Run by tests/bench/bench.sh (make bench); it can run alone:
#
#   BENCH_SIZES="16M" BENCH_RUNS=3 bash tests/bench/bench_enterprise.sh
#
# Environment:
#   TAPVAULT=./tapvault  GEN=build/tv-gen   binaries under test
#   WORKBOUND=build/work-bound              the work bound of an answer (tests/bench/work_bound.c;
#                                           made here when missing)
#   BENCH_SIZES="256M 1G"   capture sizes (tv-gen --bytes)
#   BENCH_RUNS=10           hyperfine runs per command
#   BENCH_4X=1              with a size of 1G or more: the 4x archive (that size's capture,
#                           then three time-shifted copies under other addresses, tv-gen
#                           --relabel), and every query on it as well
#   BENCH_4X_SIZE=SIZE      the size that gets the 4x archive (default: the largest >= 1G)
#   BENCH_DIR=build/bench   results go to BENCH_DIR/enterprise/results.md
#   BENCH_KEEP=0            1 keeps the captures and stores
#
# Every query's answer is checked against its peer's before it is timed:
# the same packets, byte for byte after the pcap file header.  A difference
# stops the bench with exit status 1.  Goals are reported (met / missed),
# never enforced.
#
# What counts as what in the store: segments = STORE/segments; flow records =
# the LMDB tables "flows" (format 1) and "v2_flows" (format 2), and any
# STORE/flows*; index = everything else (the LMDB file with its free pages).
#
# Work per query (beacon and client hosts): the bytes decoded and blocks read
# come from the `-v` plan line of `tapvault query`; the bound (16 x the bytes
# returned + 64 KiB per matching flow per 1 MiB raw chunk) from build/work-bound,
# the definition tests/unit/test_work2.c asserts (tests/unit/workbound.h); its
# packet count is checked against the truth (--hosts) and the query's answer.
set -u -o pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/tests/bench
abspath() { case $1 in /*) realpath -m "$1" ;; *) realpath -m "$ROOT/$1" ;; esac; }
TV=$(abspath "${TAPVAULT:-./tapvault}")
GEN=$(abspath "${GEN:-build/tv-gen}")
WB=$(abspath "${WORKBOUND:-build/work-bound}")
W=$(abspath "${BENCH_DIR:-build/bench}")/enterprise
SIZES=${BENCH_SIZES:-256M 1G}
N=${BENCH_RUNS:-10}
FOURX=${BENCH_4X:-1}
PY="python3 $HERE/enterprise.py"

die() { echo "bench: $*" >&2; exit 2; }
mismatch() { echo "bench: FAILED: $*" >&2; exit 1; }
log() { printf '\n== %s\n' "$*" >&2; }
show() { echo "+ $*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }
[ -x "$TV" ] || die "$TV is not built (make, or TAPVAULT=...)"
[ -x "$GEN" ] || die "$GEN is not built (make, or GEN=...)"
for t in hyperfine zstd tcpdump editcap mdb_stat python3; do
  have "$t" || die "$t is missing (tests/bench/bench.sh installs it)"
done
[ "$N" -ge 2 ] || die "BENCH_RUNS must be at least 2"
if [ ! -x "$WB" ] && [ -z "${WORKBOUND:-}" ]; then
  make -C "$ROOT" --no-print-directory build/work-bound >&2 || die "cannot build build/work-bound"
fi
[ -x "$WB" ] || die "$WB is not built (make build/work-bound, or WORKBOUND=...)"

mkdir -p "$W"
rm -rf "$W"/raw "$W"/work
mkdir -p "$W/raw" "$W/work"
R=$W/raw
cd "$W/work" || die "cannot enter $W/work"
${CC:-cc} -O2 -o rsspeak "$HERE/rsspeak.c" || die "cannot build tests/bench/rsspeak.c"
RSS=$W/work/rsspeak
TDZ=(); [ "$(id -u)" = 0 ] && TDZ=(-Z root)   # root: tcpdump must not drop to a user that cannot write here

info() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> "$R/info.tsv"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
kv() { awk -F= -v k="$2" '$1 == k {print $2}' "$1"; }
q() { printf '%q' "$1"; }   # quoting that hyperfine -N (shell-words) reads back
# store_split SIZE PREFIX STORE: PREFIX.total, .segments, .flowrec, .index and .tables into info.tsv
store_split() {
  local total seg fr tables d
  total=$(du -sb "$3" | cut -f1)
  seg=$(du -sb "$3/segments" | cut -f1)
  read -r _ fr _ _ < <($PY tables "$3/index")
  for d in "$3"/flows*; do [ -e "$d" ] && fr=$(( fr + $(du -sb "$d" | cut -f1) )); done
  tables=$($PY tables -v "$3/index" | tail -n 1)
  info "$1" "$2.total" "$total"
  info "$1" "$2.segments" "$seg"
  info "$1" "$2.flowrec" "$fr"
  info "$1" "$2.index" $(( total - seg - fr ))
  info "$1" "$2.tables" "$tables"
  echo "  $3: $total bytes: segments $seg, flow records $fr, index $(( total - seg - fr )); LMDB tables: $tables" >&2
}

info - date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
info - machine "$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
info - tapvault "$($TV --version 2>/dev/null | head -n1) ($(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?')$(cd "$ROOT" && git diff --quiet HEAD 2>/dev/null || echo '+dirty'))"
info - runs "$N"
info - sizes "$SIZES"

# the largest size of 1 GiB or more gets the 4x archive
BIG=${BENCH_4X_SIZE:-}
if [ "$FOURX" = 1 ] && [ -z "$BIG" ]; then
  for S in $SIZES; do
    b=$(numfmt --from=iec "$S" 2>/dev/null || echo 0)
    [ "$b" -ge 1073741824 ] && BIG=$S
  done
fi

# workbound SIZE NAME STORE SUFFIX EXPR COUNT: the bound of the answer (build/work-bound), its
# packets checked against the query's answer and the truth (--hosts: role NAME's packets)
workbound() {
  local out tp
  show "work-bound $3 '$5'"
  out=$("$WB" "$3" "$5") || die "work-bound failed on query $2"
  echo "  $out" >&2
  info "$1" "q.$2.wb$4" "$out"
  [ "$(echo "$out" | tr ' ' '\n' | awk -F= '$1 == "packets" {print $2}')" = "$6" ] ||
    mismatch "$1 query $2 on $3: work-bound saw other packets than the query ($out; the query $6)"
  tp=$(awk -F, -v r="$2" '$1 == r {print $3}' hosts.csv)
  [ "$tp" = "$6" ] || mismatch "$1 query $2: $6 packets, the truth (hosts.csv) says $tp"
}

for S in $SIZES; do
  log "enterprise $S: generating"
  info "$S" load.start "$(load)"
  show "$GEN --profile enterprise --bytes $S --outer outer.pcap --inner inner.pcap --truth truth.csv --hosts hosts.csv --summary"
  "$GEN" --profile enterprise --bytes "$S" --outer outer.pcap --inner inner.pcap --truth truth.csv --hosts hosts.csv \
    --summary > gen.txt || die "tv-gen failed"
  cat gen.txt hosts.csv >&2
  for k in packets outer_bytes inner_bytes duration_s first_ns last_ns; do info "$S" "$k" "$(kv gen.txt $k)"; done
  info "$S" flows "$(kv gen.txt flows)"
  cat outer.pcap inner.pcap > /dev/null   # warm page cache

  # ---------------------------------------------------------------- ingest
  log "enterprise $S: ingest (default options) and zstd -3 -T1, $N runs each"
  st=$W/work/st
  ci="$TV ingest -q -s $(q "$st") -r $(q "$W/work/outer.pcap")"
  cz="zstd -3 -T1 -q -f $(q "$W/work/inner.pcap") -o $(q "$W/work/inner.pcap.zst")"
  info - cmd.ingest "tapvault ingest -q -s STORE -r outer.pcap"
  info - cmd.zstd "zstd -3 -T1 -q -f inner.pcap -o inner.pcap.zst"
  info - cmd.version "tapvault --version"
  show hyperfine -N --runs "$N" --prepare "rm -rf $st" -n ingest "$ci" --prepare true -n zstd "$cz"
  hyperfine -N --runs "$N" --export-json "$R/$S.ingest.json" --style basic \
    --prepare "rm -rf $(q "$st")" -n ingest "$ci" --prepare true -n zstd "$cz" >&2 ||
    die "ingest or zstd failed"
  info "$S" load.ingest "$(load)"
  # the store of the last run
  "$TV" stats -s "$st" --format json > stats.json
  info "$S" chunks "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["chunks"])' stats.json)"
  info "$S" raw_bytes "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["raw_bytes"])' stats.json)"
  stored=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["packets"])' stats.json)
  [ "$stored" = "$(kv gen.txt packets)" ] || mismatch "$S: stored $stored packets of $(kv gen.txt packets)"
  store_split "$S" store "$st"
  info "$S" zstd_bytes "$(stat -c %s inner.pcap.zst)"
  rm -f inner.pcap.zst

  log "enterprise $S: ingest memory (one more run, sampled)"
  rm -rf st_mem
  show "rsspeak $TV ingest -q -s st_mem -r outer.pcap"
  "$RSS" -o mem.txt "$TV" ingest -q -s st_mem -r outer.pcap || die "ingest failed"
  info "$S" mem.ingest "$(cat mem.txt)"
  cat mem.txt >&2
  rm -rf st_mem

  # ---------------------------------------------------------------- 4x archive
  st4=""
  if [ "$S" = "$BIG" ]; then
    log "enterprise $S: the 4x archive"
    t0=$(date +%s)
    st4=$W/work/st4
    rm -rf "$st4"; cp -a "$st" "$st4"
    first_s=$(( $(kv gen.txt first_ns) / 1000000000 ))
    span=$(( ($(kv gen.txt last_ns) - $(kv gen.txt first_ns)) / 1000000000 ))
    period=$(( (span / 600 + 2) * 600 ))
    for k in 1 2 3; do
      show "$GEN --profile enterprise --bytes $S --relabel $k --start $(( first_s + k * period )) --outer copy.pcap"
      "$GEN" --profile enterprise --bytes "$S" --relabel "$k" --start $(( first_s + k * period )) --outer copy.pcap ||
        die "tv-gen --relabel failed"
      if [ "$k" = 3 ]; then
        # the last copy goes into a store three quarters full: ingest memory on the big archive
        show "rsspeak $TV ingest -q --no-sync -s st4 -r copy.pcap"
        "$RSS" -o mem.txt "$TV" ingest -q --no-sync -s "$st4" -r copy.pcap || die "ingest of copy $k failed"
        info "$S" mem.ingest4x "$(cat mem.txt)"
        cat mem.txt >&2
      else
        show "$TV ingest -q --no-sync -s st4 -r copy.pcap"
        "$TV" ingest -q --no-sync -s "$st4" -r copy.pcap || die "ingest of copy $k failed"
      fi
      rm -f copy.pcap
    done
    info "$S" build4x_s $(( $(date +%s) - t0 ))
    store_split "$S" store4x "$st4"
    "$TV" stats -s "$st4" --format json > stats4.json
    info "$S" chunks4x "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["chunks"])' stats4.json)"
  fi

  # ---------------------------------------------------------------- queries
  $PY queries gen.txt hosts.csv truth.csv > queries.tsv || die "no queries"
  while IFS=$'\t' read -r name expr peer; do
    log "enterprise $S: query $name: $expr"
    info "$S" "q.$name.expr" "$expr"
    if [ "$peer" = tcpdump ]; then
      pcmd=(tcpdump "${TDZ[@]}" --time-stamp-precision=nano -r "$W/work/inner.pcap" -w "$W/work/p.pcap" "$expr")
      info "$S" "q.$name.peername" "\`tcpdump -r inner.pcap -w F\`"
      info - cmd.peer.tcpdump "tcpdump --time-stamp-precision=nano -r inner.pcap -w F EXPR"
    else
      read -r _ t1 t2 <<< "$peer"
      # tcpdump has no time filter: Wireshark's editcap scans the capture the same way
      pcmd=(editcap -F nsecpcap -A "$t1" -B "$t2" "$W/work/inner.pcap" "$W/work/p.pcap")
      info "$S" "q.$name.peername" "\`editcap -A T1 -B T2\`"
      info - cmd.peer.editcap "editcap -F nsecpcap -A T1 -B T2 inner.pcap F (the window: T1 = 40 % into the capture, T2 = T1 + 10 s)"
    fi
    info - cmd.query "tapvault query -s STORE EXPR -w F (and -s STORE4X)"
    # the answers first: tapvault and the peer must give the same packets
    "$TV" query -v -s "$st" "$expr" -w q.pcap 2> plan.txt || die "query $name failed"
    "${pcmd[@]}" 2> /dev/null || die "peer of query $name failed: ${pcmd[*]}"
    read -r nq bq < <($PY records q.pcap)
    read -r np bp < <($PY records p.pcap)
    if ! cmp -s <(tail -c +25 q.pcap) <(tail -c +25 p.pcap); then
      mismatch "$S query $name '$expr': tapvault wrote $nq packets ($bq bytes), ${pcmd[0]} $np ($bp bytes); the records differ"
    fi
    [ "$nq" -gt 0 ] || mismatch "$S query $name '$expr': no packets (the profile should have some)"
    info "$S" "q.$name.count" "$nq"
    info "$S" "q.$name.planline" "$(grep -m1 '^plan:' plan.txt)"
    info "$S" "q.$name.plan" "$($PY plan plan.txt)"
    echo "  $nq packets, identical to ${pcmd[0]}; $(grep -m1 '^plan:' plan.txt)" >&2
    case $name in beacon|client)
      workbound "$S" "$name" "$st" "" "$expr" "$nq" ;;
    esac
    cmds=(-n version "$TV --version" -n query "$TV query -s $(q "$st") $(q "$expr") -w $(q "$W/work/q.pcap")")
    if [ -n "$st4" ]; then
      "$TV" query -v -s "$st4" "$expr" -w q4.pcap 2> plan4.txt || die "query $name on the 4x archive failed"
      cmp -s <(tail -c +25 q4.pcap) <(tail -c +25 p.pcap) ||
        mismatch "$S query $name '$expr': the 4x archive's answer differs from the 1x one"
      info "$S" "q.$name.plan4x" "$($PY plan plan4.txt)"
      info "$S" "q.$name.planline4x" "$(grep -m1 '^plan:' plan4.txt)"
      case $name in beacon|client)
        workbound "$S" "$name" "$st4" 4x "$expr" "$nq" ;;
      esac
      cmds+=(-n query-4x "$TV query -s $(q "$st4") $(q "$expr") -w $(q "$W/work/q4.pcap")")
    fi
    pstr=""; for a in "${pcmd[@]}"; do pstr+="$(q "$a") "; done
    cmds+=(-n peer "$pstr")
    hyperfine -N --warmup 2 --runs "$N" --export-json "$R/$S.q.$name.json" --style basic "${cmds[@]}" >&2 ||
      die "hyperfine failed on query $name"
    "$RSS" -o mem.txt "$TV" query -s "$st" "$expr" -w q.pcap || die "query $name failed"
    info "$S" "q.$name.mem" "$(cat mem.txt)"
    if [ -n "$st4" ]; then
      "$RSS" -o mem.txt "$TV" query -s "$st4" "$expr" -w q4.pcap || die "query $name failed"
      info "$S" "q.$name.mem4x" "$(cat mem.txt)"
    fi
  done < queries.tsv
  info "$S" load.end "$(load)"
  [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$st" "$st4" outer.pcap inner.pcap q.pcap q4.pcap p.pcap
done

log "enterprise: report"
$PY report "$R" "$W/results.md" > /dev/null || die "report failed"
[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$W/work"
echo "bench: enterprise results in $W/results.md" >&2
exit 0
