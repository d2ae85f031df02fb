# query -v prints the plan and what reading it cost: besides chunks planned,
# read and packets scanned, the blocks read and the bytes decoded (a new
# store has format 3: each chunk read is one or more blocks, each read
# with its own pread), and the figures add up over several stores.
. "$E2E_LIB"
set -e
gen_small
"$TAPVAULT" ingest -q -s st -r outer.pcap
"$GEN" --seed 8 --outer outer8.pcap >/dev/null
"$TAPVAULT" ingest -q -s st8 -r outer8.pcap
plan() {
  expect_exit 0 "$TAPVAULT" query -v --format count "$@"
  grep '^plan: ' err.txt || fail "no plan line: $(cat err.txt)"
}
fields() {
  sed -E 's/^plan: ([0-9]+) of ([0-9]+) chunks planned \(([0-9]+) index keys read\); ([0-9]+) chunks read \(([0-9]+) bytes\), ([0-9]+) missing; ([0-9]+) blocks read, ([0-9]+) bytes decoded; ([0-9]+) packets scanned, ([0-9]+) matched, ([0-9]+) written$/\1 \2 \3 \4 \5 \6 \7 \8 \9/' \
    <<<"$1"
}
line=$(plan -s st tcp)
set -- $(fields "$line")
[ $# -eq 9 ] || fail "plan line not in the documented form: $line"
chunks_read=$4 blocks=$7 decoded=$8
[ "$chunks_read" -gt 0 ] || fail "nothing read: $line"
[ "$blocks" -ge "$chunks_read" ] || fail "fewer blocks ($blocks) than chunks read ($chunks_read): $line"
[ "$decoded" -gt 0 ] || fail "no bytes decoded: $line"
# a time-unbounded query of every packet reads every block of every chunk
set -- $(fields "$(plan -s st)")
[ "$7" -ge "$blocks" ] || fail "all packets read fewer blocks ($7) than tcp alone ($blocks)"
# two stores: the counters are the sums of each store's
set -- $(fields "$(plan -s st8 tcp)")
b8=$7 d8=$8
set -- $(fields "$(plan -s st -s st8 tcp)")
expect_eq "blocks read over two stores" $((blocks + b8)) "$7"
expect_eq "bytes decoded over two stores" $((decoded + d8)) "$8"
