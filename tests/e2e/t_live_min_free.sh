# The free space live ingest keeps is measured on the store's own file
# system, not on the directory it was started from.  Started from / into a
# small tmpfs it stores packets (the default keeps the smaller of 1 GiB and
# 5 % of the tmpfs free); when the tmpfs fills it stops storing, counts what
# it does not store, says how much it keeps free on which file system (and
# names --min-free only when given); once space is freed it stores again.
. "$E2E_LIB"
. "$(dirname "$E2E_LIB")/live_lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root to mount a tmpfs"
mkdir mnt
mount -t tmpfs -o size=32m tmpfs mnt 2>/dev/null || skip "cannot mount a tmpfs here"
trap 'if [ -n "${LIVE_PID:-}" ]; then kill -9 "$LIVE_PID" 2>/dev/null || true; fi; umount -l "$PWD/mnt" 2>/dev/null || true' EXIT
"$GEN" --seed 21 --flows 100 --outer live.pcap >/dev/null
st="$PWD/mnt/st"
count() { "$TAPVAULT" query -s "$st" --format count; }
LIVE_CWD=/ live_start "$st" --seal-interval 200ms
"$TAPVAULT" replay live.pcap --to "127.0.0.1:$LIVE_PORT" --pps 20000 --count 1000 >/dev/null
sleep 1.5
n1=$(count)
[ "$n1" -gt 0 ] || { cat ingest.err; fail "nothing stored on a 32 MiB tmpfs (free space measured elsewhere?)"; }
echo "stored $n1 of 1000 from /"
# fill the tmpfs: less than the 5 % (1.6 MiB) it keeps stays free
avail=$(df -B1 --output=avail mnt | tail -1)
fallocate -l $((avail - 512 * 1024)) mnt/fill
"$TAPVAULT" replay live.pcap --to "127.0.0.1:$LIVE_PORT" --pps 20000 --count 1000 >/dev/null
sleep 1.5
expect_eq "nothing stored on a full file system" "$n1" "$(count)"
grep -q "not storing: keeping 1.60 MiB free on tmpfs at $PWD/mnt (the file system of $st), the default: the smaller of 1 GiB and 5% of its 32.00 MiB; .* free now; [0-9]* packets not stored so far" ingest.err ||
  { cat ingest.err; fail "no clear message about the space kept free"; }
grep -q -- "--min-free" ingest.err && fail "--min-free named although not given: $(cat ingest.err)"
# space again: storing resumes
rm mnt/fill
"$TAPVAULT" replay live.pcap --to "127.0.0.1:$LIVE_PORT" --pps 20000 --count 1000 >/dev/null
sleep 1.5
n3=$(count)
[ "$n3" -gt "$n1" ] || { cat ingest.err; fail "storing did not start again after space was freed ($n1 -> $n3)"; }
grep -q "storing again" ingest.err || fail "no note that storing started again: $(cat ingest.err)"
live_stop
"$TAPVAULT" stats -s "$st" --format json > stats.json
nospace=$(json_field stats.json live/no_space)
[ "$nospace" -gt 0 ] || fail "packets not stored were not counted"
expect_eq "stored + not stored" "$(json_field stats.json live/received)" "$(( $(count) + nospace ))"
expect_exit 0 "$TAPVAULT" verify -s "$st"
# an explicit --min-free is named
LIVE_CWD=/ live_start "$st" --seal-interval 200ms --min-free 32M
"$TAPVAULT" replay live.pcap --to "127.0.0.1:$LIVE_PORT" --pps 20000 --count 200 >/dev/null
sleep 1.5
live_stop
grep -q "keeping 32.00 MiB free on tmpfs at .*, as --min-free asks" ingest.err || fail "no --min-free message: $(cat ingest.err)"
echo "ok min-free on the store's file system: $n1 stored from /, $nospace refused when full, $n3 after space came back"
