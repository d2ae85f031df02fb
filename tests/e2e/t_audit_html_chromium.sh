# The HTML audit report is one self-contained page that
# headless Chromium opens without console errors, and renders to a screenshot.
# `make deps` installs chromium; the test skips only where it is missing.
. "$E2E_LIB"
command -v chromium >/dev/null 2>&1 || skip "chromium is not installed"
"$GEN" --outer outer.pcap --flowlog fl.log --audit-truth truth.csv --vni-map map.txt \
       --mirror-filters filters.json --mirror-sessions sessions.json
"$TAPVAULT" ingest -q -s st -r outer.pcap --flow-interval 60
"$TAPVAULT" audit -q -s st --flow-logs fl.log --vni-map map.txt --mirror-filters filters.json \
       --sessions sessions.json -o report.html
# self-contained: no script, no external URL in src/href, no @import or url()
! grep -Eqi '<script|<link|src="https?:|href="https?:|@import|url\(' report.html || fail "external reference in the page"
ud=$(mktemp -d)
flags="--headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update
       --disable-sync --disable-quic --no-first-run --user-data-dir=$ud"
# shellcheck disable=SC2086
timeout 120 chromium $flags --enable-logging=stderr --v=0 --dump-dom "file://$PWD/report.html" >dom.html 2>console.txt || true
grep -q 'tapvault audit' dom.html || { tail -20 console.txt; fail "chromium did not render the page"; }
if grep -E 'CONSOLE|Uncaught|Refused to|Failed to load|net::ERR' console.txt; then
  fail "console errors while loading the report"
fi
# shellcheck disable=SC2086
timeout 120 chromium $flags --screenshot="$PWD/audit.png" --window-size=1400,2400 "file://$PWD/report.html" 2>/dev/null || true
[ -s audit.png ] || fail "no screenshot"
cp audit.png "${AUDIT_SCREENSHOT:-/tmp/tapvault-audit.png}" 2>/dev/null || true
rm -rf "$ud"
echo ok
