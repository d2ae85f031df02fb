# Flow records of the real VXLAN and GENEVE captures in
# ../shared/testdata/pcap.  Per flow (VNI + innermost 5-tuple), packets and
# bytes from `tapvault flows` equal what tshark reports for the innermost IP
# header (bytes = ip.len, or ipv6.plen + 40), and the records parse as JSON.
. "$E2E_LIB"
need tshark; need python3
[ -d "$SHARED/pcap" ] || skip "shared testdata absent: $SHARED/pcap"
here=$(dirname "$E2E_LIB")
caps="suricata-verify-vxlan-decoder-03-vxlan.pcap suricata-verify-vxlan-decoder-01-input.pcap
      suricata-verify-geneve-decoder-input.pcap tcpdump-vxlan.pcap tcpdump-geneve.pcap tcpdump-geneve-gcp.pcap
      tcpdump-gso-ipv4-vxlan-ipv4.pcap tcpdump-gso-ipv4-geneve-ipv4.pcap tcpdump-gso-ipv6-vxlan-ipv6.pcap
      tcpdump-gso-ipv6-geneve-ipv6.pcap zeek-geneve.pcap zeek-geneve-47101.pcap zeek-geneve-ipv6.pcap
      zeek-geneve-many-options.pcap zeek-geneve-tagged-udp-packet.pcap zeek-geneve-inner-tcp-bad-checksum.pcap
      zeek-vxlan.pcap zeek-vxlan-encapsulated-http.pcap zeek-vxlan-inner-tcp-bad-checksum.pcap
      zeek-vxlan-overlapping-http-get.pcap zeek-vxlan-triple-v2.pcap zeek-vxlan-encapsulated-igmp-v2.pcap
      derived-suricata-verify-vxlan-decoder-03-snaplen96.pcap"
n=0; bad=0; absent=0
for b in $caps; do
  f=$SHARED/pcap/$b
  [ -f "$f" ] || { absent=$((absent+1)); echo "absent $b"; continue; }
  rm -rf st
  "$TAPVAULT" ingest -q -s st -r "$f" || fail "$b: ingest failed"
  "$TAPVAULT" flows -s st --format json \
    --fields 'pkt-srcaddr pkt-dstaddr srcport dstport protocol packets bytes start end' > got.json
  if python3 "$here/flows_tshark.py" "$f" got.json > cmp.txt; then
    n=$((n+1)); echo "ok $(tail -n 1 cmp.txt)"
  else
    bad=$((bad+1)); echo "MISMATCH $b:"; sed 's/^/  /' cmp.txt | head -20
  fi
done
echo "compared $n captures, $bad mismatches, $absent absent"
[ $n -ge 1 ] || skip "none of the listed captures is in $SHARED/pcap"
[ $bad -eq 0 ]
