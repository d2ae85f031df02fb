# `tapvault demo` in a temporary folder; every artefact
# it announces exists and verifies, and it finishes well under a minute.
. "$E2E_LIB"
start=$(date +%s)
"$TAPVAULT" demo demo > demo.txt 2>&1 || { cat demo.txt; fail "demo failed"; }
secs=$(( $(date +%s) - start ))
[ "$secs" -lt 60 ] || fail "demo took ${secs}s"
grep -q "^# done in" demo.txt || fail "demo did not finish"
# every step is printed as the command a user would type
steps=$(grep -c '^\$ tapvault ' demo.txt)
[ "$steps" -ge 12 ] || fail "only $steps commands shown"
# every announced artefact exists
n=0
while read -r path; do
  [ -e "$path" ] || fail "announced artefact missing: $path"
  n=$((n+1))
done < <(sed -n '/^# done in/,$p' demo.txt | awk '/^#   /{print $2}')
[ "$n" -ge 8 ] || fail "only $n artefacts announced"
expect_exit 0 "$TAPVAULT" verify -s demo/store
expect_exit 0 "$TAPVAULT" verify demo/case-demo.tar.zst -s demo/store
expect_exit 0 "$TAPVAULT" custody -s demo/store
python3 -c 'import json,sys; d=json.load(open("demo/audit.json")); assert d' || fail "audit.json does not parse"
grep -q "</html>" demo/audit.html || fail "audit.html incomplete"
ls demo/s3/AWSLogs/*/vpcflowlogs/*/*/*/*/*.log.gz >/dev/null || fail "no S3 files"
n443=$(grep -c ' > .*\.443: TCP\| 443 > ' demo.txt || true)
# the demo's query results are real: the pcap holds packets tcpdump reads
cnt=$(tcpdump -r demo/ssh.pcap 2>/dev/null | wc -l)
[ "$cnt" -gt 10 ] || fail "ssh.pcap has $cnt packets"
# a second run reuses the folder it made
"$TAPVAULT" demo demo > demo2.txt 2>&1 || { cat demo2.txt; fail "second demo run failed"; }
# and refuses a folder it did not make
mkdir other; echo x > other/file
expect_exit 2 "$TAPVAULT" demo other
echo "demo: $steps commands, $n artefacts, ${secs}s"
