# A store of format 1 or 2 (what tapvault wrote before format 3) is refused
# by every command with a message that names its version and says what to
# do, exit status 2, and nothing in the store changes: not the index, not
# the segments, no VNI map copied, no index build left by reindex.  Each is
# made from a format-3 store: meta "format_version" (u32 LE, as env.c
# writes it) set with mdb_load, and the segment headers' version (offset 8)
# set the same.  A newer format is refused the same way.
. "$E2E_LIB"
need mdb_load
gen_small
"$TAPVAULT" ingest -q -s st -r outer.pcap
printf 'vni=1289 eni=eni-0a1b2c3d4e5f60718 account=111122223333 region=eu-west-1\n' > map.txt

for V in 1 2; do
old=v$V
cp -r st $old
printf 'format_version\n\\0%d\\00\\00\\00\n' "$V" | mdb_load -T -s meta $old/index
for f in $old/segments/seg-*.tvs; do
  printf "\\00$V" | dd of="$f" bs=1 seek=8 conv=notrunc 2>/dev/null
done

want="$old: store format $V is no longer supported (this tapvault reads format 3); ingest the source captures again into a new store"
# every file but LMDB's reader table (lock.mdb), with its bytes, and every name
snapshot() { (cd $old && find . -name lock.mdb -prune -o -print | LC_ALL=C sort && \
              find . -type f ! -name lock.mdb -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); }
snapshot > before.txt

refused() { # CMD ARGS...: exit status 2, the message on stderr, no stdout
  expect_exit 2 "$TAPVAULT" "$@"
  grep -qF "tapvault $1: $want" err.txt || { cat err.txt; fail "$1: the refusal is not on stderr"; }
  [ ! -s out.txt ] || { cat out.txt; fail "$1 printed something on stdout"; }
  echo "ok format $V: $1 refused"
}
refused stats -s $old
refused stats -s $old --format json
refused query -s $old 'port 53' --format count
refused query -s $old -s st --format count
refused flows -s $old
refused verify -s $old
refused verify -s $old --deep
refused export -s $old -o case.tar.zst 'port 53'
refused reindex -s $old
refused ingest -s $old -r outer.pcap
refused ingest -s $old -r outer.pcap --vni-map map.txt

snapshot > after.txt
diff before.txt after.txt || fail "format $V: a refused command changed the store"
[ ! -e case.tar.zst ] || fail "export wrote a bundle of a refused store"
[ ! -e $old/vnimap ] || fail "ingest copied a VNI map into a refused store"
echo "ok format $V: nothing in the store changed"

# without its index (reindex would build one) the segments' version says it
rm -r $old/index
refused reindex -s $old
ls $old | grep -q '^index' && fail "reindex left an index in a refused store"
refused ingest -s $old -r outer.pcap
ls $old | grep -q '^index' && fail "ingest made an index in a refused store"
done

# a newer format: use a newer tapvault
cp -r st v4
printf 'format_version\n\\04\\00\\00\\00\n' | mdb_load -T -s meta v4/index
expect_exit 2 "$TAPVAULT" stats -s v4
grep -qF "v4: store format 4 is newer than this tapvault reads (format 3); use a newer tapvault" err.txt \
  || { cat err.txt; fail "format 4: message"; }
echo "ok format 4 refused"

# the store they were made from still reads
expect_exit 0 "$TAPVAULT" verify -s st
echo "ok format 3 reads"
