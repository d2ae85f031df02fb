#!/usr/bin/env bash
# End-to-end CLI tests.  Each tests/e2e/t_*.sh runs in its own temporary
# folder with TAPVAULT, GEN, SHARED (../shared/testdata, may be absent) and
# lib.sh's helpers; it exits 0 (pass), 77 (skip, with a reason) or anything
# else (fail).  TZ is pinned to UTC.  Usage: run.sh [NAME-SUBSTRING]
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export TZ=UTC LC_ALL=C
export TAPVAULT=${TAPVAULT:-$root/tapvault} GEN=${GEN:-$root/build/tv-gen}
export SHARED=${SHARED:-$root/../shared/testdata}
export E2E_LIB=$here/lib.sh
pass=0 fail=0 skip=0 failed=""
for t in "$here"/t_*.sh; do
  name=$(basename "$t" .sh)
  case "$name" in *"${1:-}"*) ;; *) continue ;; esac
  work=$(mktemp -d "${TMPDIR:-/tmp}/tv-e2e.XXXXXX")
  start=$(date +%s)
  ( cd "$work" && bash "$t" ) >"$work/.log" 2>&1
  rc=$?
  secs=$(( $(date +%s) - start ))
  if [ $rc -eq 0 ]; then
    pass=$((pass+1)); echo "PASS $name (${secs}s)"
    rm -rf "$work"
  elif [ $rc -eq 77 ]; then
    skip=$((skip+1)); echo "SKIP $name: $(tail -n 1 "$work/.log")"
    rm -rf "$work"
  else
    fail=$((fail+1)); failed="$failed $name"
    echo "FAIL $name (exit $rc, ${secs}s; work dir $work); last lines:"
    tail -n 25 "$work/.log" | sed 's/^/    /'
  fi
done
echo "e2e: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
