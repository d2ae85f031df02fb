# Times at and after 2^31 seconds (2038-01-19T03:14:08Z): the pcap seconds
# field is unsigned.  Two identical TCP SYN frames at 2147483647.5 s and
# 2147483648.5 s are stored at those times, in that order, are one flow
# record of 2 packets, and `query -w` writes the same seconds back.
. "$E2E_LIB"
need python3
here=$(dirname "$E2E_LIB")
python3 "$here/pcapgen.py" y2038 y.pcap
"$TAPVAULT" ingest -q -s st -r y.pcap
"$TAPVAULT" query -s st --format json > q.json
got=$(python3 -c 'import json; print(" ".join(json.loads(l)["ts"] for l in open("q.json")))')
expect_eq "query times" "2038-01-19T03:14:07.500000000Z 2038-01-19T03:14:08.500000000Z" "$got"
"$TAPVAULT" query -s st 'after 2038-01-19T03:14:08Z' --format count > n.txt
expect_eq "after 2^31 s" 1 "$(cat n.txt)"
"$TAPVAULT" query -s st -w out.pcap
got=$(python3 -c '
import sys; sys.path.insert(0, sys.argv[1])
from pcapgen import read_pcap
print(" ".join(str(t) for t, d, o in read_pcap("out.pcap")))' "$here")
expect_eq "query -w times (ns)" "2147483647500000000 2147483648500000000" "$got"
"$TAPVAULT" flows -s st --format json --fields 'srcport dstport protocol packets start end' > f.json
expect_eq "flow records" 1 "$(wc -l < f.json)"
got=$(python3 -c 'import json; r = json.loads(open("f.json").readline()); print(r["packets"], r["start"], r["end"])')
expect_eq "flow record" "2 2147483647 2147483648" "$got"
echo "ok: times past 2^31 s stay unsigned"
