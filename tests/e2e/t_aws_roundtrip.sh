# The real AWS VPC Traffic Mirroring capture.  For each
# expression, `tapvault query EXPR -w` must give the same packets, byte for
# byte and in the same order, as tcpdump filtering the capture decapsulated
# by `editcap -C 50` (a 50-byte IPv4/UDP/VXLAN outer header).
. "$E2E_LIB"
need tcpdump; need editcap
aws=$SHARED/pcap/suricata-verify-vxlan-decoder-03-vxlan.pcap
[ -f "$aws" ] || skip "shared testdata absent: $aws"
editcap -F pcap -C 50 "$aws" inner.pcap
"$TAPVAULT" ingest -q -s st -r "$aws"
# after/before: editcap -A/-B is the oracle for time bounds (>= A, < B).
t1=1561644078.258218   # an SSH packet
t2=1561644090
check() { # NAME TAPVAULT-EXPR TCPDUMP-EXPR [EDITCAP-ARGS]
  local name=$1 texpr=$2 dexpr=$3; shift 3
  "$TAPVAULT" query -s st "$texpr" -w got.pcap
  if [ $# -gt 0 ]; then editcap -F nsecpcap "$@" inner.pcap win.pcap; src=win.pcap; else src=inner.pcap; fi
  tcpdump --time-stamp-precision=nano -r "$src" -w want.pcap "$dexpr" 2>/dev/null
  pcap_text got.pcap > got.txt; pcap_text want.pcap > want.txt
  n=$(grep -c '^[0-9]' want.txt || true)
  cmp -s got.txt want.txt || { diff got.txt want.txt | head -20 || true; fail "$name: packets differ"; }
  echo "ok $name: $n packets identical"
  [ "$n" -gt 0 ] || [ "$name" = empty ] || fail "$name: the oracle selected nothing; the test would prove nothing"
}
check host          'host 18.196.145.224'                       'host 18.196.145.224'
check host-port     'host 172.31.0.238 and port 22'             'host 172.31.0.238 and port 22'
check dns           'udp and port 53'                           'udp and port 53'
check or            'port 123 or dst host 172.31.0.2'           'port 123 or dst host 172.31.0.2'
check not           'host 172.31.0.238 and not tcp'             'host 172.31.0.238 and not tcp'
check src-net       'src net 18.196.0.0/16 and tcp'             'src net 18.196.0.0/16 and tcp'
check paren         '(port 53 or port 123) and src host 172.31.0.238' '(port 53 or port 123) and src host 172.31.0.238'
check after         "port 22 and after $t1"                     'port 22'   -A "$t1"
check window        "after $t1 and before $t2"                  ''          -A "$t1" -B "$t2"
check rfc3339       'after 2019-06-27T14:01:30Z and not port 22' 'not port 22' -A 1561644090
check all           ''                                           ''
check empty         'host 192.0.2.1'                             'host 192.0.2.1'
# tcpdump's forms (pcap-filter(7)) with tcpdump's meaning: protocol
# qualifiers, proto after ip, service names.
check tcp-port      'tcp port 22'                               'tcp port 22'
check udp-dst-port  'udp dst port 53'                           'udp dst port 53'
check ip-proto      'ip proto 17'                               'ip proto 17'
check ip-proto-name 'ip proto \udp'                             'ip proto \udp'
check port-ssh      'port ssh'                                  'port ssh'
check port-domain   'port domain'                               'port domain'
check port-ntp      'udp port ntp'                              'udp port ntp'
check ip-host       'ip host 172.31.0.2'                        'ip host 172.31.0.2'
check ip-src-net    'ip src net 18.196.0.0/16'                  'ip src net 18.196.0.0/16'
check tcp-range     'tcp dst portrange ssh-http'                'tcp dst portrange ssh-http'
# and before or here; tcpdump needs the parentheses to read it so
check and-or        'udp or host 18.196.145.224 and src port 37180' 'udp or (host 18.196.145.224 and src port 37180)'
