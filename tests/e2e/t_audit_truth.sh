# On generated traffic with a flow log that disagrees
# on purpose, every flow lands in the class and reason tv-gen's audit truth
# names; the payload findings it plants are found; --fail-on and bad input
# give exit codes 1 and 2.
. "$E2E_LIB"
need python3
here=$(dirname "$E2E_LIB")
for variant in "--seed 1" "--seed 5 --vnis 6 --flows 120" "--seed 9 --geneve-share 0.5 --geneve-vxlan"; do
  rm -rf st
  # shellcheck disable=SC2086
  "$GEN" $variant --outer outer.pcap --flowlog fl.log --audit-truth truth.csv --vni-map map.txt \
         --mirror-filters filters.json --mirror-sessions sessions.json
  "$TAPVAULT" ingest -q -s st -r outer.pcap --flow-interval 60
  "$TAPVAULT" audit -q -s st --flow-logs fl.log --vni-map map.txt --mirror-filters filters.json \
         --sessions sessions.json -o r.json -o r.html -o r.md -o r.csv
  python3 "$here/audit_truth.py" r.json truth.csv --payload || fail "audit truth ($variant)"
  # every form is written and names the classes
  grep -q '<svg' r.html || fail "no SVG chart in the HTML report"
  ! grep -qi '<script\|https\?://[a-z]' r.html || fail "the HTML report refers to something external"
  grep -q '^## mirror_only' r.md || fail "Markdown lacks the mirror_only table"
  head -1 r.csv | grep -q '^class,reason,interface' || fail "CSV header"
  grep -q 'Winter2025' r.html r.md r.csv r.json && fail "a secret leaked without --show-secrets"
  echo "ok: $variant"
done
# --show-secrets reveals them
"$TAPVAULT" audit -q -s st --flow-logs fl.log --vni-map map.txt --show-secrets -o s.json
grep -q 'Winter2025!' s.json || fail "--show-secrets does not show the Basic password"
# --fail-on
expect_exit 1 "$TAPVAULT" audit -q -s st --flow-logs fl.log --vni-map map.txt --fail-on flowlog_only:reject -o x.json
expect_exit 0 "$TAPVAULT" audit -q -s st --flow-logs fl.log --vni-map map.txt --fail-on mirror_only:nodata -o x.json
expect_exit 1 "$TAPVAULT" audit -q -s st --flow-logs fl.log --vni-map map.txt --fail-on credentials -o x.json
expect_exit 2 "$TAPVAULT" audit -q -s st --flow-logs fl.log --fail-on nonsense -o x.json
grep -q "unknown item 'nonsense'" err.txt || fail "--fail-on error message"
# bad input: exit 2 with the file named
echo '{"TrafficMirrorFilters": [{"TrafficMirrorFilterId": "tmf-1", "IngressFilterRules": [{"RuleNumber": 1, "RuleAction": "maybe"}]}]}' > badf.json
expect_exit 2 "$TAPVAULT" audit -q -s st --flow-logs fl.log --mirror-filters badf.json -o x.json
grep -q 'badf.json: TrafficMirrorFilters\[0\].IngressFilterRules\[0\].RuleAction' err.txt || fail "filter error names the JSON path"
expect_exit 2 "$TAPVAULT" audit -q -s nostore --flow-logs fl.log -o x.json
expect_exit 2 "$TAPVAULT" audit -q -s st --flow-logs fl.log -o x.txt
expect_exit 2 "$TAPVAULT" audit -q -s st --flow-logs /nonexistent.log -o x.json
echo ok
