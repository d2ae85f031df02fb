# IPv6 with payload length 0 is 40 bytes, whatever Ethernet padding follows:
# an untunnelled frame of 54 bytes padded to 60 (next header 99) is one
# packet of ip_len 40 and one flow of 40 bytes, as tshark counts it.
. "$E2E_LIB"
need python3
here=$(dirname "$E2E_LIB")
python3 "$here/pcapgen.py" v6plen0 p.pcap
"$TAPVAULT" ingest -q -s st -r p.pcap
"$TAPVAULT" query -s st --format json > q.json
expect_eq "ip_len" 40 "$(python3 -c 'import json; print(json.loads(open("q.json").readline())["ip_len"])')"
expect_eq "caplen" 60 "$(python3 -c 'import json; print(json.loads(open("q.json").readline())["caplen"])')"
"$TAPVAULT" flows -s st --format json \
  --fields 'pkt-srcaddr pkt-dstaddr srcport dstport protocol packets bytes start end' > f.json
expect_eq "flow records" 1 "$(wc -l < f.json)"
expect_eq "flow bytes" 40 "$(python3 -c 'import json; print(json.loads(open("f.json").readline())["bytes"])')"
if command -v tshark >/dev/null 2>&1; then
  python3 "$here/flows_tshark.py" p.pcap f.json
fi
echo "ok: IPv6 payload length 0 counts 40 bytes"
