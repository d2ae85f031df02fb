#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_capfile (and a few pcapng seeds for
fuzz_pcap): small pcap and pcapng files covering every branch of
ingest/capfile.c.  usage: capfile_seeds.py CORPUS_DIR [PCAP_CORPUS_DIR]"""
import hashlib, os, struct, sys

ETH = bytes.fromhex("020000000002020000000001" "0800") + bytes.fromhex(
    "4500001c0001000040110000c0a80101c0a80102" "d431003500080000")
SLL = bytes(14) + b"\x08\x00" + ETH[14:]

def pcap(magic, recs, be=False, ver=(2, 4), lt=1, rec_extra=b""):
    e = ">" if be else "<"
    out = struct.pack(e + "IHHiIII", magic, ver[0], ver[1], 0, 0, 65535, lt)
    for sec, frac, data, orig in recs:
        lens = (orig, len(data)) if ver < (2, 3) else (len(data), orig)
        out += struct.pack(e + "IIII", sec, frac, *lens) + rec_extra + data
    return out

def block(e, btype, body):
    body += b"\0" * (-len(body) % 4)
    n = 12 + len(body)
    return struct.pack(e + "II", btype, n) + body + struct.pack(e + "I", n)

def shb(e):
    return block(e, 0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1))

def opt(e, code, val):
    return struct.pack(e + "HH", code, len(val)) + val + b"\0" * (-len(val) % 4)

def idb(e, lt, snap, resol=None, off=None):
    body = struct.pack(e + "HHI", lt, 0, snap)
    opts = b""
    if resol is not None:
        opts += opt(e, 9, bytes([resol]))
    if off is not None:
        opts += opt(e, 14, struct.pack(e + "q", off))
    if opts:
        opts += opt(e, 0, b"")
    return block(e, 1, body + opts)

def epb(e, ifid, ts, data, orig=None):
    return block(e, 6, struct.pack(e + "IIIII", ifid, ts >> 32, ts & 0xffffffff, len(data),
                                   orig or len(data)) + data)

def spb(e, data):
    return block(e, 3, struct.pack(e + "I", len(data)) + data)

def opb(e, ifid, ts, data):
    return block(e, 2, struct.pack(e + "HHIIII", ifid, 0, ts >> 32, ts & 0xffffffff, len(data),
                                   len(data)) + data)

def seeds():
    t = 1700000000
    yield pcap(0xA1B2C3D4, [(t, 1, ETH, 60), (2147483648, 500000, ETH, len(ETH))])
    yield pcap(0xA1B2C3D4, [(t, 1, ETH, 60)], be=True)
    yield pcap(0xA1B23C4D, [(t, 999999999, ETH, len(ETH))])
    yield pcap(0xA1B23C4D, [(t, 5, SLL, len(SLL))], be=True, lt=113)
    yield pcap(0xA1B2CD34, [(t, 5, ETH, len(ETH))], rec_extra=struct.pack("<IHBB", 3, 0x800, 0, 0))
    yield pcap(0xA1B2C3D4, [(t, 5, ETH, 20)], ver=(2, 2))
    yield pcap(0xA1B2C3D4, [(t, 5, ETH, len(ETH))])[:40]
    for e in "<>":
        yield (shb(e) + idb(e, 1, 65535) + idb(e, 113, 96, 9, 3600) + epb(e, 0, t * 10**6, ETH)
               + epb(e, 1, t * 10**9, SLL[:40], len(SLL))
               + block(e, 4, struct.pack(e + "HH", 1, 6) + b"\x0a\0\0\1a\0" + b"\0\0"
                       + struct.pack(e + "HH", 0, 0))
               + block(e, 5, struct.pack(e + "III", 0, 0, 0)) + spb(e, ETH))
    e = "<"
    yield (shb(e) + idb(e, 101, 0, 0x80 | 20) + epb(e, 0, 5 << 20, ETH[14:]) + shb(">")
           + idb(">", 228, 0, 3, -5) + opb(">", 0, 1234, ETH[14:])
           + block(">", 0x40000BAD, struct.pack(">I", 32473) + b"x"))
    yield shb(e)
    yield shb(e) + idb(e, 1, 0) + epb(e, 7, 1, ETH)
    yield shb(e) + struct.pack("<II", 1, 21)

def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    ng = []
    for s in seeds():
        name = hashlib.sha1(s).hexdigest()
        with open(os.path.join(out, name), "wb") as f:
            f.write(s)
        if s[:4] == b"\x0a\x0d\x0d\x0a":
            ng.append((name, s))
    if len(sys.argv) > 2:
        for name, s in ng:
            with open(os.path.join(sys.argv[2], name), "wb") as f:
                f.write(s)

main()
