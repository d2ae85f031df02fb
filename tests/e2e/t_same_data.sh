# The same data is read once.  A store given twice, under another spelling
# of its path, through a symbolic link or as a copy has one identity (the
# UUID in its index): query and flows read it once and say so.  A flow-log
# file reached twice (given twice, or through latest -> 2025 in a folder) is
# identified by device and inode and read once, with a note; a symbolic
# link loop is refused with a clear message, not followed 32 times.
. "$E2E_LIB"
"$GEN" --seed 31 --outer outer.pcap --flowlog fl.log --vni-map map.txt >/dev/null
"$TAPVAULT" ingest -q -s st -r outer.pcap
one=$("$TAPVAULT" query -s st --format count)
ln -s st st-link
cp -a st st-copy
for spelling in "st -s st" "st -s ./st/" "st -s st-link" "st -s st-copy" "./st -s st -s st-link"; do
  # shellcheck disable=SC2086
  expect_exit 0 "$TAPVAULT" query -s $spelling --format count
  expect_eq "query -s $spelling" "$one" "$(cat out.txt)"
  grep -q "is the same store as .* (store id [0-9a-f]\{32\}): read once" err.txt ||
    fail "no note for -s $spelling: $(cat err.txt)"
done
"$TAPVAULT" flows -s st --format csv > flows1.csv
expect_exit 0 "$TAPVAULT" flows -s st -s st-copy --format csv
cmp -s flows1.csv out.txt || fail "flows -s st -s st-copy differs from flows -s st"
grep -q "st-copy is the same store as st" err.txt || fail "no note from flows: $(cat err.txt)"
# a different store is still merged
"$GEN" --seed 32 --outer other.pcap >/dev/null
"$TAPVAULT" ingest -q -s st2 -r other.pcap
two=$("$TAPVAULT" query -s st2 --format count)
expect_eq "two stores" "$((one + two))" "$("$TAPVAULT" query -s st -s st2 --format count)"

# flow logs: once, however reached
fl_packets() { python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["totals"]; print(t["flowlog_packets"], t["flowlog_records_used"])' "$1"; }
"$TAPVAULT" audit -q -s st --flow-logs fl.log --vni-map map.txt -o base.json
base=$(fl_packets base.json)
expect_exit 0 "$TAPVAULT" audit -s st --flow-logs fl.log fl.log --vni-map map.txt -o twice.json
expect_eq "flow log given twice" "$base" "$(fl_packets twice.json)"
grep -q "fl.log:0: the same file as fl.log (device [0-9]*:[0-9]*, inode [0-9]*): read once" err.txt ||
  fail "no note for the file given twice: $(cat err.txt)"
mkdir -p logs/2025 && cp fl.log logs/2025/ && ln -s 2025 logs/latest
expect_exit 0 "$TAPVAULT" audit -s st --flow-logs logs --vni-map map.txt -o dir.json
expect_eq "folder with latest -> 2025" "$base" "$(fl_packets dir.json)"
grep -q "logs/latest:0: the same directory as logs/2025" err.txt || fail "no note for latest: $(cat err.txt)"
ln -s .. logs/2025/up
expect_exit 0 "$TAPVAULT" audit -s st --flow-logs logs --vni-map map.txt -o loop.json
expect_eq "folder with a symlink loop" "$base" "$(fl_packets loop.json)"
grep -q "logs/2025/up:0: a symbolic link loop: it leads back to logs, which contains it; not followed" err.txt ||
  fail "no clear loop message: $(cat err.txt)"
python3 -c 'import json,sys; r=json.load(open("loop.json"))["flowlog_reader"]["rejected_by_reason"]; assert r.get("flowlog.rejected.symlink_loop") == 1, r' ||
  fail "the loop is not counted"
echo "ok same data read once: stores by identity, flow logs by device and inode"
