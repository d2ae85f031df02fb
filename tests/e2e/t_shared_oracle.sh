# For every capture in ../shared/testdata/pcap that tshark
# reads without error, the packets tapvault stores per VNI and per innermost
# 5-tuple equal what tshark reports for the innermost layer.
#
# Captures whose innermost layer tapvault deliberately does not reach are
# listed with the reason; everything else must agree exactly.
. "$E2E_LIB"
need tshark; need python3
[ -d "$SHARED/pcap" ] || skip "shared testdata absent: $SHARED/pcap"
declare -A why=(
  [arkime-gre-erspan-vxlan.pcap]="GRE/ERSPAN is not decapsulated: stored as the outer frame"
  [suricata-verify-decode-erspan-typeII-01-input.pcap]="GRE/ERSPAN is not decapsulated"
  [arkime-ipv6-in-ipv4.pcap]="6in4 keeps the outer IPv4 header as the 5-tuple (protocol 41)"
  [tcpdump-mpls-over-udp.pcap]="MPLS over UDP is not a mirror tunnel"
  [tcpdump-nsh-over-vxlan-gpe.pcap]="VXLAN-GPE (4790) is not VXLAN; tshark's vxlan matches it"
  [arkime-icmp-frame-relay.pcap]="Frame Relay link type is dropped (counted)"
  [tcpdump-truncated-aack.pcap]="PPP link type is dropped (counted)"
  [tcpdump-bigtcp-ipv4-vxlan-ipv4.pcap]="BIG TCP outer length 0: tshark stops at the outer header, tapvault decapsulates"
  [tcpdump-bigtcp-ipv4-geneve-ipv6.pcap]="BIG TCP outer length 0: tshark stops at the outer header, tapvault decapsulates"
  [tcpdump-ipv6_frag6_negative_len.pcap]="IPv6 fragment header cut by the capture: tshark calls it malformed and reports protocol 44, tapvault reads the next-header byte that is there (2)"
)
n=0; bad=0; skipped=0
for f in "$SHARED"/pcap/*.pcap "$SHARED"/pcap/*.pcapng; do
  b=$(basename "$f")
  tshark -r "$f" >/dev/null 2>tshark.err || true
  if grep -v "^Running as user" tshark.err | grep -q .; then
    echo "skip $b: tshark reports a read error"; skipped=$((skipped+1)); continue
  fi
  if [ -n "${why[$b]:-}" ]; then echo "skip $b: ${why[$b]}"; skipped=$((skipped+1)); continue; fi
  rm -rf st
  "$TAPVAULT" ingest -q -s st -r "$f" || fail "$b: ingest failed"
  "$TAPVAULT" query -s st --format json > got.json
  if python3 "$(dirname "$E2E_LIB")/tshark_oracle.py" "$f" got.json > cmp.txt; then
    n=$((n+1)); tail -n 1 cmp.txt
  else
    bad=$((bad+1)); echo "MISMATCH $b:"; sed 's/^/  /' cmp.txt | head -20
  fi
done
echo "compared $n captures, $bad mismatches, $skipped not compared"
[ $n -ge 30 ] || fail "too few captures compared ($n)"
[ $bad -eq 0 ]
