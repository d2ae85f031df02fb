# One flipped bit in a posting key hides packets from every query, and LMDB
# pages carry no checksum: `verify -s` (chunks against the index) cannot see
# it.  `verify --deep` re-derives the index from the segments, compares,
# names the first difference and exits 1; reindex then repairs the store.
. "$E2E_LIB"
"$GEN" --seed 1 --outer o.pcap --duration 600 >/dev/null
"$TAPVAULT" ingest -q -s st -r o.pcap --chunk-size 256K
expect_exit 0 "$TAPVAULT" verify --deep -s st
grep -q "index compared with the segments: it matches" out.txt || fail "clean store: $(cat out.txt)"
# the busiest IPv4 address
host=$("$TAPVAULT" query -s st | python3 -c '
import re, sys, collections
c = collections.Counter(m.group(1) for l in sys.stdin for m in [re.search(r" IP (\d+\.\d+\.\d+\.\d+)\.\d+ > ", l)] if m)
print(c.most_common(1)[0][0])')
want=$("$TAPVAULT" query -s st --format count "host $host")
cp -a st flip
# flip the low bit of the address's first byte in its posting key for one
# chunk of the open slice (v2_opost: chunk id BE64 | 'A' | ::ffff:a.b.c.d),
# in every copy LMDB keeps of it: the key now names another address, so a
# query for this one misses that chunk, and only the key's CRC (in the
# value) tells
python3 - "$host" <<'PY'
import re, sys
a = [int(x) for x in sys.argv[1].split('.')]
b = bytearray(open('flip/index/data.mdb', 'rb').read())
pat = b'A' + b'\0' * 10 + b'\xff\xff' + bytes(a)
keys = [m.start() for m in re.finditer(re.escape(pat), b)]
assert keys, "no posting key found"
cid = bytes(b[keys[-1] - 8:keys[-1]])
for h in keys:
    if b[h - 8:h] == cid:
        b[h + 13] ^= 1
open('flip/index/data.mdb', 'wb').write(b)
open('chunk.txt', 'w').write(str(int.from_bytes(cid, 'big')))
PY
chunk=$(cat chunk.txt)
got=$("$TAPVAULT" query -s flip --format count "host $host")
[ "$got" -lt "$want" ] || fail "the flip hid nothing ($got of $want): the test does not test"
echo "the flipped key hides $((want - got)) of $want packets of host $host (chunk $chunk)"
expect_exit 0 "$TAPVAULT" verify -s flip
expect_exit 1 "$TAPVAULT" verify --deep -s flip
grep -q "^flip: chunk $chunk: the value of the posting host .* (v2_opost key [0-9a-f]*) is corrupt" out.txt ||
  fail "verify --deep did not name the damaged posting: $(cat out.txt)"
grep -q "it DIFFERS" out.txt || fail "no verdict: $(cat out.txt)"
# the repair: the index rebuilt from the segments
rm -rf flip/index
expect_exit 0 "$TAPVAULT" reindex -s flip
expect_exit 0 "$TAPVAULT" verify --deep -s flip
expect_eq "after reindex" "$want" "$("$TAPVAULT" query -s flip --format count "host $host")"
expect_exit 2 "$TAPVAULT" verify --deep some.tar.zst
echo "ok verify --deep names the flipped posting of chunk $chunk"
