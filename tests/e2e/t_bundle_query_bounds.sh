# query --bundle checks the whole bundle before it copies anything: a bundle
# whose manifest does not verify never reaches $TMPDIR (the old reading
# spooled packets.pcap first, up to 1 TiB), the copy is never larger than
# the manifest declares, --max-member-size refuses larger members, and a
# refused bundle writes nothing (no pcap, no count).  A cut bundle is called
# truncated, not "not a tar or zip archive".
. "$E2E_LIB"
need python3; need zstd
gen_small 5
"$TAPVAULT" ingest -q -s st -r outer.pcap
"$TAPVAULT" export -q -s st 'udp or icmp' -o case.tar.zst
want=$("$TAPVAULT" query -s st 'udp or icmp' --format count)
mkdir tmp; export TMPDIR=$PWD/tmp
# a 64 MiB packets.pcap of zeros (a few KB of zstd) and a manifest
# that does not verify
python3 - <<'PY'
import io, tarfile, subprocess
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode='w', format=tarfile.PAX_FORMAT) as t:
    ti = tarfile.TarInfo('packets.pcap'); ti.size = 64 << 20
    t.addfile(ti, io.BytesIO(bytes(64 << 20)))
    m = b'{"format":"tapvault-case-bundle","version":1,"files":[],"manifest_sha256":"' + b'0' * 64 + b'"}'
    ti = tarfile.TarInfo('manifest.json'); ti.size = len(m); t.addfile(ti, io.BytesIO(m))
open('zeros.tar.zst', 'wb').write(subprocess.run(['zstd', '-cq'], input=buf.getvalue(), check=True,
                                                capture_output=True).stdout)
PY
ls -l zeros.tar.zst

# no file of this process may pass 16 MiB: spooling the zeros would be
# killed by SIGXFSZ
for f in zeros.tar.zst; do
  set +e; ( ulimit -f 16384; exec "$TAPVAULT" query --bundle "$f" -w out.pcap ) >out.txt 2>err.txt; rc=$?; set -e
  cat err.txt
  expect_eq "exit of query --bundle $f" 2 "$rc"
  grep -q 'does not verify\|refusing the bundle' err.txt || fail "$f: not refused"
  [ ! -e out.pcap ] || fail "$f: a refused bundle left out.pcap"
  set +e; ( ulimit -f 16384; exec "$TAPVAULT" query --bundle "$f" --format count ) >out.txt 2>err.txt; rc=$?; set -e
  expect_eq "exit of the count" 2 "$rc"
  [ ! -s out.txt ] || fail "$f: a refused bundle printed '$(cat out.txt)'"
done
[ -z "$(ls -A tmp)" ] || fail "temporary files left: $(ls -A tmp)"

# a good bundle reads within the same file-size limit (its packets.pcap is
# smaller), and gives the store's answer
sz=$(python3 -c 'import json,subprocess,io,tarfile,sys
raw=subprocess.run(["zstd","-dcq","case.tar.zst"],capture_output=True,check=True).stdout
t=tarfile.open(fileobj=io.BytesIO(raw)); m=json.load(t.extractfile("manifest.json"))
print([f["size"] for f in m["files"] if f["name"]=="packets.pcap"][0])')
echo "packets.pcap: $sz bytes"
set +e; got=$( ulimit -f 16384; "$TAPVAULT" query --bundle case.tar.zst --format count ); rc=$?; set -e
expect_eq "exit of a good bundle" 0 "$rc"
expect_eq "packets of a good bundle" "$want" "$got"

# --max-member-size: a member (or a listed size) past it refuses the bundle
lim=$(( sz / 2 ))
expect_exit 2 "$TAPVAULT" query --bundle case.tar.zst --max-member-size "$lim" -w small.pcap
grep -q "packets.pcap: declares $sz bytes, more than the limit of $lim" err.txt || { cat err.txt; fail "limit not named"; }
[ ! -e small.pcap ] || fail "a refused bundle left small.pcap"
expect_exit 1 "$TAPVAULT" verify case.tar.zst --max-member-size "$lim"
grep -q "more than the limit of $lim" out.txt || { cat out.txt; fail "verify: limit not named"; }
expect_exit 0 "$TAPVAULT" verify case.tar.zst --max-member-size "$sz"
expect_exit 2 "$TAPVAULT" query --bundle case.tar.zst --max-member-size 0 --format count

# cut bundles: truncated, whatever the place of the cut
total=$(stat -c %s case.tar.zst)
for n in 0 100 $(( total / 2 )) $(( total - 10 )); do
  head -c "$n" case.tar.zst > cut.tar.zst
  set +e; "$TAPVAULT" verify cut.tar.zst >out.txt 2>err.txt; rc=$?; set -e
  grep -q 'truncated' out.txt err.txt || { cat out.txt err.txt; fail "cut at $n: not called truncated"; }
  ! grep -q 'not a tar or zip archive' err.txt || fail "cut at $n: called not an archive"
  [ "$rc" = 1 ] || [ "$rc" = 2 ] || fail "cut at $n: verify exited $rc"
  expect_exit 2 "$TAPVAULT" query --bundle cut.tar.zst --format count
  grep -q 'truncated' err.txt || { cat err.txt; fail "cut at $n: query did not say truncated"; }
  [ ! -s out.txt ] || fail "cut at $n: query printed '$(cat out.txt)'"
  echo "cut at $n: $(head -n 1 err.txt)"
done
# a damaged byte in a small bundle (read whole in one go) is damage, not a cut
"$TAPVAULT" export -q -s st 'icmp' -o small.zip
python3 - <<'PY'
d = bytearray(open('small.zip', 'rb').read())
i = d.index(b'packets.pcap') + 200  # inside the first member's deflated data
d[i] ^= 0xff
open('flip.zip', 'wb').write(d)
PY
[ "$(stat -c %s flip.zip)" -lt 65536 ] || fail "setup: small.zip is not small"
set +e; "$TAPVAULT" verify flip.zip >out.txt 2>err.txt; set -e
cat out.txt err.txt
! grep -q truncated out.txt err.txt || fail "a flipped byte is called truncated"
grep -q 'packets.pcap' out.txt || fail "the damaged member is not named"
[ -z "$(ls -A tmp)" ] || fail "temporary files left: $(ls -A tmp)"
echo ok
