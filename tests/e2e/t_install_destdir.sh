# `make install DESTDIR=...` installs the binary, the man page, the systemd
# unit (where systemd looks for units under PREFIX) with its paths set for
# PREFIX, and the README that the unit's Documentation= names.
. "$E2E_LIB"
root=$(cd "$(dirname "$E2E_LIB")/../.." && pwd)
for prefix in /usr/local /opt/tv; do
  dest=$PWD/dest${prefix//\//_}
  make -s -C "$root" install SAN="${SAN:-0}" DESTDIR="$dest" PREFIX="$prefix" >make.txt 2>&1 ||
    { cat make.txt; fail "make install PREFIX=$prefix failed"; }
  bin=$dest$prefix/bin/tapvault
  man=$dest$prefix/share/man/man1/tapvault.1
  unit=$dest$prefix/lib/systemd/system/tapvault.service
  doc=$dest$prefix/share/doc/tapvault/README.md
  for f in "$bin" "$man" "$unit" "$doc"; do [ -f "$f" ] || fail "not installed: ${f#"$dest"}"; done
  expect_eq "mode of the binary" 755 "$(stat -c %a "$bin")"
  for f in "$man" "$unit" "$doc"; do expect_eq "mode of ${f#"$dest"}" 644 "$(stat -c %a "$f")"; done
  cmp -s "$root/README.md" "$doc" || fail "installed README differs"
  cmp -s "$root/tapvault.1" "$man" || fail "installed man page differs"
  "$bin" --help >/dev/null 2>&1 || "$bin" help >/dev/null 2>&1 || fail "installed binary does not run"
  # the unit's paths point at what was installed
  exe=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$unit")
  expect_eq "ExecStart binary" "$prefix/bin/tapvault" "$exe"
  [ -x "$dest$exe" ] || fail "ExecStart names $exe, not installed"
  docu=$(sed -n 's|^Documentation=file://||p' "$unit")
  expect_eq "Documentation" "$prefix/share/doc/tapvault/README.md" "$docu"
  [ -f "$dest$docu" ] || fail "Documentation= names $docu, not installed"
  # the rest of the unit is the one in contrib/
  diff <(grep -v '^ExecStart=\|^Documentation=' "$root/contrib/tapvault.service") \
       <(grep -v '^ExecStart=\|^Documentation=' "$unit") >/dev/null || fail "unit differs beyond its paths"
  ! ls "$(dirname "$unit")"/*.tmp >/dev/null 2>&1 || fail "temporary file left in the unit folder"
done
echo ok
