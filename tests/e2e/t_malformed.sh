# The malformed captures of ../shared/testdata/pcap
# ingest without a crash, and their rejects are counted under the right
# reasons (INVENTORY.md says what each one is).
. "$E2E_LIB"
[ -d "$SHARED/pcap" ] || skip "shared testdata absent: $SHARED/pcap"
# file | counters that must be exactly this (name=value ...)
cases=(
  "tcpdump-ipv4_invalid_hdr_length.pcap|decap.not_tunnelled=1 decap.ipv4.bad_header=1 inner.malformed=1 store.packets=1"
  "tcpdump-ipv4_invalid_length.pcap|decap.ipv4.truncated=1 inner.truncated=1 store.packets=1"
  "tcpdump-ipv4_invalid_total_length.pcap|decap.ipv4.bad_length=1 inner.truncated=1 store.packets=1"
  "tcpdump-udp-length-heapoverflow.pcap|decap.udp.truncated=1 inner.truncated=1 inner.cut_short=1 store.packets=1"
  "tcpdump-tcp_header_heapoverflow.pcap|inner.truncated=1 inner.cut_short=1 store.packets=1"
  "tcpdump-ip6_frag_asan.pcap|decap.ipv6.truncated=1 inner.truncated=1 store.packets=1"
  "zeek-geneve-truncated.pcapng|decap.geneve.packets=1 inner.truncated=1 inner.cut_short=1 store.packets=1"
  "zeek-geneve-vxlan-dns-truncated.pcap|decap.geneve_vxlan.packets=2 inner.truncated=2 store.packets=2"
  "derived-suricata-verify-vxlan-decoder-03-snaplen96.pcap|decap.vxlan.packets=100 inner.cut_short=100 store.packets=100"
  "arkime-icmp-frame-relay.pcap|source.unsupported_linktype=10 store.packets=0"
  "tcpdump-truncated-aack.pcap|source.unsupported_linktype=1 store.packets=0"
  "tcpdump-nsh-over-vxlan-gpe.pcap|decap.not_tunnelled=1 store.packets=1"
  "arkime-xid.pcap|decap.not_tunnelled=2 inner.not_ip=2 store.packets=2"
  "tcpdump-empty.pcapng|store.packets=0"
)
for c in "${cases[@]}"; do
  f=${c%%|*}; want=${c#*|}
  [ -f "$SHARED/pcap/$f" ] || fail "missing $f"
  rm -rf st
  set +e; "$TAPVAULT" ingest -q -s st -r "$SHARED/pcap/$f" 2>err.txt; rc=$?; set -e
  [ $rc -eq 0 ] || { cat err.txt; fail "$f: ingest exited $rc"; }
  "$TAPVAULT" stats -s st --format json > stats.json
  for kv in $want; do
    k=${kv%=*}; v=${kv#*=}
    got=$(python3 -c 'import json,sys; print(json.load(open("stats.json"))["counters"].get(sys.argv[1], 0))' "$k")
    expect_eq "$f $k" "$v" "$got"
  done
  expect_exit 0 "$TAPVAULT" verify -s st
  echo "ok $f: $want"
done
# and every other capture of the folder ingests without a crash
n=0
for f in "$SHARED"/pcap/*; do
  rm -rf st
  set +e; "$TAPVAULT" ingest -q -s st -r "$f" 2>err.txt; rc=$?; set -e
  case $rc in 0) ;; 2) grep -q "$(basename "$f")" err.txt || fail "$f: exit 2 without naming the file";; *) cat err.txt; fail "$f: exit $rc";; esac
  n=$((n+1))
done
echo "all $n captures ingested without a crash"
