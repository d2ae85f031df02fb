# A capture that is still being written grows between two ingests: the
# second run resumes after the packets already stored, it does not store
# them again (the bytes the first run read are identical: same prefix hash).
. "$E2E_LIB"
"$GEN" --seed 21 --outer full.pcap --target-bytes 3000000 >/dev/null
# the first 1500 records, byte for byte (what a writer has flushed so far)
python3 - <<'PY'
import struct
b = open('full.pcap', 'rb').read()
off = 24
for _ in range(1500):
    caplen = struct.unpack_from('<I', b, off + 8)[0]
    off += 16 + caplen
open('part.pcap', 'wb').write(b[:off])
n, off = 0, 24
while off < len(b):
    off += 16 + struct.unpack_from('<I', b, off + 8)[0]; n += 1
open('total.txt', 'w').write(str(n))
PY
total=$(cat total.txt)
cp part.pcap grow.pcap
"$TAPVAULT" ingest -q -s st -r grow.pcap
expect_eq "after the first part" 1500 "$("$TAPVAULT" query -s st --format count)"
cp full.pcap grow.pcap
expect_exit 0 "$TAPVAULT" ingest -s st -r grow.pcap
grep -q "resuming grow.pcap after 1500 packets (prefix of $(stat -c %s part.pcap) bytes identical)" err.txt ||
  fail "no resume note: $(cat err.txt)"
expect_eq "after the file grew" "$total" "$("$TAPVAULT" query -s st --format count)"
expect_exit 0 "$TAPVAULT" verify -s st
echo "ok grown capture resumed: $total packets, none twice"
