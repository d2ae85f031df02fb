#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_flows2 (tests/fuzz/corpus/fuzz_flows2/):
the key's window (u32 LE) then a v2_flows block value, laid out from
store/FORMAT.md "VPC flow records (v2_flows)"; the zstd frames are made by
the zstd command-line tool (level 3, content size set, no checksum)."""
import os
import subprocess
import sys
import tempfile

W = 1764000000


def record(i, window=W):
    src = bytes(10 * [0]) + b"\xff\xff" + bytes([10, 0, i >> 8 & 255, i & 255])
    dst = bytes(10 * [0]) + b"\xff\xff" + bytes([10, 0, 200, i % 7])
    out = bytes(10 * [0]) + b"\xff\xff" + bytes([10, 1, 1, 5])
    start = window + i % 600
    return (src + dst + (32768 + i).to_bytes(2, "little") + (443).to_bytes(2, "little")
            + bytes([6, 4, 0x1B, 0]) + out + (7).to_bytes(4, "little")
            + window.to_bytes(4, "little") + start.to_bytes(4, "little")
            + (start + i % 10).to_bytes(4, "little") + (1 + i % 100).to_bytes(8, "little")
            + (60 + i).to_bytes(8, "little") + bytes(20))


def zstd3(raw):
    with tempfile.NamedTemporaryFile() as f:
        f.write(raw)
        f.flush()
        return subprocess.run(["zstd", "-3", "-q", "-c", "--no-check", f.name],
                              check=True, stdout=subprocess.PIPE).stdout


def by_groups(recs, n):
    """The raw bytes: the records by field groups (the three addresses and
    the reserved tail whole, every other byte alone), each group for every
    record in turn."""
    out = b""
    off = 0
    while off < 108:
        w = 16 if off in (0, 16, 40) else 20 if off == 88 else 1
        out += b"".join(recs[i * 108 + off:i * 108 + off + w] for i in range(n))
        off += w
    return out


def block(n, raw_form):
    raw = by_groups(b"".join(record(i) for i in range(n)), n)
    assert len(raw) == 108 * n
    head = W.to_bytes(4, "little")
    if raw_form:
        return head + (n | 0x80000000).to_bytes(4, "little") + len(raw).to_bytes(4, "little") + raw
    z = zstd3(raw)
    assert len(z) < len(raw)
    return head + n.to_bytes(4, "little") + len(raw).to_bytes(4, "little") + z


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fuzz/corpus/fuzz_flows2"
    os.makedirs(out, exist_ok=True)
    seeds = {
        "zstd_1": block(1, False),
        "zstd_40": block(40, False),
        "zstd_300": block(300, False),
        "raw_1": block(1, True),
        "raw_3": block(3, True),
    }
    for name, data in seeds.items():
        with open(os.path.join(out, "seed_" + name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
