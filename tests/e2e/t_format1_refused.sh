# A store of format 1 (what tapvault wrote before format 2) is refused by
# every command with a message that names its version and says what to do,
# exit status 2, and nothing in the store changes: not the index, not the
# segments, no VNI map copied, no index build left by reindex.  The store
# is made from a format-2 one: meta "format_version" (u32 LE, as env.c
# writes it) set to 1 with mdb_load, and the segment headers' version
# (offset 8) set to 1.  A newer format is refused the same way.
. "$E2E_LIB"
need mdb_load
gen_small
"$TAPVAULT" ingest -q -s st -r outer.pcap
cp -r st v1
printf 'format_version\n\\01\\00\\00\\00\n' | mdb_load -T -s meta v1/index
for f in v1/segments/seg-*.tvs; do
  printf '\001' | dd of="$f" bs=1 seek=8 conv=notrunc 2>/dev/null
done
printf 'vni=1289 eni=eni-0a1b2c3d4e5f60718 account=111122223333 region=eu-west-1\n' > map.txt

want="v1: store format 1 is no longer supported (this tapvault reads format 2); ingest the source captures again into a new store"
# every file but LMDB's reader table (lock.mdb), with its bytes, and every name
snapshot() { (cd v1 && find . -name lock.mdb -prune -o -print | LC_ALL=C sort && \
              find . -type f ! -name lock.mdb -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); }
snapshot > before.txt

refused() { # CMD ARGS...: exit status 2, the message on stderr, no stdout
  expect_exit 2 "$TAPVAULT" "$@"
  grep -qF "tapvault $1: $want" err.txt || { cat err.txt; fail "$1: the refusal is not on stderr"; }
  [ ! -s out.txt ] || { cat out.txt; fail "$1 printed something on stdout"; }
  echo "ok $1 refused"
}
refused stats -s v1
refused stats -s v1 --format json
refused query -s v1 'port 53' --format count
refused query -s v1 -s st --format count
refused flows -s v1
refused verify -s v1
refused verify -s v1 --deep
refused export -s v1 -o case.tar.zst 'port 53'
refused reindex -s v1
refused ingest -s v1 -r outer.pcap
refused ingest -s v1 -r outer.pcap --vni-map map.txt

snapshot > after.txt
diff before.txt after.txt || fail "a refused command changed the store"
[ ! -e case.tar.zst ] || fail "export wrote a bundle of a refused store"
[ ! -e v1/vnimap ] || fail "ingest copied a VNI map into a refused store"
echo "ok nothing in the store changed"

# without its index (reindex would build one) the segments' version says it
rm -r v1/index
refused reindex -s v1
ls v1 | grep -q '^index' && fail "reindex left an index in a refused store"
refused ingest -s v1 -r outer.pcap
ls v1 | grep -q '^index' && fail "ingest made an index in a refused store"

# a newer format: use a newer tapvault
cp -r st v3
printf 'format_version\n\\03\\00\\00\\00\n' | mdb_load -T -s meta v3/index
expect_exit 2 "$TAPVAULT" stats -s v3
grep -qF "v3: store format 3 is newer than this tapvault reads (format 2); use a newer tapvault" err.txt \
  || { cat err.txt; fail "format 3: message"; }
echo "ok format 3 refused"

# the store it was made from still reads
expect_exit 0 "$TAPVAULT" verify -s st
echo "ok format 2 reads"
