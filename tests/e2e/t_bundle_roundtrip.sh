# Export, verify and query a bundle; its packets equal
# those of `query` on the store (tcpdump -xx text of both), for tar.zst,
# tar.gz and zip.  Also: packets.pcap is byte for byte `query -w`, the
# manifest lists files and chunks, flows.log is AWS v2, --max-bytes refuses,
# an existing file is never overwritten, every export is in the custody log.
. "$E2E_LIB"
need tcpdump; need python3
gen_small 7
"$TAPVAULT" ingest -q -s st -r outer.pcap
expr='tcp and port 443'
"$TAPVAULT" query -s st "$expr" -w store.pcap
pcap_text store.pcap > store.txt
n=$(grep -c '^[0-9]' store.txt)
[ "$n" -gt 0 ] || fail "the query selected nothing"
for k in tar.zst tar.gz zip; do
  expect_exit 0 "$TAPVAULT" export -s st "$expr" -o "case.$k" --case C-1 --examiner 'Ann "A" Lee' --note 'first line
second line'
  grep -q "$n packets" out.txt || fail "$k: export summary: $(cat out.txt)"
  expect_exit 0 "$TAPVAULT" verify "case.$k"
  grep -q '3 members match the manifest' out.txt || fail "$k: verify: $(cat out.txt)"
  expect_exit 0 "$TAPVAULT" verify "case.$k" -s st
  grep -q 'source chunks match' out.txt || fail "$k: verify with store: $(cat out.txt)"
  "$TAPVAULT" query --bundle "case.$k" -w bundle.pcap
  pcap_text bundle.pcap > bundle.txt
  cmp -s store.txt bundle.txt || { diff store.txt bundle.txt | head; fail "$k: bundle packets differ from the store's"; }
  # narrowing inside the bundle equals the combined expression on the store
  expect_eq "$k: count" "$("$TAPVAULT" query -s st --format count "$expr and host 10.0.3.42")" \
    "$("$TAPVAULT" query --bundle "case.$k" --format count host 10.0.3.42)"
  "$TAPVAULT" query --bundle "case.$k" --format text 'src port 443' > bt.txt
  "$TAPVAULT" query -s st --format text "$expr and src port 443" | sed 's/ vni [0-9]*//' > st.txt
  cmp -s bt.txt st.txt || { diff bt.txt st.txt | head; fail "$k: text output differs"; }
  python3 - "case.$k" store.pcap <<'PY'
import sys, tarfile, zipfile, json, hashlib
path, want = sys.argv[1], open(sys.argv[2], 'rb').read()
if path.endswith('.zip'):
    z = zipfile.ZipFile(path); m = {n: z.read(n) for n in z.namelist()}
elif path.endswith('.tar.zst'):
    import subprocess, io
    raw = subprocess.run(['zstd', '-dc', path], check=True, capture_output=True).stdout
    t = tarfile.open(fileobj=io.BytesIO(raw)); m = {i.name: t.extractfile(i).read() for i in t}
else:
    t = tarfile.open(path); m = {i.name: t.extractfile(i).read() for i in t}
assert sorted(m) == ['flows.log', 'manifest.json', 'packets.pcap'], sorted(m)
assert m['packets.pcap'] == want, 'packets.pcap is not the bytes of query -w'
j = json.loads(m['manifest.json'])
assert j['format'] == 'tapvault-case-bundle' and j['version'] == 1
assert j['case'] == 'C-1' and j['examiner'] == 'Ann "A" Lee' and j['note'] == 'first line\nsecond line'
assert j['query']['text'] == 'tcp and port 443' and j['query']['normalised']
assert len(j['store']['uuid']) == 32 and j['store']['path'].startswith('/')
for f in j['files']:
    assert hashlib.sha256(m[f['name']]).hexdigest() == f['sha256'] and len(m[f['name']]) == f['size']
assert [f['name'] for f in j['files']] == ['packets.pcap', 'flows.log']
assert j['chunks'] and all(len(c['sha256']) == 64 for c in j['chunks'])
assert sum(c['packets'] for c in j['chunks']) == j['packets']['count']
lines = m['flows.log'].decode().splitlines()
assert lines[0] == 'version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status'
assert len(lines) - 1 == j['flows']['records'] > 0
for l in lines[1:]:
    f = l.split(' ')
    assert len(f) == 14 and f[7] == '6' and '443' in (f[5], f[6]) and f[12:] == ['ACCEPT', 'OK'], l
PY
  echo "ok $k: $n packets identical through the bundle"
done
# the custody log has all three, and the store and its chain verify
expect_exit 0 "$TAPVAULT" custody -s st
grep -q '3 custody entries, the chain holds' out.txt || fail "custody: $(cat out.txt)"
expect_exit 0 "$TAPVAULT" verify -s st
grep -q '3 custody entries, the chain holds' out.txt || fail "verify -s: $(cat out.txt)"
[ "$(stat -c %a st/custody.log)" = 600 ] || fail "custody.log is not 0600"
# never overwrite; --max-bytes refuses and leaves nothing behind
expect_exit 2 "$TAPVAULT" export -s st "$expr" -o case.zip
grep -q 'never overwritten' err.txt || fail "overwrite: $(cat err.txt)"
expect_exit 3 "$TAPVAULT" export -s st "$expr" -o small.tar.gz --max-bytes 10K
grep -q 'exceed --max-bytes' err.txt || fail "max-bytes: $(cat err.txt)"
[ ! -e small.tar.gz ] || fail "--max-bytes left a bundle behind"
expect_exit 0 "$TAPVAULT" export -s st "$expr" -o big.tar.gz --max-bytes 1G
[ "$(ls -A | grep -c '^\.tapvault-export')" = 0 ] || fail "temporary files left behind"
expect_exit 2 "$TAPVAULT" export -s st "$expr" -o case.rar
expect_exit 0 "$TAPVAULT" custody -s st
grep -q '4 custody entries' out.txt || fail "custody after refusals: $(cat out.txt)"
# the audit report in a bundle: --flow-logs audits the export's time range
"$GEN" --seed 42 --outer a.pcap --flowlog a.log --vni-map a.map >/dev/null
"$TAPVAULT" ingest -q -s sta -r a.pcap --flow-interval 60
expect_exit 0 "$TAPVAULT" export -s sta -o audited.tar.gz --flow-logs a.log --vni-map a.map
grep -q '^audit: [0-9]* flows: [0-9]* matched' out.txt || fail "export --flow-logs: no audit summary: $(cat out.txt)"
expect_exit 0 "$TAPVAULT" verify audited.tar.gz -s sta
grep -q '5 members match the manifest' out.txt || fail "audited bundle: $(cat out.txt)"
tar xzf audited.tar.gz audit.json audit.html
python3 -c 'import json; d=json.load(open("audit.json")); assert d["tapvault_audit"] == 1 and d["totals"]["flows"] > 0' \
  || fail "audit.json in the bundle is not a report"
grep -q '</html>' audit.html || fail "audit.html in the bundle is incomplete"
echo "ok audit report in the bundle"
