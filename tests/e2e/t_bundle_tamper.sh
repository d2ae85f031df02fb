# Tampering is found and named.  For each archive type,
# one byte is flipped in each member in turn (the archive is rebuilt around
# the changed member), one member is removed, one is added: verify exits 1
# naming the member.  A flipped byte in a segment names the chunk; an
# altered or deleted custody entry is named by custody and verify -s.
. "$E2E_LIB"
need python3; need zstd
gen_small 5
"$TAPVAULT" ingest -q -s st -r outer.pcap
for k in tar.zst tar.gz zip; do
  "$TAPVAULT" export -q -s st 'udp or icmp' -o "case.$k" --case T-$k
done
cat > mutate.py <<'PY'
# mutate.py IN OUT ACTION MEMBER: rebuild IN as OUT with MEMBER flipped
# (one byte in its middle), removed, or added
import sys, io, tarfile, zipfile, subprocess
src, dst, action, member = sys.argv[1:5]
def load(p):
    if p.endswith('.zip'):
        z = zipfile.ZipFile(p); return [(n, z.read(n)) for n in z.namelist()]
    raw = open(p, 'rb').read()
    if p.endswith('.tar.zst'):
        raw = subprocess.run(['zstd', '-dcq'], input=raw, check=True, capture_output=True).stdout
    t = tarfile.open(fileobj=io.BytesIO(raw)); return [(i.name, t.extractfile(i).read()) for i in t]
def save(p, members):
    if p.endswith('.zip'):
        with zipfile.ZipFile(p, 'w', zipfile.ZIP_DEFLATED) as z:
            for n, d in members: z.writestr(n, d)
        return
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w', format=tarfile.PAX_FORMAT) as t:
        for n, d in members:
            ti = tarfile.TarInfo(n); ti.size = len(d); ti.mode = 0o444; t.addfile(ti, io.BytesIO(d))
    raw = buf.getvalue()
    if p.endswith('.tar.zst'):
        raw = subprocess.run(['zstd', '-cq'], input=raw, check=True, capture_output=True).stdout
    elif p.endswith('.tar.gz'):
        import gzip; raw = gzip.compress(raw)
    open(p, 'wb').write(raw)
ms = load(src)
if action == 'flip':
    out = []
    for n, d in ms:
        if n == member:
            d = bytearray(d); i = len(d) // 2; d[i] ^= 0x01; d = bytes(d)
        out.append((n, d))
    ms = out
elif action == 'remove':
    ms = [(n, d) for n, d in ms if n != member]
elif action == 'add':
    ms.append((member, b'planted\n'))
elif action == 'same':
    pass
save(dst, ms)
PY
for k in tar.zst tar.gz zip; do
  # a rebuilt but unchanged archive still verifies: the check is on members
  python3 mutate.py "case.$k" "same.$k" same -
  expect_exit 0 "$TAPVAULT" verify "same.$k"
  for m in packets.pcap flows.log manifest.json; do
    rm -f "bad.$k"; python3 mutate.py "case.$k" "bad.$k" flip "$m"
    expect_exit 1 "$TAPVAULT" verify "bad.$k"
    grep -q "^bad.$k: $m: " out.txt || { cat out.txt; fail "$k: flipped byte in $m not named"; }
    echo "ok $k: flip in $m: $(grep "^bad.$k: $m: " out.txt | head -1)"
    if [ "$m" != manifest.json ]; then
      # the manifest lists the right hashes, so only that member is named
      ! grep -v "^bad.$k: $m: \|does NOT verify" out.txt | grep -q . || { cat out.txt; fail "$k: more than $m named"; }
    fi
    expect_exit 2 "$TAPVAULT" query --bundle "bad.$k" --format count
  done
  for m in packets.pcap flows.log manifest.json; do
    rm -f "bad.$k"; python3 mutate.py "case.$k" "bad.$k" remove "$m"
    expect_exit 1 "$TAPVAULT" verify "bad.$k"
    grep -q "^bad.$k: $m: missing" out.txt || { cat out.txt; fail "$k: removed $m not named"; }
  done
  rm -f "bad.$k"; python3 mutate.py "case.$k" "bad.$k" add notes.txt
  expect_exit 1 "$TAPVAULT" verify "bad.$k"
  grep -q "^bad.$k: notes.txt: extra" out.txt || { cat out.txt; fail "$k: added member not named"; }
  echo "ok $k: removed and added members named"
done
# a byte of the archive file itself (not a member) also fails
cp case.tar.gz raw.tar.gz
python3 -c "import sys; p='raw.tar.gz'; d=bytearray(open(p,'rb').read()); d[len(d)//2]^=0xff; open(p,'wb').write(d)"
set +e; "$TAPVAULT" verify raw.tar.gz >out.txt 2>err.txt; rc=$?; set -e
[ $rc -ne 0 ] || fail "a damaged archive verified"

# custody: alter entry 2, then delete entry 2
expect_exit 0 "$TAPVAULT" custody -s st
cp st/custody.log custody.orig
python3 - <<'PY'
l = open('st/custody.log').read().splitlines(True)
assert len(l) == 3
l[1] = l[1].replace('"case":"T-tar.gz"', '"case":"T-other"')
open('st/custody.log', 'w').write(''.join(l))
PY
expect_exit 1 "$TAPVAULT" custody -s st
grep -q 'custody.log line 2: entry 2: its hash does not match' out.txt || { cat out.txt; fail "altered entry not named"; }
expect_exit 1 "$TAPVAULT" verify -s st
grep -q 'custody.log line 2' out.txt || { cat out.txt; fail "verify -s: altered entry not named"; }
cp custody.orig st/custody.log
sed -i 2d st/custody.log
expect_exit 1 "$TAPVAULT" custody -s st
grep -q 'custody.log line 2: entry 3 follows entry 1: entries are missing' out.txt || { cat out.txt; fail "deleted entry not named"; }
expect_exit 1 "$TAPVAULT" verify -s st
grep -q 'custody.log line 2' out.txt || { cat out.txt; fail "verify -s: deleted entry not named"; }
# a broken chain is never extended
expect_exit 3 "$TAPVAULT" export -s st udp -o more.zip
[ ! -e more.zip ] || fail "export chained onto a broken log"
cp custody.orig st/custody.log
expect_exit 0 "$TAPVAULT" verify -s st

# a flipped byte inside a chunk: verify -s names the chunk; verify BUNDLE -s
# still ties the bundle to the index (the index is unchanged)
python3 - <<'PY'
p = 'st/segments/seg-0000000001.tvs'
d = bytearray(open(p, 'rb').read()); d[64 + 96 + 500] ^= 0x10; open(p, 'wb').write(d)
PY
expect_exit 1 "$TAPVAULT" verify -s st
grep -q '^st: chunk 1: ' out.txt || { cat out.txt; fail "damaged chunk not named"; }

# A forged but self-consistent bundle: a member changed, its hash and the
# manifest's own hash recomputed.  The manifest alone cannot tell (it is not
# a signature); with -s the store's custody log, which holds the SHA-256 of
# every bundle exported, refuses it.
"$TAPVAULT" ingest -q -s stf -r outer.pcap
expect_exit 0 "$TAPVAULT" export -s stf -o genuine.tar.gz
mkdir forge && (cd forge && tar xzf ../genuine.tar.gz)
python3 - <<'PY'
import hashlib, json, re
p = 'forge/packets.pcap'
b = bytearray(open(p, 'rb').read()); b[-1] ^= 0xff; open(p, 'wb').write(b)
m = open('forge/manifest.json').read()
old = hashlib.sha256(open('forge/packets.pcap', 'rb').read()).hexdigest()
d = json.loads(m)
for f in d['files']:
    if f['name'] == 'packets.pcap':
        m = m.replace(f['sha256'], old)
zero = re.sub(r'("manifest_sha256"\s*:\s*")[0-9a-f]{64}', lambda x: x.group(1) + '0' * 64, m)
h = hashlib.sha256(zero.encode()).hexdigest()
open('forge/manifest.json', 'w').write(zero.replace('0' * 64, h, 1) if zero.count('0' * 64) == 1 else
                                        re.sub(r'("manifest_sha256"\s*:\s*")0{64}', lambda x: x.group(1) + h, zero))
PY
(cd forge && tar czf ../forged.tar.gz packets.pcap flows.log manifest.json)
expect_exit 0 "$TAPVAULT" verify forged.tar.gz
expect_exit 1 "$TAPVAULT" verify forged.tar.gz -s stf
grep -q "in no custody entry" out.txt || fail "forged bundle: $(cat out.txt)"
expect_exit 0 "$TAPVAULT" verify genuine.tar.gz -s stf
grep -q "as custody entry" out.txt || fail "genuine bundle: $(cat out.txt)"
echo "ok forged bundle refused against the store's custody log"
