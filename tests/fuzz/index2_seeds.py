#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_index2 (tests/fuzz/corpus/fuzz_index2/):
one valid value per decoder, laid out from store/FORMAT.md "Index
(LMDB)", with CRC-32C computed here from its definition."""
import os
import struct
import sys


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def chunk_record():
    nblocks = 3
    blocks = b""
    off = 4 + 20 * nblocks
    for i in range(nblocks):
        # offset, len, nrec, a_raw, a_comp
        blocks += struct.pack("<IIIII", off, 1000 + i, 10 + i, 5000 + i, 300 + i)
        off += 1000 + i
    fixed = struct.pack("<QIIQIIQQQII", 77, 3, 9, 4096, 128 + off, 1000, 10**9, 2 * 10**9,
                        123456, 120000, 50) + bytes(range(32)) + struct.pack("<HH", nblocks, 0)
    crc = crc32c(blocks, crc32c(fixed))
    return fixed + struct.pack("<I", crc) + blocks


def slice_record():
    body = struct.pack("<QIIQQQI", 100, 64, 2, 5, 9, 777, 2)
    return body + struct.pack("<I", crc32c(body))


def opost():
    key = struct.pack(">Q", 42) + b"V" + struct.pack(">I", 1001)
    bits = varint(0x105)
    return bytes([len(key)]) + key + struct.pack("<I", crc32c(bits, crc32c(key))) + bits


def post():
    key = struct.pack(">I", 7) + b"P" + struct.pack(">HB", 53, 17)
    ent = varint(0) + varint(1) + varint(3) + varint(0xFF) + varint(5) + varint(1 << 40)
    head = struct.pack("<QB", 1000, 9)  # slice: first chunk 1000, nchunks 10
    # key length odd: the target also checks bitmaps against block counts
    return head + bytes([len(key)]) + key + struct.pack("<I", crc32c(ent, crc32c(key))) + ent


def flowkey():
    k = bytes(10) + b"\xff\xff" + bytes([10, 0, 0, 1]) + bytes(10) + b"\xff\xff" + \
        bytes([192, 168, 0, 2]) + struct.pack(">HHBBBB", 51000, 443, 6, 4, 1, 0)
    return k


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fuzz/corpus/fuzz_index2"
    os.makedirs(out, exist_ok=True)
    seeds = {
        "chunk": b"\x00" + chunk_record(),
        "chunk-fix": b"\x80" + chunk_record(),
        "slice": b"\x01" + slice_record(),
        "opost": b"\x02" + opost(),
        "post": b"\x03" + post(),
        "post-fix": b"\x83" + post(),
        "flowkey": b"\x04" + flowkey(),
        "stime": b"\x04" + struct.pack(">QI", 5, 1),
        "segs": b"\x04" + struct.pack("<IIQQ", 1, 3, 10, 200),
    }
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
