#!/usr/bin/env python3
"""Small captures with known contents for the end-to-end tests.

usage: pcapgen.py KIND OUT [OUT2]

  v6plen0 OUT        one untunnelled Ethernet frame of 54 bytes padded to 60:
                     IPv6, payload length 0, next header 99
  y2038 OUT          a classic microsecond pcap with two identical TCP SYN
                     frames at 2147483647.5 s and 2147483648.5 s
  sll OUT            Linux cooked (SLL) capture of a few UDP and TCP packets
  outerfrag OUT REF  VXLAN and GENEVE whose outer IPv4/IPv6 packets are
                     fragmented (in order, reversed, interleaved), one
                     unfragmented packet, and two datagrams that lose a
                     fragment; REF gets the inner frames that must come out
                     whole (each at the time of its datagram's last
                     fragment), OUT.lost the outer fragments that cannot be
                     reassembled
"""
import struct, sys

def csum(b):
    s = 0
    for i in range(0, len(b) - 1, 2):
        s += b[i] << 8 | b[i + 1]
    if len(b) % 2:
        s += b[-1] << 8
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

def write_pcap(path, recs, linktype=1, nsec=False):
    """recs: (ts_ns, data[, origlen])"""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B23C4D if nsec else 0xA1B2C3D4, 2, 4, 0, 0, 262144,
                            linktype))
        for r in recs:
            ts, data = r[0], r[1]
            orig = r[2] if len(r) > 2 else len(data)
            frac = ts % 10**9 if nsec else (ts % 10**9) // 1000
            f.write(struct.pack("<IIII", ts // 10**9, frac, len(data), orig) + data)

def read_pcap(path):
    """[(ts_ns, data, origlen)] of a classic pcap (either resolution, LE)."""
    with open(path, "rb") as f:
        b = f.read()
    magic = struct.unpack_from("<I", b)[0]
    nsec = magic == 0xA1B23C4D
    assert magic in (0xA1B2C3D4, 0xA1B23C4D), hex(magic)
    out, pos = [], 24
    while pos + 16 <= len(b):
        sec, frac, cap, orig = struct.unpack_from("<IIII", b, pos)
        pos += 16
        out.append((sec * 10**9 + (frac if nsec else frac * 1000), b[pos:pos + cap], orig))
        pos += cap
    return out

def mac(a, b):
    return bytes([2, 0, 0, 0, 0, a, 2, 0, 0, 0, 0, b])

def ip4(src, dst, proto, payload, ident=1, ff=0, ttl=64):
    h = bytearray(struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, ff, ttl, proto, 0,
                              bytes(src), bytes(dst)))
    struct.pack_into(">H", h, 10, csum(h))
    return bytes(h) + payload

def ip6(src, dst, nh, payload, plen=None):
    return struct.pack(">IHBB", 0x60000000, len(payload) if plen is None else plen, nh, 64) + \
        bytes(src) + bytes(dst) + payload

def tcp(sport, dport, flags, payload=b"", seq=1000):
    return struct.pack(">HHIIBBHHH", sport, dport, seq, 0, 0x50, flags, 65535, 0, 0) + payload

def udp(sport, dport, payload):
    return struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload

def eth(a, b, et, payload):
    return mac(a, b) + struct.pack(">H", et) + payload

def vxlan(vni, inner):
    return struct.pack(">II", 0x08000000, vni << 8) + inner

def geneve(vni, inner):
    return struct.pack(">BBHI", 0, 0, 0x6558, vni << 8) + inner

V6A = bytes.fromhex("20010db8000000000000000000000001")
V6B = bytes.fromhex("20010db8000000000000000000000002")
OV6A = bytes.fromhex("fd000000000000000000000000000011")
OV6B = bytes.fromhex("fd000000000000000000000000000012")
MIR_SRC, MIR_DST = [192, 168, 5, 11], [10, 10, 11, 11]

def frag4(dgram, ident, mtu, order=None):
    """Outer Ethernet + IPv4 fragments of a UDP datagram (bytes), each at
    most mtu bytes of IP."""
    step = (mtu - 20) // 8 * 8
    parts = []
    for off in range(0, len(dgram), step):
        more = off + step < len(dgram)
        ff = (0x2000 if more else 0) | off // 8
        parts.append(eth(1, 2, 0x0800, ip4(MIR_SRC, MIR_DST, 17, dgram[off:off + step], ident, ff)))
    return [parts[i] for i in order] if order else parts

def frag6(dgram, ident, mtu):
    step = (mtu - 48) // 8 * 8
    parts = []
    for off in range(0, len(dgram), step):
        more = off + step < len(dgram)
        fh = struct.pack(">BBHI", 17, 0, off | (1 if more else 0), ident)
        parts.append(eth(1, 2, 0x86DD, ip6(OV6A, OV6B, 44, fh + dgram[off:off + step])))
    return parts

def outerfrag(out, ref):
    t = 1_764_000_000 * 10**9
    recs, want, lost = [], [], []
    def inner_tcp(n, seq):
        body = bytes((i * 7 + seq) & 0xff for i in range(n))
        return eth(3, 4, 0x0800, ip4([10, 1, 0, 1], [10, 2, 0, 2], 6,
                                     tcp(40000, 443, 0x18, body, seq), ident=seq))
    def inner_udp6(n):
        return eth(3, 4, 0x86DD, ip6(V6A, V6B, 17, udp(5353, 53, bytes(range(256)) * (n // 256))))
    # 1. VXLAN over IPv4, 3 fragments in order
    i1 = inner_tcp(1400, 1)
    fr = frag4(udp(50001, 4789, vxlan(100, i1)), 0x101, 600)
    for k, f in enumerate(fr):
        recs.append((t + k * 1000, f))
    want.append((t + (len(fr) - 1) * 1000, i1))
    # 2. the same flow, fragments reversed
    t += 10**6
    i2 = inner_tcp(1400, 2)
    fr = frag4(udp(50001, 4789, vxlan(100, i2)), 0x102, 600)
    fr.reverse()
    for k, f in enumerate(fr):
        recs.append((t + k * 1000, f))
    want.append((t + (len(fr) - 1) * 1000, i2))
    # 3. an unfragmented VXLAN packet between them
    t += 10**6
    i3 = inner_tcp(100, 3)
    recs.append((t, eth(1, 2, 0x0800, ip4(MIR_SRC, MIR_DST, 17, udp(50001, 4789, vxlan(100, i3))))))
    want.append((t, i3))
    # 4. VXLAN over IPv6 with a Fragment header, interleaved with 5.
    t += 10**6
    i4 = inner_udp6(2048)
    f4 = frag6(udp(50002, 4789, vxlan(200, i4)), 0xabcdef01, 1280)
    # 5. GENEVE over IPv4
    i5 = inner_tcp(1000, 5)
    f5 = frag4(udp(50003, 6081, geneve(300, i5)), 0x105, 700)
    seq = []
    for k in range(max(len(f4), len(f5))):
        if k < len(f4):
            seq.append((4, f4[k]))
        if k < len(f5):
            seq.append((5, f5[k]))
    last = {}
    for k, (which, f) in enumerate(seq):
        recs.append((t + k * 1000, f))
        last[which] = t + k * 1000
    want.append((last[4], i4))
    want.append((last[5], i5))
    # 6. a datagram whose second fragment never comes, and 7. one whose
    # first fragment never comes: stored as captured, never as flows
    t += 10**6
    f6 = frag4(udp(50004, 4789, vxlan(100, inner_tcp(1400, 6))), 0x106, 600)
    f7 = frag4(udp(50005, 4789, vxlan(100, inner_tcp(1400, 7))), 0x107, 600)
    for k, f in enumerate([f6[0], f6[2], f7[1]]):
        recs.append((t + k * 1000, f))
        lost.append((t + k * 1000, f))
    write_pcap(out, recs)
    write_pcap(ref, sorted(want))
    write_pcap(out + ".lost", lost)

def main():
    kind, out = sys.argv[1], sys.argv[2]
    if kind == "v6plen0":
        f = eth(2, 1, 0x86DD, ip6(V6A, V6B, 99, b"", plen=0)) + bytes(6)
        assert len(f) == 60
        write_pcap(out, [(1_764_000_000 * 10**9, f)])
    elif kind == "y2038":
        syn = eth(2, 1, 0x0800, ip4([10, 0, 0, 1], [10, 0, 0, 2], 6, tcp(1234, 80, 0x02)))
        write_pcap(out, [(2147483647 * 10**9 + 5 * 10**8, syn), (2147483648 * 10**9 + 5 * 10**8, syn)])
    elif kind == "sll":
        recs = []
        for k in range(5):
            pkt = ip4([172, 16, 0, 1], [172, 16, 0, 2], 17, udp(1000 + k, 53, b"q" * (20 + k)))
            if k % 2:
                pkt = ip4([172, 16, 0, 2], [172, 16, 0, 1], 6, tcp(443, 2000 + k, 0x12))
            sll = struct.pack(">HHH", 0, 1, 6) + bytes(8) + struct.pack(">H", 0x0800)
            recs.append((1_764_000_000 * 10**9 + k * 10**6 + 5, sll + pkt))
        write_pcap(out, recs, linktype=113, nsec=True)
    elif kind == "outerfrag":
        outerfrag(out, sys.argv[3])
    else:
        sys.exit("unknown kind " + kind)

if __name__ == "__main__":
    main()
