# `flows` and `audit` without --vni-map use the copies of the VNI maps that
# ingest keeps in STORE/vnimap/ (README "ingest", --vni-map): the records
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

# file ingest given --vni-map keeps a copy as live ingest does, and flows
# without --vni-map then labels the records with it
"$TAPVAULT" ingest -q -s filest --vni-map map.txt -r o.pcap
[ -f filest/vnimap/map.txt ] || fail "file ingest given --vni-map kept no copy of the map"
"$TAPVAULT" flows -s filest --vni-map map.txt --fields "$fields" "vni $vni" > fgiven.txt
"$TAPVAULT" flows -s filest --fields "$fields" "vni $vni" > fdefault.txt
grep -q '^111122223333 eni-0a1b2c3d4e5f60789 ' fdefault.txt ||
  fail "file ingest: records without --vni-map lack the kept map's values: $(head -n 2 fdefault.txt)"
cmp -s fgiven.txt fdefault.txt || fail "file ingest: records differ from those with --vni-map given"
echo "ok: file ingest keeps the map ($(wc -l < fdefault.txt) records)"

# live ingest copies the map before it opens the store: on a store with a
# torn tail (a crashed writer's), the copy is made before the recovery that
# opening the store does, so no packet is ever stored without its map
cp -r filest rec
seg=$(ls rec/segments/*.tvs | tail -n 1)
head -c 4096 /dev/zero >> "$seg"
sed 's/111122223333/444455556666/' map.txt > map2.txt
mkdir other && sed 's/111122223333/999999999999/' map.txt > other/map.txt
live_start rec --vni-map map2.txt
# both notes come after "listening on" (live_start returns there): wait for them
for _ in $(seq 1 100); do
  grep -q 'rec: recovered after an interrupted run' ingest.err && break
  sleep 0.1
done
copied=$(grep -n 'VNI map map2.txt copied to rec/vnimap/map2.txt' ingest.err | cut -d: -f1 || true)
recovered=$(grep -n 'rec: recovered after an interrupted run' ingest.err | cut -d: -f1 || true)
[ -n "$copied" ] && [ -n "$recovered" ] || fail "missing notes: $(cat ingest.err)"
[ "$copied" -lt "$recovered" ] || fail "the map was copied after the store was opened: $(cat ingest.err)"
# a second ingest of the running store is refused and leaves its copies alone
expect_exit 3 "$TAPVAULT" ingest -q -s rec --vni-map other/map.txt -r o.pcap
grep -q 'LOCK is held' err.txt || fail "the second ingest does not say the store is locked: $(cat err.txt)"
[ ! -e rec/vnimap/map.txt ] || cmp -s rec/vnimap/map.txt map.txt ||
  fail "a refused ingest replaced the running one's copy"
live_stop
cmp -s rec/vnimap/map2.txt map2.txt || fail "the kept copy differs from map2.txt"
echo "ok: live ingest copies the map before it opens the store"

# a map that is not a VNI map, or not a regular file, is refused before
# anything is copied or stored: the file and the line are named, exit 2,
# and a FIFO does not hang the start
printf 'garbage\n' > bad.txt
expect_exit 2 timeout 20 "$TAPVAULT" ingest -q -s badst --vni-map bad.txt -r o.pcap
grep -q 'bad.txt:1:' err.txt || fail "a bad map is not named with its line: $(cat err.txt)"
[ ! -e badst ] || fail "a refused ingest created the store"
mkfifo fifo.map
expect_exit 2 timeout 20 "$TAPVAULT" ingest -q -s badst --vni-map fifo.map -r o.pcap
grep -q 'fifo.map: not a regular file' err.txt || fail "a FIFO map is not refused as such: $(cat err.txt)"
[ ! -e badst ] || fail "a refused ingest created the store"
echo "ok: bad and FIFO maps refused before anything is stored"
