# A pcapng whose interfaces differ in link type and snap length (what
# mergecap writes for captures from different links) is read whole: every
# interface with its own link type and snap length.  Per VNI and per
# innermost 5-tuple, the packets stored equal what tshark reads.
. "$E2E_LIB"
need python3; need tshark; need mergecap; need editcap
here=$(dirname "$E2E_LIB")
gen_small 11                                    # Ethernet, VXLAN, microseconds
python3 "$here/pcapgen.py" sll sll.pcap          # Linux cooked, nanoseconds
editcap -s 96 outer.pcap cut.pcap >/dev/null     # Ethernet, snap length 96
mergecap -F pcapng -w mixed.pcapng outer.pcap sll.pcap cut.pcap
ifaces=$(capinfos -I mixed.pcapng 2>/dev/null | grep -c 'Encapsulation = ' || true)
[ "$ifaces" -ge 2 ] || fail "mergecap wrote $ifaces interface description(s)"
want=$(tshark -r mixed.pcapng 2>/dev/null | wc -l)
"$TAPVAULT" ingest -s st -r mixed.pcapng -v > sum.txt 2> err.txt || { cat err.txt; fail "ingest refused mixed.pcapng"; }
expect_eq "packets stored" "$want" "$("$TAPVAULT" query -s st --format count)"
"$TAPVAULT" query -s st --format json > got.json
python3 "$here/tshark_oracle.py" mixed.pcapng got.json
# the shared captures too, when they are there: Ethernet + Linux cooked
if [ -d "$SHARED/pcap" ]; then
  mergecap -F pcapng -w shared.pcapng "$SHARED/pcap/tcpdump-tcp-handshake-nano.pcap" \
    "$SHARED/pcap/zeek-vxlan.pcap"
  rm -rf st2
  "$TAPVAULT" ingest -q -s st2 -r shared.pcapng
  "$TAPVAULT" query -s st2 --format json > got2.json
  python3 "$here/tshark_oracle.py" shared.pcapng got2.json
fi
echo "ok: $want packets of a mixed-link pcapng"
