# `flows` and `audit` without --vni-map use the copies of the VNI maps that
# live ingest keeps in STORE/vnimap/ (README "ingest", --vni-map): the records
# carry the map's ENI and account as with --vni-map, and stderr names the
# copies used.  A store without copies is unchanged (no account, "vni-N" for
# the interface, no note).
. "$E2E_LIB"
. "$(dirname "$E2E_LIB")/live_lib.sh"
"$GEN" --seed 3 --flows 40 --outer o.pcap --truth t.csv >/dev/null
vni=$(awk -F, 'NR == 2 { print $1 }' t.csv)
cat > map.txt <<M
vni=$vni eni=eni-0a1b2c3d4e5f60789 account=111122223333 region=eu-west-1
M
live_start st --vni-map map.txt --seal-interval 200ms
"$TAPVAULT" replay o.pcap --to "127.0.0.1:$LIVE_PORT" --pps 20000 --max-seconds 20 >/dev/null
sleep 1
live_stop
[ -f st/vnimap/map.txt ] || fail "ingest kept no copy of the map"

fields="account-id interface-id srcaddr dstaddr packets"
"$TAPVAULT" flows -s st --vni-map map.txt --fields "$fields" "vni $vni" > given.txt
"$TAPVAULT" flows -s st --fields "$fields" "vni $vni" > default.txt 2> default.err
[ -s given.txt ] || fail "no records for vni $vni"
grep -q '^111122223333 eni-0a1b2c3d4e5f60789 ' default.txt ||
  fail "records without --vni-map lack the stored map's values: $(head -n 2 default.txt)"
cmp -s given.txt default.txt || fail "records differ from those with --vni-map given: $(diff given.txt default.txt | head -n 4)"
grep -q "using the VNI maps kept in st/vnimap: map.txt" default.err || fail "no note naming the copies: $(cat default.err)"

# audit: the same map reaches the report
"$TAPVAULT" flows -s st --vni-map map.txt --header > fl.log
"$TAPVAULT" audit -s st --no-payload -o default.json --flow-logs fl.log >/dev/null 2> audit.err
grep -q 'eni-0a1b2c3d4e5f60789' default.json || fail "audit without --vni-map does not know the stored map"
grep -q "using the VNI maps kept in st/vnimap" audit.err || fail "audit: no note: $(cat audit.err)"

# a store without copies: nothing changes
"$TAPVAULT" ingest -q -s plain -r o.pcap
"$TAPVAULT" flows -s plain --fields "$fields" "vni $vni" > plain.txt 2> plain.err
awk '$1 != "-" || $2 !~ /^vni-/ { exit 1 }' plain.txt || fail "a store without maps got map values"
[ ! -s plain.err ] || fail "unexpected stderr: $(cat plain.err)"
echo "ok: $(wc -l < default.txt) records with the stored map"

# several stores: none of their kept maps is used (a VNI may stand for other
# interfaces in each store), and a note says so
"$TAPVAULT" flows -s st -s plain --fields "$fields" "vni $vni" > two.txt 2> two.err
grep -q "2 stores: the VNI maps kept in them are not used" two.err || fail "no note with two stores: $(cat two.err)"
grep -q 'eni-0a1b2c3d4e5f60789' two.txt && fail "two stores: one store's kept map labelled the records"

# a bad kept copy is named as such, with --vni-map as the way out
printf 'vni=notanumber eni=eni-1\n' > st/vnimap/zz-bad.txt
expect_exit 2 "$TAPVAULT" flows -s st "vni $vni"
grep -q "st/vnimap/zz-bad.txt:1" err.txt || fail "the bad copy is not named: $(cat err.txt)"
grep -q "a VNI map kept in the store; --vni-map replaces them" err.txt || fail "no way out named: $(cat err.txt)"
rm st/vnimap/zz-bad.txt
echo "ok: several stores, and a bad kept copy"
