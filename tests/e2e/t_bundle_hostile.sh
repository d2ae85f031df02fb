# Hostile bundles (absolute paths, '..', symbolic and
# hard links, a huge declared size, too many members) are refused with a
# clear error by verify and query --bundle, and nothing is written outside
# (or inside) the folder: reading never extracts.
. "$E2E_LIB"
need python3
mkdir -p box/inner tmp
cd box/inner
cat > ../../mk.py <<'PY'
import sys, io, tarfile, zipfile
kind = sys.argv[1]
def tar(path, entries, mode='w:gz'):
    with tarfile.open(path, mode, format=tarfile.PAX_FORMAT) as t:
        for ti, data in entries:
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
def reg(name, data=b'x\n'):
    ti = tarfile.TarInfo(name); ti.size = len(data); return (ti, data)
def link(name, target, typ):
    ti = tarfile.TarInfo(name); ti.type = typ; ti.linkname = target; return (ti, None)
if kind == 'dotdot':
    tar('dotdot.tar.gz', [reg('../evil-dotdot.txt'), reg('manifest.json', b'{}')])
elif kind == 'abs':
    tar('abs.tar.gz', [reg('/tmp/tapvault-evil-abs.txt'), reg('manifest.json', b'{}')])
elif kind == 'subdir':
    tar('subdir.tar.gz', [reg('a/../../evil-sub.txt')])
elif kind == 'symlink':
    tar('symlink.tar.gz', [link('packets.pcap', '/etc/passwd', tarfile.SYMTYPE), reg('manifest.json', b'{}')])
elif kind == 'hardlink':
    tar('hardlink.tar.gz', [link('packets.pcap', '/etc/shadow', tarfile.LNKTYPE)])
elif kind == 'huge':
    # a header that declares 2 TiB, followed by a few bytes and the end
    ti = tarfile.TarInfo('packets.pcap'); ti.size = 2 << 40
    hdr = ti.tobuf(format=tarfile.GNU_FORMAT)
    open('huge.tar', 'wb').write(hdr + b'\0' * 4096 + b'\0' * 1024)
elif kind == 'many':
    tar('many.tar.gz', [reg('m%04d.txt' % i) for i in range(200)])
elif kind == 'zipdotdot':
    with zipfile.ZipFile('zipdotdot.zip', 'w') as z:
        z.writestr('../evil-zip.txt', 'x'); z.writestr('manifest.json', '{}')
elif kind == 'notarchive':
    open('notarchive.zip', 'wb').write(b'this is not an archive\n' * 10)
PY
export TMPDIR=$PWD/../../tmp
before=$(cd ../.. && find . -path ./box/inner -prune -o -print | sort | md5sum)
check() {
  local f=$1 want=$2
  expect_exit 1 "$TAPVAULT" verify "$f"
  grep -q "$want" out.txt || { cat out.txt err.txt; fail "$f: verify did not say '$want'"; }
  echo "ok verify $f: $(grep -m1 "$want" out.txt)"
  expect_exit 2 "$TAPVAULT" query --bundle "$f" --format count
  grep -q "refusing the bundle\|does not verify" err.txt || { cat err.txt; fail "$f: query did not refuse"; }
  echo "ok query  $f: $(head -1 err.txt)"
}
for k in dotdot abs subdir symlink hardlink huge many zipdotdot notarchive; do python3 ../../mk.py $k; done
check dotdot.tar.gz   "\.\./evil-dotdot.txt: unsafe member name"
check abs.tar.gz      "/tmp/tapvault-evil-abs.txt: unsafe member name"
check subdir.tar.gz   "unsafe member name"
check symlink.tar.gz  "packets.pcap: not a regular file (symbolic link to '/etc/passwd')"
check hardlink.tar.gz "packets.pcap: not a regular file (hard link to '/etc/shadow')"
check huge.tar        "packets.pcap: declares 2199023255552 bytes, more than the limit"
check many.tar.gz     "more than 64 members: refused"
check zipdotdot.zip   "\.\./evil-zip.txt: unsafe member name"
expect_exit 2 "$TAPVAULT" verify notarchive.zip
grep -q "not a case bundle" err.txt || { cat err.txt; fail "notarchive: $(cat err.txt)"; }
# nothing was written anywhere: no member outside, no temporary file left
for f in ../evil-dotdot.txt ../../evil-sub.txt /tmp/tapvault-evil-abs.txt ../evil-zip.txt; do
  [ ! -e "$f" ] || fail "$f was written"
done
after=$(cd ../.. && find . -path ./box/inner -prune -o -print | sort | md5sum)
expect_eq "files outside the bundle folder" "$before" "$after"
[ -z "$(ls -A ../../tmp)" ] || fail "temporary files left in TMPDIR: $(ls -A ../../tmp)"
listing=$(ls -A | sort | tr '\n' ' ')
expect_eq "files in the bundle folder" "abs.tar.gz dotdot.tar.gz err.txt hardlink.tar.gz huge.tar many.tar.gz notarchive.zip out.txt subdir.tar.gz symlink.tar.gz zipdotdot.zip " "$listing"
