# Hostile flow-log inputs within bounds: a control byte rejects its line
# only, zero-filled tails and heads are one reject each and the records
# around them are read, a file that is not a flow log (/dev/zero) is refused
# in bounded time, and a small decompression bomb is cut at --max-log-size.
. "$E2E_LIB"
gen_small
"$TAPVAULT" ingest -q -s st -r outer.pcap
python3 - <<'PY'
lines = "".join("2 111122223333 eni-0aaa1111bbbb2222c 10.8.0.%d 10.8.1.9 %d 443 6 12 3120 "
                "1700000000 1700000055 ACCEPT OK\n" % (i % 250, 1024 + i) for i in range(10000))
b = lines.encode()
open("valid.log", "wb").write(b)
pos = 0
for _ in range(5001):
    pos = b.index(b"\n", pos) + 1
nul = bytearray(b); nul[pos + 20] = 0
open("nul.log", "wb").write(nul)
open("tail.log", "wb").write(b + bytes(4096))
open("head.log", "wb").write(bytes(8192) + b)
# a zstd frame of RLE blocks: 8 GiB of newlines in 256 KiB
blk = 128 << 10
n = (8 << 30) // blk
with open("bomb.log.zst", "wb") as f:
    f.write(bytes([0x28, 0xB5, 0x2F, 0xFD, 0x00, 0x38]))
    for i in range(n):
        h = (1 if i == n - 1 else 0) | (1 << 1) | (blk << 3)
        f.write(h.to_bytes(3, "little") + b"\n")
PY
# counters of the last report: records rejected files_failed not_text too_large
counts() { python3 -c 'import json,sys; d=json.load(open("a.json"))["flowlog_reader"]; r=d["rejected_by_reason"]; print(d["records"], d["rejected"], d["files_failed"], r.get("flowlog.rejected.not_text", 0), r.get("flowlog.rejected.too_large", 0))'; }
audit() { "$TAPVAULT" audit -s st --no-payload -o a.json "$@"; }

# one NUL byte in line 5002: that line is rejected, the 9999 others are read
expect_exit 0 audit --flow-logs nul.log
expect_eq "records rejected files_failed not_text too_large of nul.log" "9999 1 0 1 0" "$(counts)"
grep -q 'nul.log:5002: byte 0x00 at offset [0-9]* (column 21) is not text' err.txt || { cat err.txt; fail "nul.log: no line reject named"; }

# a valid file with a zero-filled tail, and zeros in front of a valid file
for f in tail.log head.log; do
  expect_exit 0 audit --flow-logs "$f"
  expect_eq "records rejected files_failed not_text too_large of $f" "10000 1 0 1 0" "$(counts)"
  grep -q "$f:[0-9]*: [0-9]* zero bytes from offset" err.txt || { cat err.txt; fail "$f: zero run not named"; }
done
# the same from a stream that cannot be reopened
set +e; "$TAPVAULT" audit -s st --no-payload -o a.json --flow-logs - <head.log 2>err.txt; rc=$?; set -e
expect_eq "exit of head.log on stdin" 0 "$rc"
expect_eq "counts of head.log on stdin" "10000 1 0 1 0" "$(counts)"
set +e; cat head.log | "$TAPVAULT" audit -s st --no-payload -o a.json --flow-logs - 2>err.txt; rc=$?; set -e
expect_eq "exit of head.log through a pipe" 0 "$rc"
expect_eq "counts of head.log through a pipe" "10000 1 0 1 0" "$(counts)"

# /dev/zero: refused, not an empty tar, and not an endless read
start=$(date +%s)
set +e; timeout 60 "$TAPVAULT" audit -s st --no-payload -o a.json --flow-logs /dev/zero >out.txt 2>err.txt; rc=$?; set -e
expect_eq "exit of /dev/zero" 2 "$rc"
grep -q '/dev/zero:0: not a flow-log file: only zero bytes' err.txt || { cat err.txt; fail "/dev/zero not refused"; }
[ $(( $(date +%s) - start )) -le 20 ] || fail "/dev/zero took more than 20 s"

# 8 GiB of newlines in 256 KiB of zstd: cut at 1 GiB by default, in seconds
ls -l bomb.log.zst
start=$(date +%s)
set +e; timeout 120 "$TAPVAULT" audit -s st --no-payload -o a.json --flow-logs bomb.log.zst valid.log >out.txt 2>err.txt; rc=$?; set -e
secs=$(( $(date +%s) - start ))
expect_eq "exit with the bomb and a valid file" 0 "$rc"
grep -q 'bomb.log.zst:0: more than 1073741824 bytes after decompression' err.txt || { cat err.txt; fail "bomb not cut"; }
expect_eq "counts with the bomb" "10000 1 1 0 1" "$(counts)"
echo "bomb: ${secs}s"
[ "$secs" -le 30 ] || fail "the bomb took ${secs}s (more than 30)"
expect_exit 2 audit --flow-logs bomb.log.zst --max-log-size 16M
grep -q 'more than 16777216 bytes after decompression' err.txt || { cat err.txt; fail "--max-log-size not applied"; }
grep -q 'no flow-log file could be read' err.txt || fail "bomb alone: no error"
expect_exit 2 audit --flow-logs valid.log --max-log-size 0
echo ok
