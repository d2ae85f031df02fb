# Every option the code accepts appears in `tapvault COMMAND --help`
# and in the man page.  The options are read from the getopt_long tables in
# cmd/*.c, so a new option without documentation fails this test.
. "$E2E_LIB"
root=$(cd "$(dirname "$E2E_LIB")/../.." && pwd)
man=$root/tapvault.1
[ -f "$man" ] || fail "tapvault.1 is missing"
# the man page as plain text (groff escapes \- removed)
sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' "$man" > man.txt
"$TAPVAULT" --help > top.txt
checked=0
for src in "$root"/cmd/*.c; do
  cmd=$(basename "$src" .c)
  # long option names from `{ "name", ...` lines inside option tables
  opts=$(grep -oE '^\s*\{ *"[a-z][a-z0-9-]*", *(no|required|optional)_argument' "$src" | sed -E 's/^\s*\{ *"([^"]*)".*/\1/' | sort -u || true)
  [ -n "$opts" ] || continue
  "$TAPVAULT" "$cmd" --help > help.txt 2>&1 || fail "tapvault $cmd --help failed"
  grep -q "^\.SS.*$cmd\|^\.SH.*$cmd\|tapvault $cmd" man.txt || fail "man page has no section for '$cmd'"
  for o in $opts; do
    grep -q -- "--$o\b" help.txt || fail "tapvault $cmd --help does not mention --$o"
    grep -q -- "--$o\b" man.txt || fail "man page does not mention --$o (tapvault $cmd)"
    checked=$((checked+1))
  done
  grep -q "^  $cmd " top.txt || fail "tapvault --help does not list '$cmd'"
done
"$TAPVAULT" --version | grep -q "^tapvault [0-9]" || fail "--version"
echo "checked $checked options"
[ "$checked" -gt 20 ] || fail "too few options found ($checked): the extraction is broken"
