# One flow-record match for flows, export and audit: a record matches when
# its 5-tuple, VNI and mirror source match the expression and its
# [start, end] overlaps the expression's time bounds.  A record that spans
# T is therefore kept by both 'after T' and 'before T', and `flows EXPR`
# and the flows.log of `export EXPR` hold the same records.
. "$E2E_LIB"
need tar; need zstd
"$GEN" --seed 3 --outer o.pcap --truth t.csv >/dev/null
"$TAPVAULT" ingest -q -s st -r o.pcap --flow-interval 60
F="srcaddr dstaddr srcport dstport protocol start end"

# a record that lasts at least 2 s; T is a second strictly inside it
"$TAPVAULT" flows -s st --fields "$F" > all.txt
rec=$(awk '$7 - $6 >= 2 { print; exit }' all.txt)
[ -n "$rec" ] || fail "no record lasts 2 s or more in $(wc -l < all.txt) records"
read -r _ _ _ _ _ s e <<<"$rec"
T=$((s + 1))

"$TAPVAULT" flows -s st --fields "$F" "after $T" > after.txt
"$TAPVAULT" flows -s st --fields "$F" "before $T" > before.txt
grep -qxF "$rec" after.txt || fail "'after $T' leaves out the record that spans it: $rec"
grep -qxF "$rec" before.txt || fail "'before $T' leaves out the record that spans it: $rec"
# and the rule, record by record: after T keeps end >= T, before T keeps start < T
expect_eq "after $T" "$(awk -v t=$T '$7 >= t' all.txt | sort)" "$(sort after.txt)"
expect_eq "before $T" "$(awk -v t=$T '$6 < t' all.txt | sort)" "$(sort before.txt)"
# nots and ors around time conditions follow the same rule exactly: 'not
# before T' is 'after T', and an or with a time that matches nothing changes
# nothing
"$TAPVAULT" flows -s st --fields "$F" "not before $T" > notbefore.txt
expect_eq "not before $T" "$(sort after.txt)" "$(sort notbefore.txt)"
"$TAPVAULT" flows -s st --fields "$F" "before 1 or after $T" > orafter.txt
expect_eq "before 1 or after $T" "$(sort after.txt)" "$(sort orafter.txt)"
# export's flows.log holds the records flows writes for the same expression
# (columns srcaddr..end of the v2 format; a single store, nothing to merge)
EXPR="after $T and before $((e + 120)) and tcp"
"$TAPVAULT" flows -s st "$EXPR" | awk '{ print $4, $5, $6, $7, $8, $11, $12 }' | sort > f.txt
"$TAPVAULT" export -q -s st "$EXPR" -o case.tar.zst
tar --zstd -xf case.tar.zst flows.log
tail -n +2 flows.log | awk '{ print $4, $5, $6, $7, $8, $11, $12 }' | sort > x.txt
[ -s f.txt ] || fail "no record matches '$EXPR'"
cmp -s f.txt x.txt || { diff f.txt x.txt | head >&2; fail "flows and export disagree on '$EXPR'"; }
grep -qxF "$rec" f.txt || fail "the spanning record is missing from '$EXPR'"
echo "ok: $(wc -l < after.txt) after, $(wc -l < before.txt) before, $(wc -l < f.txt) in flows and export"
