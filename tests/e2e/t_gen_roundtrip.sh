# Query output equals tcpdump on
# the decapsulated capture (the generator's inner capture, and editcap -C 50
# of the outer capture, which must agree with each other first).
. "$E2E_LIB"
need tcpdump; need editcap
gen_small 11
# times and bytes must agree; the original length differs for truncated
# mirror copies, where editcap keeps the cut length and the generator (like
# tapvault) the true length from the inner IP header
editcap -F nsecpcap -C 50 outer.pcap stripped.pcap
pcap_text stripped.pcap | awk '/^[0-9]/{print $1; next} {print}' > a.txt
pcap_text inner.pcap | awk '/^[0-9]/{print $1; next} {print}' > b.txt
cmp -s a.txt b.txt || fail "generator: inner capture differs from editcap -C 50 of the outer capture"
"$TAPVAULT" ingest -q -s st -r outer.pcap
total=$(pcap_text inner.pcap | grep -c '^[0-9]')
expect_eq "stored packet count" "$total" "$("$TAPVAULT" query -s st --format count)"
# addresses from the ground truth: the busiest flow
read -r src dst sport dport proto <<<"$(awk -F, 'NR>1 && $7==6 {print $8, $3, $4, $5, $6, $7}' truth.csv | sort -rn | head -1 | cut -d' ' -f2-)"
first=$(pcap_text inner.pcap | awk '/^[0-9]/{print $1}' | sed -n '200p')
last=$(pcap_text inner.pcap | awk '/^[0-9]/{print $1}' | sed -n '900p')
check() {
  local name=$1 texpr=$2 dexpr=$3; shift 3
  "$TAPVAULT" query -s st "$texpr" -w got.pcap
  if [ $# -gt 0 ]; then editcap -F nsecpcap "$@" inner.pcap win.pcap; s=win.pcap; else s=inner.pcap; fi
  tcpdump --time-stamp-precision=nano -r "$s" -w want.pcap "$dexpr" 2>/dev/null
  pcap_text got.pcap > got.txt; pcap_text want.pcap > want.txt
  n=$(grep -c '^[0-9]' want.txt || true)
  cmp -s got.txt want.txt || { diff got.txt want.txt | head || true; fail "$name: packets differ"; }
  [ "$n" -gt 0 ] || fail "$name: oracle selected nothing"
  echo "ok $name: $n packets identical"
}
check host      "host $src"                          "host $src"
check hostport  "host $dst and port $dport"          "host $dst and port $dport"
check tcp-not   "tcp and not port $dport"            "tcp and not port $dport"
# tapvault gives later IP fragments the ports of their datagram's first
# fragment (as flow records count them); tcpdump's `port` never matches a
# later fragment.  The generator's only fragmented UDP is a DNS response, so
# the oracle adds later UDP fragments explicitly.
check udp-or    "udp and (port 53 or port 123)"      "udp and (port 53 or port 123) or (udp and ip[6:2] & 0x1fff != 0)"
check icmp      "icmp"                               "icmp"
check ip6       "ip6 and tcp"                        "ip6 and tcp"
check window    "after $first and before $last"      ""    -A "$first" -B "$last"
# tcpdump's forms (pcap-filter(7)) with tcpdump's meaning.  The generated
# capture has IPv6 (from 2600:1f18::/32) and ICMPv6; later UDP fragments are
# DNS, as above.
frag='(udp and ip[6:2] & 0x1fff != 0)'
check tcp-port     "tcp port 443"                        "tcp port 443"
check udp-dst      "udp dst port 53"                     "udp dst port 53"
check ip-proto     "ip proto 6"                          "ip proto 6"
check ip6-proto    "ip6 proto 58"                        "ip6 proto 58"
check port-domain  "port domain"                         "port domain or $frag"
check port-ssh     "port ssh"                            "port ssh"
check ip-host      "ip host $dst"                        "ip host $dst"
check ip6-net      "ip6 net 2600:1f18::/32"              "ip6 net 2600:1f18::/32"
check ip6-tcp-port "ip6 and tcp src port https"          "ip6 and tcp src port https"
check and-or       "udp or host $dst and port $dport"    "udp or (host $dst and port $dport)"
# The grouping note: on stderr for every command that parses an
# expression from its arguments, never with -q, never on stdout.
note="note: read as (udp) or (host $dst and port $dport); tcpdump reads 'and'/'or' left to right at equal precedence: ((udp or host $dst) and port $dport)"
"$TAPVAULT" query -s st --format count "udp or host $dst and port $dport" >out.txt 2>err.txt
grep -qxF "tapvault query: $note" err.txt || { cat err.txt; fail "query: no grouping note"; }
grep -q note out.txt && fail "query: the note went to stdout"
"$TAPVAULT" query -q -s st --format count "udp or host $dst and port $dport" >out.txt 2>err.txt
[ -s err.txt ] && { cat err.txt; fail "query -q: printed a note"; }
"$TAPVAULT" query -s st --format count "udp or (host $dst and port $dport)" >out.txt 2>err.txt
[ -s err.txt ] && { cat err.txt; fail "query: a note for a parenthesised expression"; }
"$TAPVAULT" flows -s st "udp or host $dst and port $dport" >out.txt 2>err.txt
grep -qxF "tapvault flows: $note" err.txt || { cat err.txt; fail "flows: no grouping note"; }
"$TAPVAULT" export -s st -o case.tar.zst "udp or host $dst and port $dport" >out.txt 2>err.txt
grep -qxF "tapvault export: $note" err.txt || { cat err.txt; fail "export: no grouping note"; }
echo "ok grouping note on query, flows and export"
