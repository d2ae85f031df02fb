# tv-gen's enterprise profile (the benchmark's capture) at a test size: the
# same seed gives the same bytes; the inner capture is the outer one
# decapsulated; tapvault's flow records equal the truth; the named hosts'
# totals equal what tcpdump counts for them; and a --relabel copy has the
# same packets under addresses (and a DNS port) the original never uses, so
# the hosts' queries on original + copy return exactly the original's packets.
. "$E2E_LIB"
need tcpdump; need editcap; need python3
here=$(dirname "$E2E_LIB")
args=(--profile enterprise --bytes 16M --duration 60)
"$GEN" "${args[@]}" --outer outer.pcap --inner inner.pcap --truth truth.csv --hosts hosts.csv --summary > sum.txt
"$GEN" "${args[@]}" --outer again.pcap --truth again.csv --hosts again_hosts.csv > /dev/null
cmp -s outer.pcap again.pcap && cmp -s truth.csv again.csv && cmp -s hosts.csv again_hosts.csv ||
  fail "the same seed gave different output"
grep -q '^profile=enterprise$' sum.txt || fail "summary: no profile line"
[ "$(awk -F= '$1=="vnis" {print $2}' sum.txt)" = 6 ] || fail "summary: not 6 VNIs"
editcap -F nsecpcap -C 50 outer.pcap stripped.pcap
cmp -s <(pcap_text stripped.pcap) <(pcap_text inner.pcap) || fail "inner capture differs from editcap -C 50 of the outer one"
total=$(awk -F= '$1=="packets" {print $2}' sum.txt)
echo "ok: $total packets, deterministic, inner = outer decapsulated"

# flow records against the truth
fields='version interface-id pkt-srcaddr pkt-dstaddr srcport dstport protocol packets bytes start end tcp-flags'
"$TAPVAULT" ingest -q -s st -r outer.pcap
"$TAPVAULT" flows -s st --format json --fields "$fields" > flows.json
python3 "$here/flows_truth.py" truth.csv flows.json 600 > cmp.txt || { head -40 cmp.txt; fail "flow records differ from the truth"; }
echo "ok flows: $(tail -n 1 cmp.txt)"

# the profile's shape: 10 % IPv6 flows, TLS/HTTP/UDP bytes near 60/30/10
python3 - truth.csv <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
by = {}
for r in rows:
    by[r["app"]] = by.get(r["app"], 0) + int(r["bytes"])
tot = sum(by.values())
tls, http = by.get("tls", 0) / tot, by.get("http", 0) / tot
udp = sum(by.get(a, 0) for a in ("dns", "ntp", "syslog", "statsd")) / tot
v6 = sum(":" in r["src"] for r in rows) / len(rows)
pk = sorted(int(r["packets"]) for r in rows)
print("TLS %.3f HTTP %.3f UDP %.3f, IPv6 %.3f of flows, median %d packets" % (tls, http, udp, v6, pk[len(pk) // 2]))
assert 0.5 < tls < 0.7 and 0.2 < http < 0.4 and 0.05 < udp < 0.15, by
assert 0.07 < v6 < 0.13, v6
assert 4 <= pk[len(pk) // 2] <= 8, pk[len(pk) // 2]
PY

# the named hosts: their totals, their traffic, and tapvault's answer
while IFS=, read -r role addr packets bytes flows first last; do
  [ "$role" = role ] && continue
  n=$(tcpdump -n -r inner.pcap "host $addr" 2>/dev/null | wc -l)
  expect_eq "$role $addr: packets (tcpdump)" "$packets" "$n"
  [ "$n" -gt 0 ] || fail "$role has no packets"
  "$TAPVAULT" query -s st "host $addr" -w "q_$role.pcap"
  cmp -s <(pcap_text "q_$role.pcap") <(tcpdump --time-stamp-precision=nano -r inner.pcap -w - "host $addr" 2>/dev/null | pcap_text -) ||
    fail "$role: tapvault's 'host $addr' differs from tcpdump's"
  case $role in
    beacon) # a 7-packet connection every 15 s: 60 s hold 4
      expect_eq "beacon connections" 4 $((flows / 2)); expect_eq "beacon packets" 28 "$packets" ;;
    server) python3 -c "import sys; assert 0.05 < $packets / $total < 0.2, 'server share'" ;;
    client) [ "$flows" -ge 20 ] || fail "client: only $flows flows" ;;
  esac
  echo "ok $role $addr: $packets packets in $flows flows"
done < hosts.csv

# a relabelled copy, one hour later
"$GEN" "${args[@]}" --relabel 1 --start 1764003600 --outer copy.pcap --inner copy_in.pcap --truth copy.csv --summary > copy_sum.txt
expect_eq "copy: packets" "$total" "$(awk -F= '$1=="packets" {print $2}' copy_sum.txt)"
expect_eq "copy: inner bytes" "$(stat -c %s inner.pcap)" "$(stat -c %s copy_in.pcap)"
python3 - truth.csv copy.csv <<'PY'
import csv, sys
def addrs(p):
    s = set()
    for r in csv.DictReader(open(p)):
        s.add(r["src"]); s.add(r["dst"])
    return s
a, b = addrs(sys.argv[1]), addrs(sys.argv[2])
common = a & b
print("%d addresses in the original, %d in the copy, %d in both" % (len(a), len(b), len(common)))
assert len(a) == len(b) and not common, sorted(common)[:5]
PY
[ "$(tcpdump -n -r copy_in.pcap 'port 53' 2>/dev/null | wc -l)" = 0 ] || fail "copy: port 53 traffic"
"$TAPVAULT" ingest -q -s st -r copy.pcap
for role in beacon client server; do
  addr=$(awk -F, -v r=$role '$1 == r {print $2}' hosts.csv)
  "$TAPVAULT" query -s st "host $addr" -w "q2_$role.pcap"
  cmp -s "q_$role.pcap" "q2_$role.pcap" || fail "$role: original + copy answers differ from the original alone"
done
"$TAPVAULT" query -s st "port 53" -w q2_dns.pcap
cmp -s <(pcap_text q2_dns.pcap) <(tcpdump --time-stamp-precision=nano -r inner.pcap -w - "port 53" 2>/dev/null | pcap_text -) ||
  fail "port 53 on original + copy differs from tcpdump on the original"
echo "ok copy: same packets, disjoint addresses; host and port 53 queries unchanged"
