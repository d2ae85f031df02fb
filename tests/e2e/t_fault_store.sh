# Faults.  Each gets a clear error naming the file and what is wrong,
# a non-zero exit, and nothing already stored is damaged: the store still
# verifies afterwards (or, where the fault is damage to the store itself,
# verify names the damage).
. "$E2E_LIB"
"$GEN" --seed 5 --outer o.pcap >/dev/null
"$TAPVAULT" ingest -q -s st -r o.pcap --chunk-size 64K
total=$("$TAPVAULT" query -s st --format count)
[ "$total" -gt 1000 ] || fail "setup: only $total packets"
grep_err() { grep -q -- "$1" err.txt || { cat err.txt; fail "stderr lacks '$1'"; }; }

# 1. a capture that ends in the middle of a record: the packets before it
#    are stored, the error names the file, the packet and the offset
head -c 15000 o.pcap > cut.pcap
expect_exit 2 "$TAPVAULT" ingest -s cut -r cut.pcap
grep_err "cut.pcap: packet [0-9]* near byte offset 15000"
expect_exit 0 "$TAPVAULT" verify -s cut
n=$("$TAPVAULT" query -s cut --format count)
[ "$n" -gt 0 ] || fail "packets before the cut were not stored"
echo "ok cut capture: $n packets kept"

# 1b. a directory whose first file (by first packet) is cut: the ingest goes
#     on with the other files, names the cut one and the one that is not a
#     capture, stores every packet before the faults, and exits 2
mkdir dir
cp cut.pcap dir/a.pcap
"$GEN" --seed 8 --outer dir/b.pcap >/dev/null
"$GEN" --seed 9 --outer dir/c.pcap >/dev/null
echo "hello" > dir/d.pcap
# the reference: each good file into a store of its own
for f in b c; do "$TAPVAULT" ingest -q -s ref-$f -r dir/$f.pcap; done
want=$(( n + $("$TAPVAULT" query -s ref-b --format count) + $("$TAPVAULT" query -s ref-c --format count) ))
expect_exit 2 "$TAPVAULT" ingest -s dirst -r dir
grep_err "dir/a.pcap: packet [0-9]* near byte offset 15000"
grep_err "dir/d.pcap: not a pcap or pcapng capture"
grep -q "^read  *$want packets .* from 4 file(s)" out.txt || { cat out.txt; fail "directory summary: read"; }
grep -q "^faults  *2 file(s) not read to the end .*: dir/a.pcap dir/d.pcap" out.txt ||
  { cat out.txt; fail "directory summary: the cut files are not named"; }
expect_eq "packets stored from the directory" "$want" "$("$TAPVAULT" query -s dirst --format count)"
expect_exit 0 "$TAPVAULT" verify -s dirst
echo "ok directory with a cut file: $want packets stored, the cut files named"

# 2. a file that is not a capture
echo "hello" > notpcap.pcap
expect_exit 2 "$TAPVAULT" ingest -s st -r notpcap.pcap
grep_err "notpcap.pcap: not a pcap or pcapng capture"
expect_exit 0 "$TAPVAULT" verify -s st
echo "ok not a capture"

# 3. a store written by a newer format version (segment header version 4)
cp -r st ver
printf '\004' | dd of=ver/segments/seg-0000000001.tvs bs=1 seek=8 conv=notrunc 2>/dev/null
expect_exit 2 "$TAPVAULT" query -s ver --format count
grep_err "format version"
expect_exit 2 "$TAPVAULT" ingest -s ver -r o.pcap
grep_err "format version"
echo "ok newer version refused"

# 4. a zero-filled tail past the index (preallocation, crash): verify notes
#    it, the next ingest cuts it, and the store verifies
cp -r st zero
head -c 200000 /dev/zero >> zero/segments/seg-0000000001.tvs
expect_exit 0 "$TAPVAULT" verify -s zero
grep -q "not in the index" out.txt || fail "verify did not mention the unindexed tail"
expect_exit 0 "$TAPVAULT" ingest -s zero -r o.pcap
grep_err "200000 torn bytes cut"
expect_exit 0 "$TAPVAULT" verify -s zero
expect_eq "packets after the zero tail was cut" "$total" "$("$TAPVAULT" query -s zero --format count)"
echo "ok zero-filled tail"

# 5. a segment cut short behind the index's back: verify names each chunk
cp -r st trunc
truncate -s 1000000 trunc/segments/seg-0000000001.tvs
expect_exit 1 "$TAPVAULT" verify -s trunc
grep -q "chunk [0-9]*: segment 1 offset [0-9]* length [0-9]*: cannot read" out.txt || { cat out.txt; fail "verify did not name the chunks"; }
echo "ok truncated segment named: $(grep -c 'cannot read' out.txt) chunks"

# 6. a corrupted LMDB file: refused with exit 2, the segments are untouched
cp -r st lmdb
dd if=/dev/urandom of=lmdb/index/data.mdb bs=4096 count=2 conv=notrunc 2>/dev/null
before=$(sha256sum lmdb/segments/seg-0000000001.tvs)
expect_exit 2 "$TAPVAULT" stats -s lmdb
grep_err "lmdb/index/data.mdb) is corrupt"
grep_err "tapvault reindex -s lmdb"
expect_exit 2 "$TAPVAULT" ingest -s lmdb -r o.pcap
expect_eq "segment after a refused ingest" "$before" "$(sha256sum lmdb/segments/seg-0000000001.tvs)"
# the fix the message names: rebuild the index from the segments
expect_exit 0 "$TAPVAULT" reindex -s lmdb
expect_exit 0 "$TAPVAULT" verify -s lmdb
expect_eq "packets after reindex" "$total" "$("$TAPVAULT" query -s lmdb --format count)"
expect_exit 0 "$TAPVAULT" ingest -s lmdb -r o.pcap
grep_err "resuming o.pcap after $total packets (prefix of"
expect_eq "packets after re-ingest on a rebuilt index" "$total" "$("$TAPVAULT" query -s lmdb --format count)"
echo "ok corrupted index refused, then rebuilt by reindex"

# 7. an unwritable store (as an unprivileged user when we are root)
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
  cp -r st ro; chmod -R a+rX ro; chmod a+rx . o.pcap
  expect_exit 3 setpriv --reuid=65534 --regid=65534 --clear-groups "$TAPVAULT" ingest -s ro -r o.pcap
  grep_err "ro: cannot open the store: Permission denied"
  expect_exit 0 "$TAPVAULT" verify -s ro
  echo "ok unwritable store"
elif [ "$(id -u)" != 0 ]; then
  cp -r st ro; chmod -R a-w ro
  expect_exit 3 "$TAPVAULT" ingest -s ro -r o.pcap
  grep_err "Permission denied"
  chmod -R u+w ro
  echo "ok unwritable store"
fi

# 8. a full disk during ingest (a small tmpfs made by the test)
if [ "$(id -u)" = 0 ] && mkdir -p small && mount -t tmpfs -o size=1500k tmpfs small 2>/dev/null; then
  trap 'umount "$PWD/small" 2>/dev/null || true' EXIT
  # the summary says what is stored, and what was read but not stored
  # (it used to count packets as they were added, written or not)
  summary() {
    read_n=$(sed -n 's/^read  *\([0-9]*\) packets.*/\1/p' out.txt)
    stored_n=$(sed -n 's/^stored  *\([0-9]*\) packets.*/\1/p' out.txt)
    lost_n=$(sed -n 's/^lost  *\([0-9]*\) packets.*/\1/p' out.txt)
    echo "summary: read $read_n, stored $stored_n, lost ${lost_n:-0}"
    expect_eq "read = stored + lost" "$read_n" "$(( stored_n + ${lost_n:-0} ))"
  }
  for th in 1 3; do
    rm -rf small/st
    expect_exit 3 "$TAPVAULT" ingest -s small/st -r o.pcap --chunk-size 64K --threads $th
    grep_err "No space left on device"
    summary
    expect_exit 0 "$TAPVAULT" verify -s small/st
    kept=$("$TAPVAULT" query -s small/st --format count)
    [ "$kept" -gt 0 ] && [ "$kept" -lt "$total" ] || fail "full disk: $kept of $total packets kept"
    expect_eq "stored in the summary (--threads $th)" "$kept" "$stored_n"
    [ "${lost_n:-0}" -gt 0 ] || fail "no 'lost' line after a full disk"
    # a second run on the still-full disk fails the same way, damages
    # nothing, and says it stored nothing
    expect_exit 3 "$TAPVAULT" ingest -s small/st -r o.pcap --chunk-size 64K --threads $th
    summary
    expect_eq "stored by a second full-disk run" 0 "$stored_n"
    grep -q "^stored  *0 packets in 0 chunks" out.txt || { cat out.txt; fail "second run summary"; }
    expect_exit 0 "$TAPVAULT" verify -s small/st
    expect_eq "packets after a second full-disk run" "$kept" "$("$TAPVAULT" query -s small/st --format count)"
    echo "ok full disk (--threads $th): $kept of $total packets kept, store verifies"
  done
else
  echo "note: full-disk case skipped (needs root to mount a tmpfs)"
fi
