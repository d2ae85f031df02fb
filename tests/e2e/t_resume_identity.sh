# A file is resumed only when the bytes an earlier run read are identical.
# M = mergecap A C (another sensor's capture merged in by time) starts with
# the same 64 KiB as A, but it is another file: all of its packets are
# stored, with a note saying why, and nothing of it is skipped.  Running A
# and M again then stores nothing (each is resumed by its own prefix).
. "$E2E_LIB"
need mergecap
need capinfos
"$GEN" --seed 1 --outer A.pcap --duration 600 >/dev/null
"$GEN" --seed 2 --outer C.pcap --start 1764000300 --duration 600 >/dev/null
mergecap -F nsecpcap -w M.pcap A.pcap C.pcap
cmp -s <(head -c 65536 A.pcap) <(head -c 65536 M.pcap) || fail "M does not start with A's first 64 KiB"
nA=$(capinfos -M -c A.pcap | awk -F': *' '/Number of packets/ {print $2}')
nM=$(capinfos -M -c M.pcap | awk -F': *' '/Number of packets/ {print $2}')
"$TAPVAULT" ingest -q -s st -r A.pcap
expect_eq "A stored" "$nA" "$("$TAPVAULT" query -s st --format count)"
expect_exit 0 "$TAPVAULT" ingest -s st -r M.pcap
grep -q "M.pcap is new: its first 64 KiB match a file stored before, but its first [0-9]* bytes differ" err.txt ||
  fail "no note that M is a new file: $(cat err.txt)"
grep -q "skipped\|resuming" out.txt err.txt && fail "packets of M were skipped: $(cat out.txt err.txt)"
expect_eq "A then all of M" "$((nA + nM))" "$("$TAPVAULT" query -s st --format count)"
# each of the two is now recognised by its own prefix
for f in A M; do
  n=$([ $f = A ] && echo "$nA" || echo "$nM")
  expect_exit 0 "$TAPVAULT" ingest -s st -r $f.pcap
  grep -q "resuming $f.pcap after $n packets (prefix of $(stat -c %s $f.pcap) bytes identical)" err.txt ||
    fail "$f not resumed: $(cat err.txt)"
done
expect_eq "nothing stored twice" "$((nA + nM))" "$("$TAPVAULT" query -s st --format count)"
# the same in one run, single-threaded and threaded: M after A, then both again
for th in 1 3; do
  expect_exit 0 "$TAPVAULT" ingest --threads $th -s one$th -r A.pcap M.pcap A.pcap M.pcap
  expect_eq "one run, $th threads" "$((nA + nM))" "$("$TAPVAULT" query -s one$th --format count)"
  grep -q "M.pcap is new" err.txt || fail "no note for M: $(cat err.txt)"
done
# the resume survives a crash: recovery takes the marks from the chunk tags
rm -rf st/index
expect_exit 0 "$TAPVAULT" reindex -s st
expect_exit 0 "$TAPVAULT" ingest -s st -r M.pcap A.pcap
grep -q "resuming M.pcap after $nM packets" err.txt || fail "M not resumed after reindex: $(cat err.txt)"
grep -q "resuming A.pcap after $nA packets" err.txt || fail "A not resumed after reindex: $(cat err.txt)"
expect_eq "after reindex" "$((nA + nM))" "$("$TAPVAULT" query -s st --format count)"
# a copy of A's first 1000 records: shorter than the prefix stored, so it
# cannot be compared with it and is stored as new (duplicates, said so;
# never a silent skip)
python3 - <<'PY'
import struct
b = open('A.pcap', 'rb').read()
off = 24
for _ in range(1000):
    off += 16 + struct.unpack_from('<I', b, off + 8)[0]
open('cut.pcap', 'wb').write(b[:off])
PY
expect_exit 0 "$TAPVAULT" ingest -s st -r cut.pcap
grep -q "cut.pcap is new: .* shorter than the $(stat -c %s A.pcap) bytes stored" err.txt ||
  fail "no note for the shorter file: $(cat err.txt)"
expect_eq "the short copy stored as new" "$((nA + nM + 1000))" "$("$TAPVAULT" query -s st --format count)"
expect_exit 0 "$TAPVAULT" verify -s st
echo "ok mergecap A+C after A: $nM packets of M stored, none skipped; A and M each resumed by their own prefix"
