# `tapvault demo DIR` empties a folder an earlier demo made.  DIR is data,
# never shell code: a name holding $(...) runs nothing, and a link in the
# folder is removed, never followed.  No command line reaches a shell.
. "$E2E_LIB"
mkdir parent
dir="parent/x'\$(touch PWNED)'"
"$TAPVAULT" demo "$dir" > demo1.txt 2>&1 || { cat demo1.txt; fail "first demo run failed"; }
[ -f "$dir/.tapvault-demo" ] || fail "the demo did not mark its folder"
# things the next run empties, among them links that lead out of the folder
mkdir keep; echo precious > keep/f
ln -s "$PWD/keep" "$dir/evil.pcap"
ln -s "$PWD/keep/f" "$dir/s3/evil.log"
"$TAPVAULT" demo "$dir" > demo2.txt 2>&1 || { cat demo2.txt; fail "second demo run failed"; }
found=$(find . -name PWNED | head -n 1)
[ -z "$found" ] || fail "the folder name ran as shell code: $found was created"
[ ! -e "$dir/evil.pcap" ] && [ ! -L "$dir/evil.pcap" ] || fail "the link evil.pcap was not removed"
expect_eq "the file behind the links" "precious" "$(cat keep/f)"
grep -q "^# done in" demo2.txt || fail "second run did not finish"
expect_exit 0 "$TAPVAULT" verify -s "$dir/store"
echo "demo into $dir twice: nothing ran, the links went, their targets stayed"
# the commands it prints are quoted for a shell: pasted, they run nothing else
line=$(grep -m1 '^\$ tapvault stats' demo2.txt)
eval "\"\$TAPVAULT\" ${line#\$ tapvault } > stats.txt 2>&1" || { cat stats.txt; fail "the printed command failed: $line"; }
grep -q 'packets' stats.txt || fail "the printed command did not show the store: $line"
[ -z "$(find . -name PWNED | head -n 1)" ] || fail "a printed command runs shell code: $line"
