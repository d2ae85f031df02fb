#!/usr/bin/env bash
# Benchmark of `tapvault audit`: about 1 million flow-log lines against a
# large archive.  Prints key=value lines:
#   flowlog_lines, archive_bytes, ingest_wall_s, audit_wall_s,
#   audit_peak_rss_kb, audit_flows, and the same for a --no-payload run.
# Usage: tests/bench/audit_bench.sh [WORKDIR]
# Environment: TAPVAULT, GEN (default ./tapvault, build/tv-gen),
#   TARGET_BYTES (outer capture size, default 1 GiB), MANY_FLOWS (distinct
#   short flows, default 1200000: one flow-log line each, about 1 M lines
#   after the coverage cut and the injected drops), KEEP=1 keeps WORKDIR.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
TAPVAULT=${TAPVAULT:-$root/tapvault}
GEN=${GEN:-$root/build/tv-gen}
TARGET_BYTES=${TARGET_BYTES:-1073741824}
MANY_FLOWS=${MANY_FLOWS:-1200000}
work=${1:-$(mktemp -d "${TMPDIR:-/tmp}/tv-audit-bench.XXXXXX")}
mkdir -p "$work"
cd "$work"
[ -x /usr/bin/time ] || { echo "audit_bench: /usr/bin/time is missing (apt-get install time)" >&2; exit 2; }

# seconds and peak RSS (kB) of a command, from GNU time -v
measure() {
  local out=$1; shift
  /usr/bin/time -v "$@" 2>"$out.time" >/dev/null
  awk -F': ' '/Elapsed \(wall clock\)/{n=split($2,t,":"); s=0; for(i=1;i<=n;i++) s=s*60+t[i]; w=s}
              /Maximum resident set size/{r=$2} END{printf "%.2f %d\n", w, r}' "$out.time"
}

"$GEN" --target-bytes "$TARGET_BYTES" --many-flows "$MANY_FLOWS" --outer outer.pcap \
       --flowlog fl.log --vni-map map.txt --mirror-filters filters.json --mirror-sessions sessions.json >/dev/null
echo "flowlog_lines=$(($(wc -l < fl.log) - 1))"
echo "archive_bytes=$(stat -c %s outer.pcap)"
rm -rf st
read -r w r < <(measure ingest "$TAPVAULT" ingest -q -s st -r outer.pcap --flow-interval 60)
echo "ingest_wall_s=$w"
echo "ingest_peak_rss_kb=$r"
read -r w r < <(measure audit "$TAPVAULT" audit -q -s st --flow-logs fl.log --vni-map map.txt \
                  --mirror-filters filters.json --sessions sessions.json -o audit.json -o audit.html)
echo "audit_wall_s=$w"
echo "audit_peak_rss_kb=$r"
python3 -c 'import json,sys; t=json.load(open("audit.json"))["totals"]; print("audit_flows=%d" % t["flows"]); print("audit_classes=" + ",".join("%s:%d" % kv for kv in t["classes"].items()))'
read -r w r < <(measure audit_np "$TAPVAULT" audit -q -s st --flow-logs fl.log --vni-map map.txt --no-payload -o audit_np.json)
echo "audit_no_payload_wall_s=$w"
echo "audit_no_payload_peak_rss_kb=$r"
rm -f outer.pcap
[ "${KEEP:-0}" = 1 ] || { cd /; rm -rf "$work"; }
