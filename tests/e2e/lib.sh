# Helpers sourced by every end-to-end test.
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "$*"; exit 77; }
# expect_eq WHAT EXPECTED ACTUAL
expect_eq() { [ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"; }
# expect_exit CODE CMD...: runs CMD, checks its exit code, keeps stdout/stderr in out.txt/err.txt
expect_exit() {
  local want=$1; shift
  set +e; "$@" >out.txt 2>err.txt; local got=$?; set -e
  [ "$got" = "$want" ] || { cat out.txt err.txt >&2; fail "'$*' exited $got, expected $want"; }
}
need() { command -v "$1" >/dev/null 2>&1 || skip "$1 is not installed"; }
# A normalised, tool-independent text of every packet of a pcap: time in ns,
# lengths and all bytes, printed by tcpdump (the oracle).
pcap_text() { tcpdump -n -tt --time-stamp-precision=nano -xx -r "$1" 2>/dev/null | grep -v '^reading from' || true; }
# Small generated capture (VXLAN only) with its inner capture and truth.
gen_small() { "$GEN" --seed "${1:-7}" --outer outer.pcap --inner inner.pcap --truth truth.csv >/dev/null; }
