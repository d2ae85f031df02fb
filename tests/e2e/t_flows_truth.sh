# Flow records against the generator's ground truth.  For 60 s and
# 600 s windows, and for a VXLAN-only and a GENEVE/GENEVE+VXLAN/VLAN run,
# `tapvault flows --format json` summed per (VNI, flow) equals tv-gen's
# truth exactly: packets, bytes, first and last second, tcp-flags (AWS rule).
. "$E2E_LIB"
need python3
here=$(dirname "$E2E_LIB")
fields='version interface-id pkt-srcaddr pkt-dstaddr srcport dstport protocol packets bytes start end tcp-flags flow-direction'
run_case() { # NAME GEN-ARGS...
  local name=$1; shift
  "$GEN" "$@" --outer "$name.pcap" --truth "$name.csv" >/dev/null
  for iv in 60 600; do
    rm -rf "st-$name-$iv"
    "$TAPVAULT" ingest -q -s "st-$name-$iv" -r "$name.pcap" --flow-interval $iv
    "$TAPVAULT" flows -s "st-$name-$iv" --format json --fields "$fields" > "$name-$iv.json"
    python3 "$here/flows_truth.py" "$name.csv" "$name-$iv.json" $iv > "cmp-$name-$iv.txt" ||
      { head -40 "cmp-$name-$iv.txt"; fail "$name, $iv s windows: flow records differ from the truth"; }
    echo "ok $name $iv s: $(tail -n 1 "cmp-$name-$iv.txt")"
  done
  # a 60 s store has at least as many records as a 600 s one, never fewer
  [ "$(wc -l < "$name-60.json")" -ge "$(wc -l < "$name-600.json")" ] || fail "$name: fewer 60 s records than 600 s"
}
run_case vxlan --seed 7
run_case gwlb --seed 11 --geneve-share 0.5 --geneve-vxlan --inner-vlan 0 --vnis 6 --flows 120
# a small flow table flushes early (several records per flow and window):
# the writer merges them back into one, and the sums stay exact
"$GEN" --seed 5 --flows 400 --outer ef.pcap --truth ef.csv >/dev/null
"$TAPVAULT" ingest -q -s st-ef -r ef.pcap --flow-max 1024
early=$("$TAPVAULT" stats -s st-ef --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["counters"]["flow.early_flushes"])')
"$TAPVAULT" flows -s st-ef --format json --fields "$fields" > ef.json
python3 "$here/flows_truth.py" ef.csv ef.json 600 > cmp-ef.txt || { head -40 cmp-ef.txt; fail "early flush: differs"; }
echo "ok early flush ($early early flushes): $(tail -n 1 cmp-ef.txt)"
# learned direction: every record of a generated VNI has one side on the instance
python3 - vxlan-600.json <<'PY'
import json, sys
n = none = 0
for line in open(sys.argv[1]):
    o = json.loads(line); n += 1
    assert o["interface-id"] == "vni-%d" % o["vni"], o
    none += o["flow-direction"] is None
print(f"{n} records, {none} without a direction")
# east-west and VPC-internal flows all involve the mirrored instance
assert none == 0, none
PY
