# query --bundle refuses a bundle whose packets.pcap is not Ethernet, with
# the link type in the message (exit 2).  The refusal path read the link
# type from a closed pcap handle: a use after free, but the read happens
# inside libpcap, which ASan does not instrument, so valgrind (when
# installed, and not on the SAN=1 build) is the witness.
. "$E2E_LIB"
need python3
gen_small
"$TAPVAULT" ingest -q -s st -r outer.pcap
"$TAPVAULT" export -q -s st -o case.tar.gz tcp
# the same bundle with packets.pcap turned into a raw-IP capture (link type
# 101), the manifest's hashes made right again
python3 - case.tar.gz raw.tar.gz <<'PY'
import sys, io, json, tarfile, hashlib, struct
src, dst = sys.argv[1], sys.argv[2]
members = {}
with tarfile.open(src) as t:
    for m in t.getmembers():
        members[m.name] = t.extractfile(m).read()
pc = bytearray(members['packets.pcap'])
struct.pack_into('<I', pc, 20, 101)  # LINKTYPE_RAW
members['packets.pcap'] = bytes(pc)
man = json.loads(members['manifest.json'])
for f in man['files']:
    f['size'] = len(members[f['name']])
    f['sha256'] = hashlib.sha256(members[f['name']]).hexdigest()
man['manifest_sha256'] = '0' * 64
text = json.dumps(man, indent=2) + '\n'
self = hashlib.sha256(text.encode()).hexdigest()
text = text.replace('"manifest_sha256": "' + '0' * 64 + '"', '"manifest_sha256": "' + self + '"')
members['manifest.json'] = text.encode()
with tarfile.open(dst, 'w:gz', format=tarfile.PAX_FORMAT) as t:
    for name, data in members.items():
        ti = tarfile.TarInfo(name); ti.size = len(data); ti.mode = 0o444
        t.addfile(ti, io.BytesIO(data))
PY
expect_exit 0 "$TAPVAULT" verify raw.tar.gz
if command -v valgrind >/dev/null 2>&1 && [ "${SAN:-0}" != 1 ]; then
  expect_exit 2 valgrind -q --error-exitcode=99 "$TAPVAULT" query --bundle raw.tar.gz --format count
  ! grep -q 'Invalid read' err.txt || { cat err.txt; fail "valgrind: invalid read"; }
else
  echo "note: valgrind not used (absent, or the SAN=1 build)"
fi
expect_exit 2 "$TAPVAULT" query --bundle raw.tar.gz --format count
grep -q 'packets.pcap: link type RAW ([0-9]*), expected Ethernet' err.txt || { cat err.txt; fail "no link-type message"; }
if grep -q 'AddressSanitizer' err.txt; then cat err.txt; fail "ASan reported an error"; fi
echo "query --bundle on a link type 101 packets.pcap: $(head -n 1 err.txt)"
