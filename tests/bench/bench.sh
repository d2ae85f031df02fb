#!/usr/bin/env bash
# tapvault benchmark against peer tools, both profiles, measured in the same run.
#
#   make bench                                 (or: bash tests/bench/bench.sh)
#   BENCH_PROFILE=enterprise BENCH_SIZES=256M BENCH_RUNS=10 make bench    (a quicker run)
#
# Profiles (each writes its own section of BENCH_DIR/results.md, and names
# itself beside every figure):
#   enterprise  tests/bench/bench_enterprise.sh: tv-gen --profile enterprise at
#               BENCH_SIZES (default "256M 1G"), BENCH_RUNS (default 10) runs per
#               command with hyperfine, the 4x archive from the 1G capture (BENCH_4X=1;
#               BENCH_4X_SIZE=SIZE builds it from another size, e.g. a small one for a try)
#   default     tests/bench/bench_default.sh: the scripted scenario with heavy TLS bulk
#               (BENCH_BYTES, default 1 GiB), BENCH_DEFAULT_RUNS (default 3) runs, the
#               peers nfpcapd and softflowd, live ingest and the audit
# BENCH_PROFILE=both (default), enterprise or default.
#
# Long runs, only when asked:
#   BENCH_SOAK=1   tests/bench/soak.sh: 15 min live soak at 40k datagrams/s under --max-size
#   BENCH_LIVE=1   tests/bench/live_rate.sh: lossless live rate with 2 workers; with
#                  TAPVAULT_PREV=/path/to/prev/tapvault (the previous main's binary; also
#                  BENCH_BASELINE), both binaries in the same run
#
# Other environment: TAPVAULT, GEN (binaries under test), BENCH_DIR (build/bench),
# BENCH_KEEP=1 (keep captures and stores).  Tools that are missing are
# installed with apt-get when running as root (hyperfine, zstd, tcpdump, time,
# editcap, mdb_stat, nfdump, softflowd).
#
# Exit status: 0 when every profile ran (goals are reported, never enforced),
# 1 when a query's answer differed from its peer's, 2 on other failures.
set -u -o pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/tests/bench
cd "$ROOT" || exit 2
abspath() { case $1 in /*) echo "$1" ;; *) echo "$ROOT/$1" ;; esac; }
W=$(abspath "${BENCH_DIR:-build/bench}")
PROFILE=${BENCH_PROFILE:-both}
case $PROFILE in both|enterprise|default) ;; *) echo "bench: BENCH_PROFILE=$PROFILE: both, enterprise or default" >&2; exit 2 ;; esac

# ------------------------------------------------------------------ tools
have() { command -v "$1" >/dev/null 2>&1; }
missing=()
for tp in hyperfine:hyperfine zstd:zstd tcpdump:tcpdump /usr/bin/time:time editcap:wireshark-common \
          mdb_stat:lmdb-utils nfpcapd:nfdump softflowd:softflowd python3:python3 cc:build-essential; do
  have "${tp%%:*}" || missing+=("${tp#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && have apt-get; then
    echo "== installing missing tools: ${missing[*]}" >&2
    echo "+ apt-get install -y -qq ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 ||
      { timeout 300 apt-get update -qq >/dev/null 2>&1 &&
        DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1; } ||
      echo "bench: apt-get could not install all of: ${missing[*]}" >&2
  else
    echo "bench: not root: missing ${missing[*]}" >&2
  fi
fi

mkdir -p "$W"
rm -f "$W/results.md"
status=0
sections=()
run_part() { # NAME SCRIPT [ENV...]
  local name=$1 script=$2; shift 2
  echo "== $name: $script" >&2
  env "$@" bash "$HERE/$script"
  local rc=$?
  [ $rc -gt $status ] && status=$rc
  [ $rc = 0 ] || echo "bench: $name exited $rc" >&2
}
if [ "$PROFILE" != default ]; then
  run_part enterprise bench_enterprise.sh
  sections+=("$W/enterprise/results.md")
fi
if [ "$PROFILE" != enterprise ]; then
  run_part default bench_default.sh BENCH_RUNS="${BENCH_DEFAULT_RUNS:-3}"
  sections+=("$W/default/results.md")
fi
if [ "${BENCH_SOAK:-0}" = 1 ]; then
  run_part soak soak.sh
  sections+=("$W/soak/results.md")
fi
if [ "${BENCH_LIVE:-0}" = 1 ]; then
  run_part live live_rate.sh
  sections+=("$W/live/results.md")
fi

{
  echo "# tapvault benchmark"
  echo
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores; load average at the end $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "Each section names its profile beside every figure; ratios compare commands of the same run."
  echo
  for f in "${sections[@]}"; do
    if [ -f "$f" ]; then cat "$f"; echo; else echo "(${f#"$W"/}: not written; see the log above)"; echo; fi
  done
} > "$W/results.md"
echo "bench: results in $W/results.md" >&2
exit $status
