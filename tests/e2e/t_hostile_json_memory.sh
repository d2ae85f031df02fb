# Small inputs that used to cost gigabytes or minutes: a bundle manifest of
# 5.2 million empty "chunks" objects, 60 MiB of {} as --vni-map and
# --mirror-filters, and a VNI map of a million lines.  Each is refused (or
# loaded) within 256 MiB of peak RSS and a time bound, with one clear
# message rather than millions.  Duplicate JSON keys are refused.
. "$E2E_LIB"
[ -x /usr/bin/time ] || skip "GNU time is not installed (make deps installs it)"
need zstd
gen_small
"$TAPVAULT" ingest -q -s st -r outer.pcap
printf '2 111122223333 eni-0a - - - - - - - 1700000000 1700000060 - NODATA\n' > one.log
python3 - <<'PY'
import io, tarfile
n = 5200000
body = ('{"format":"tapvault-case-bundle","version":1,"files":[],"chunks":[' + ','.join(['{}'] * n)
        + '],"manifest_sha256":"' + '0' * 64 + '"}').encode()
b = io.BytesIO()
with tarfile.open(fileobj=b, mode='w', format=tarfile.PAX_FORMAT) as t:
    ti = tarfile.TarInfo('manifest.json'); ti.size = len(body); t.addfile(ti, io.BytesIO(body))
open('chunks.tar', 'wb').write(b.getvalue())
k = (60 << 20) // 3
open('map60.json', 'w').write('{"TrafficMirrorSessions":[' + ','.join(['{}'] * k) + ']}')
open('filters60.json', 'w').write('{"TrafficMirrorFilters":[' + ','.join(['{}'] * k) + ']}')
def line(i): return 'vni=%d eni=eni-%017x addr=10.%d.%d.%d\n' % (i + 1, i, (i >> 16) & 255, (i >> 8) & 255, i & 255)
open('map1m.txt', 'w').write(''.join(line(i) for i in range(1000000)))
m = [line((i * 7919) % 65536) for i in range(65536)]
open('map64k.txt', 'w').write(''.join(m))
open('map64k-dup.txt', 'w').write(''.join(m[:-1]) + m[0])
PY
zstd -q -3 -f chunks.tar -o chunks.tar.zst
ls -l chunks.tar.zst map60.json map1m.txt

# run LIMIT_S LIMIT_KB WANT_EXIT CMD...: peak RSS and wall time within bounds
run() {
  local secs=$1 kb=$2 want=$3; shift 3
  local start rc
  start=$(date +%s)
  set +e; timeout 120 /usr/bin/time -f %M -o rss.txt "$@" >out.txt 2>err.txt; rc=$?; set -e
  local took=$(( $(date +%s) - start )) rss
  rss=$(tail -n 1 rss.txt)
  echo "$* -> exit $rc, ${took}s, ${rss} KB, $(wc -c <out.txt) bytes out"
  [ "$rc" = "$want" ] || { head -c 2000 err.txt; fail "'$*' exited $rc, expected $want"; }
  [ "$took" -le "$secs" ] || fail "'$*' took ${took}s (more than $secs)"
  [ "$rss" -le "$kb" ] || fail "'$*' used $rss KB of RSS (more than $kb)"
}
MiB256=$((256 * 1024))
# AddressSanitizer's shadow memory and its quarantine of freed blocks (256
# MiB by default) come on top under SAN=1: the bound there is looser
[ "${SAN:-0}" = 1 ] && MiB256=$((768 * 1024))

run 30 $MiB256 1 "$TAPVAULT" verify chunks.tar.zst
grep -q 'manifest.json: more than [0-9]* JSON objects (at byte [0-9]*): refused' out.txt || { cat out.txt; fail "verify: no limit named"; }
[ "$(wc -c <out.txt)" -lt 4096 ] || fail "verify printed $(wc -c <out.txt) bytes"
run 30 $MiB256 2 "$TAPVAULT" query --bundle chunks.tar.zst --format count
[ ! -s out.txt ] || fail "a refused query --bundle printed: $(head -c 200 out.txt)"
[ "$(wc -c <err.txt)" -lt 4096 ] || fail "query --bundle printed $(wc -c <err.txt) bytes of errors"

run 30 $MiB256 2 "$TAPVAULT" flows -s st --vni-map map60.json
grep -q 'map60.json: more than [0-9]* JSON objects' err.txt || { cat err.txt; fail "--vni-map: no limit named"; }
run 30 $MiB256 2 "$TAPVAULT" audit -s st --no-payload --flow-logs one.log --mirror-filters filters60.json -o a.json
grep -q 'filters60.json: more than [0-9]* JSON objects' err.txt || { cat err.txt; fail "--mirror-filters: no limit named"; }

# a million lines: refused at the entry limit, in linear time
run 30 $MiB256 2 "$TAPVAULT" flows -s st --vni-map map1m.txt
grep -q 'map1m.txt:65537: more than 65536 VNI entries: refused' err.txt || { cat err.txt; fail "1M-line map"; }
# the limit itself loads; a duplicate on the last line is found and named
run 60 $MiB256 0 "$TAPVAULT" flows -s st --vni-map map64k.txt --format csv
run 60 $MiB256 2 "$TAPVAULT" flows -s st --vni-map map64k-dup.txt
grep -q 'map64k-dup.txt:65536: vni 1 is already defined on line 1' err.txt || { cat err.txt; fail "duplicate VNI"; }

# duplicate JSON keys: refused like a bundle's manifest
printf '{"TrafficMirrorSessions":[{"VirtualNetworkId":1,"VirtualNetworkId":2,"NetworkInterfaceId":"eni-1"}]}' > dup.json
expect_exit 2 "$TAPVAULT" flows -s st --vni-map dup.json
grep -q 'dup.json:1:[0-9]*: not valid JSON: duplicate object key' err.txt || { cat err.txt; fail "--vni-map duplicate key"; }
printf '{"TrafficMirrorFilters":[{"TrafficMirrorFilterId":"tmf-1","TrafficMirrorFilterId":"tmf-2"}]}' > dupf.json
expect_exit 2 "$TAPVAULT" audit -s st --no-payload --flow-logs one.log --mirror-filters dupf.json -o a.json
grep -q 'dupf.json:1:[0-9]*: not valid JSON: duplicate object key' err.txt || { cat err.txt; fail "--mirror-filters duplicate key"; }
expect_exit 2 "$TAPVAULT" audit -s st --no-payload --flow-logs one.log --sessions dup.json -o a.json
grep -q 'duplicate object key' err.txt || { cat err.txt; fail "--sessions duplicate key"; }
echo ok
