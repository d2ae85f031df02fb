# Every file tapvault writes may be in a folder other users can write to
# (/tmp, an S3 export folder, a store handed to --user).  Links planted
# there, at the names it writes (temporary and final) or as a folder level,
# must never be written through: their targets stay untouched, and a link
# at a final name is refused with a message that says so.
. "$E2E_LIB"
. "$(dirname "$0")/live_lib.sh"
"$GEN" --seed 7 --outer outer.pcap --flowlog vpc.log --vni-map vnimap.txt >/dev/null
"$TAPVAULT" ingest -q -s st -r outer.pcap
echo precious > victim
chmod 0600 victim
untouched() { printf 'precious\n' | cmp -s - victim || fail "$1: the file behind the link was written"; }
says_link() { grep -q 'symbolic link' err.txt || { cat err.txt; fail "$1: the message does not name the link"; }; }

# --- flows --s3: the old temporary names were .tmp-PID-SEQ.log.gz; the
# process plants links at them for its own pid, then execs tapvault
"$TAPVAULT" flows -s st --s3 ref 2>/dev/null
day=$(cd ref && find . -name '*.log.gz' | head -n 1 | xargs dirname)
[ -n "$day" ] || fail "flows --s3 wrote no file"
mkdir -p "s3/$day"
sh -c 'for i in 1 2 3 4 5 6 7 8; do ln -s "$1" "$2/.tmp-$$-$i.log.gz"; done; exec "$3" flows -s st --s3 s3' \
  sh "$PWD/victim" "s3/$day" "$TAPVAULT" > out.txt 2> err.txt || { cat err.txt; fail "flows --s3 failed"; }
untouched "flows --s3, links at the temporary names"
for f in ref/"$day"/*.log.gz; do
  g="s3/$day/$(basename "$f")"
  [ -f "$g" ] && [ ! -L "$g" ] || fail "$g: not a regular file"
  cmp -s "$f" "$g" || fail "$g differs from the same run without links"
done
[ -z "$(find s3 -name '*.tvtmp-*')" ] || fail "flows --s3 left temporary files"
# a link at a final name: refused, left as it is, its target untouched
final=$(cd ref && find . -name '*.log.gz' | sort | head -n 1)
mkdir -p "s3b/$day"
ln -s "$PWD/victim" "s3b/$final"
expect_exit 3 "$TAPVAULT" flows -s st --s3 s3b
says_link "flows --s3, link at a final name"
untouched "flows --s3, link at a final name"
[ -L "s3b/$final" ] || fail "the link at the final name was replaced"
# a level of the layout is a link: refused, nothing written where it leads
mkdir elsewhere s3c
ln -s "$PWD/elsewhere" s3c/AWSLogs
expect_exit 3 "$TAPVAULT" flows -s st --s3 s3c
says_link "flows --s3, a linked folder level"
expect_eq "files written through the linked folder" "" "$(find elsewhere -mindepth 1 | head -n 1)"
# re-running into the same folder replaces its own files (same names, same bytes)
"$TAPVAULT" flows -s st --s3 ref 2>/dev/null || fail "flows --s3 into its own earlier output failed"

# --- audit -o
ln -s "$PWD/victim" report.html
expect_exit 2 "$TAPVAULT" audit -s st --flow-logs vpc.log --vni-map vnimap.txt -o report.html
says_link "audit -o"
untouched "audit -o"
"$TAPVAULT" audit -s st --flow-logs vpc.log --vni-map vnimap.txt -o ok.html 2>/dev/null
grep -q '</html>' ok.html || fail "audit -o wrote no report"

# --- query -w: a link is refused; a regular file is replaced, not written
# into (another hard link to it keeps the old bytes); /dev/null still works
ln -s "$PWD/victim" q.pcap
expect_exit 2 "$TAPVAULT" query -s st -w q.pcap tcp
says_link "query -w"
untouched "query -w"
echo old > old.pcap
ln old.pcap old-other-name
"$TAPVAULT" query -s st -w old.pcap tcp
expect_eq "the other name of the replaced pcap" "old" "$(cat old-other-name)"
[ "$(tcpdump -r old.pcap 2>/dev/null | wc -l)" -gt 0 ] || fail "query -w wrote no packets"
expect_exit 0 "$TAPVAULT" query -s st -w /dev/null tcp
[ -c /dev/null ] || fail "/dev/null was replaced"

# --- export -o
ln -s "$PWD/victim" case.tar.zst
expect_exit 2 "$TAPVAULT" export -s st -o case.tar.zst tcp
says_link "export -o"
untouched "export -o"

# --- the custody log: a second hard link to another file (an empty one,
# which a new log would start) is refused, and that export's bundle is
# removed again
: > empty-victim
chmod 0600 empty-victim
ln "$PWD/empty-victim" st/custody.log
expect_exit 3 "$TAPVAULT" export -s st -o c2.tar.zst tcp
grep -q 'hard links' err.txt || { cat err.txt; fail "custody: the message does not name the hard link"; }
[ ! -s empty-victim ] || fail "custody log: the other hard link's file was appended to"
[ ! -e c2.tar.zst ] || fail "a bundle without a custody entry was left"
rm st/custody.log

# --- STORE/vnimap/ copies (live ingest): links at the old temporary name and
# at the final name
mkdir -p st2/vnimap
cp vnimap.txt map.txt
ln -s "$PWD/victim" st2/vnimap/.map.txt.tmp
ln -s "$PWD/victim" st2/vnimap/map.txt
live_start st2 --vni-map map.txt
live_stop
untouched "vnimap copy"
grep -q 'map.txt.*symbolic link' ingest.err || { cat ingest.err; fail "vnimap: the message does not name the link"; }
[ -L st2/vnimap/map.txt ] || fail "the link at the copy's name was replaced"
echo "links at temporary names, final names and folder levels: none written through"
