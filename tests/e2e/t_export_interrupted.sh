# An interrupted export leaves no bundle at its name.  The bundle is written
# under a temporary name beside it and renamed at the end; SIGTERM (and
# SIGINT) remove the temporary file; after SIGKILL the next export of the
# same name removes the stale one.  Re-running the export then succeeds and
# the bundle verifies.
. "$E2E_LIB"
"$GEN" --seed 3 --outer big.pcap --target-bytes 60000000 >/dev/null
"$TAPVAULT" ingest -q -s st -r big.pcap
tmps() { find . -maxdepth 1 -name '.case.tar.zst.tvtmp-*' | wc -l; }
# starts an export and waits (bounded: 20 s) until its bundle is being
# written: the temporary file (or, before the fix, the bundle) exists
start_export() {
  "$TAPVAULT" export -s st -o case.tar.zst --case T-1 > export.out 2> export.err &
  pid=$!
  for _ in $(seq 1 2000); do
    [ "$(tmps)" -gt 0 ] || [ -e case.tar.zst ] && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.01
  done
  cat export.err
  fail "the export finished (or failed) before its bundle was being written: nothing to interrupt"
}

for sig in TERM INT; do
  start_export
  kill -"$sig" "$pid"
  rc=0; wait "$pid" || rc=$?
  [ ! -e case.tar.zst ] || fail "SIG$sig: a partial bundle ($(stat -c %s case.tar.zst) bytes) was left at its name"
  expect_eq "SIG$sig: temporary files left" 0 "$(tmps)"
  [ "$rc" -ne 0 ] || fail "SIG$sig: the interrupted export exited 0"
  grep -q "interrupted by SIG$sig" export.err || { cat export.err; fail "SIG$sig: no message"; }
  expect_eq "SIG$sig: custody entries" 0 "$(wc -l < st/custody.log 2>/dev/null || echo 0)"
done

# SIGKILL: no handler runs; the temporary file stays behind, recognisable
start_export
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
[ ! -e case.tar.zst ] || fail "SIGKILL: a partial bundle was left at its name"
expect_eq "SIGKILL: stale temporary files" 1 "$(tmps)"

# the same export again: removes the stale file, writes, verifies
"$TAPVAULT" export -s st -o case.tar.zst --case T-1 > again.out 2> again.err || { cat again.err; fail "re-running the export failed"; }
grep -q 'removed 1 temporary file' again.err || { cat again.err; fail "no note on the stale temporary file"; }
expect_eq "temporary files after the re-run" 0 "$(tmps)"
expect_exit 0 "$TAPVAULT" verify case.tar.zst -s st
expect_eq "custody entries" 1 "$(wc -l < st/custody.log)"
echo "SIGTERM, SIGINT and SIGKILL during the bundle: no partial bundle; the re-run verifies"
