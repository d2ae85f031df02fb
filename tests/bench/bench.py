#!/usr/bin/env python3
"""Helpers for tests/bench/bench_default.sh (and the live and soak scripts):
pcap counting, host choice, stats JSON look-ups, and the Markdown report
(medians, ratios, goals) of the default profile.

  bench.py count PCAP                  packets in a classic pcap file
  bench.py sameseq A.pcap B.pcap       'yes' if both have the same records after the header
  bench.py hosts TRUTH.csv LO HI       candidate hosts (packets in [LO,HI]), best first
  bench.py hostcount HOST TRUTH...     packets of HOST summed over the truth files
  bench.py json FILE KEY...            value of a key of a stats JSON (dotted counters under
                                       "counters"); first key found wins; '' if none
  bench.py jsondrops FILE              sum of every counter whose name contains 'drop'
  bench.py report DIR OUT.md           the results table from DIR/measurements.tsv etc.
  bench.py udperr                      Udp InErrors from /proc/net/snmp (kernel receive drops,
                                       every process)
  bench.py udpdrops PORT               receive drops of the UDP sockets bound to local PORT
                                       (/proc/net/udp and udp6, column drops), summed
  bench.py sink PORT MAXSEC            discard UDP datagrams on 127.0.0.1:PORT until 3 s idle
                                       or MAXSEC; prints how many it received

The working directory holds (all tab-separated, written by bench.sh):
  measurements.tsv   key  run  wall_s  maxrss_kib  exit
  info.tsv           key  value       (sizes, counts, chosen host, ...)
  commands.tsv       key  command     (the exact command of the first run)
  notes.tsv          row  text        (skips and remarks)
"""
import csv
import json
import os
import statistics
import struct
import sys


# ---------------------------------------------------------------- pcap
def pcap_records(path):
    with open(path, 'rb') as f:
        hdr = f.read(24)
        if len(hdr) < 24:
            return
        magic = struct.unpack('<I', hdr[:4])[0]
        if magic in (0xa1b2c3d4, 0xa1b23c4d):
            end = '<'
        elif magic in (0xd4c3b2a1, 0x4d3cb2a1):
            end = '>'
        else:
            raise SystemExit('%s: not a classic pcap file' % path)
        mult = 1 if magic in (0xa1b23c4d, 0x4d3cb2a1) else 1000
        while True:
            rh = f.read(16)
            if len(rh) < 16:
                return
            ts, tf, incl, orig = struct.unpack(end + 'IIII', rh)
            # normalised: ns timestamp, lengths, bytes (µs and ns files compare equal)
            yield (ts * 1000000000 + tf * mult, incl, orig), f.read(incl)


def cmd_count(path):
    print(sum(1 for _ in pcap_records(path)))


def cmd_sameseq(a, b):
    ra, rb = pcap_records(a), pcap_records(b)
    for x, y in zip(ra, rb):
        if x != y:
            print('no')
            return
    # both exhausted?
    print('yes' if next(ra, None) is None and next(rb, None) is None else 'no')


# ---------------------------------------------------------------- truth
def host_packets(paths):
    c = {}
    for p in paths:
        with open(p, newline='') as f:
            for r in csv.DictReader(f):
                n = int(r['packets'])
                for a in {r['src'], r['dst']}:
                    c[a] = c.get(a, 0) + n
    return c


def cmd_hosts(truth, lo, hi):
    c = host_packets([truth])
    lo, hi = int(lo), int(hi)
    # an address outside the VPC and the scripted scenario (those repeat in
    # every seed), with a few hundred to a few thousand packets; closest to
    # 1000 packets first
    skip_pfx = ('10.', '169.254.', '198.51.100.', '185.220.101.', '203.0.113.',
                '8.8.8.8', '1.1.1.1', 'fd00:', '2600:1f18:')
    cand = [(abs(n - 1000), a, n) for a, n in c.items()
            if lo <= n <= hi and not a.startswith(skip_pfx)]
    cand.sort()
    for _, a, n in cand:
        print(a, n)


def cmd_hostcount(host, truths):
    print(host_packets(truths).get(host, 0))


# ---------------------------------------------------------------- stats JSON
def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def cmd_json(path, keys):
    j = load_json(path)
    for k in keys:
        if k in j:
            print(j[k])
            return
        if k in j.get('counters', {}):
            print(j['counters'][k])
            return
    print('')


def cmd_jsondrops(path):
    j = load_json(path)
    tot = 0
    names = []
    for k, v in j.get('counters', {}).items():
        if 'drop' in k and isinstance(v, (int, float)):
            tot += v
            names.append(k)
    print(tot, ','.join(names) or '-')


# ---------------------------------------------------------------- report
def read_tsv(path, ncol):
    rows = []
    if not os.path.exists(path):
        return rows
    with open(path) as f:
        for line in f:
            line = line.rstrip('\n')
            if not line:
                continue
            parts = line.split('\t', ncol - 1)
            while len(parts) < ncol:
                parts.append('')
            rows.append(parts)
    return rows


class Data:
    def __init__(self, d):
        self.meas = {}
        self.cpu = {}
        for key, run, wall, rss, rc, cpu in read_tsv(os.path.join(d, 'measurements.tsv'), 6):
            self.meas.setdefault(key, []).append((float(wall), int(rss or 0), int(rc or 0)))
            self.cpu.setdefault(key, []).append(float(cpu or 0))
        self.info = {k: v for k, v in read_tsv(os.path.join(d, 'info.tsv'), 2)}
        self.cmds = {}
        for k, c in read_tsv(os.path.join(d, 'commands.tsv'), 2):
            self.cmds.setdefault(k, c)
        self.notes = read_tsv(os.path.join(d, 'notes.tsv'), 2)

    def ok(self, key):
        m = self.meas.get(key)
        return bool(m) and all(rc == 0 for _, _, rc in m)

    def med(self, key):
        m = self.meas.get(key)
        if not m:
            return None
        return statistics.median(w for w, _, _ in m)

    def spread(self, key):
        m = self.meas.get(key)
        if not m:
            return ''
        ws = [w for w, _, _ in m]
        med = statistics.median(ws)
        if med <= 0 or len(ws) < 2:
            return ''
        return '±%.0f%%' % (100.0 * (max(ws) - min(ws)) / 2 / med)

    def cpumed(self, key):
        c = self.cpu.get(key)
        return statistics.median(c) if c else None

    def rss(self, key):
        m = self.meas.get(key)
        if not m:
            return None
        return max(r for _, r, _ in m)

    def num(self, key):
        v = self.info.get(key, '')
        try:
            return float(v)
        except ValueError:
            return None


def fsec(s):
    if s is None:
        return 'n/a'
    if s < 1:
        return '%.1f ms' % (s * 1e3)
    return '%.2f s' % s


def fmb(b):
    return '%.1f MB' % (b / 1e6)


def frate(x, unit):
    if x is None:
        return 'n/a'
    if x >= 1e6:
        return '%.2f M%s' % (x / 1e6, unit)
    if x >= 1e3:
        return '%.1f k%s' % (x / 1e3, unit)
    return '%.0f %s' % (x, unit)


def fmib(kib):
    if kib is None:
        return 'n/a'
    return '%.1f MiB' % (kib / 1024.0)


def status(ok):
    if ok is None:
        return 'n/a'
    return 'met' if ok else '**missed**'


def cmd_report(d, out):
    D = Data(d)
    I = D.info
    rows = []   # (#, measurement, tapvault, peer, ratio, goal, status)
    notes = []

    def note(row, text):
        notes.append('%s: %s' % (row, text))

    outer_b = D.num('outer_bytes')
    inner_b = D.num('inner_bytes')
    pkts = D.num('packets')
    runs = I.get('runs', '?')

    # ---- 1. ingest throughput
    tz = D.med('zstd3')
    for key, label in (('ingest.sync', 'ingest, default fsync'),
                       ('ingest.nosync', 'ingest --no-sync')):
        t = D.med(key)
        if t is None or not D.ok(key) or not outer_b:
            rows.append(('1', label, 'n/a', '', '', '', 'n/a'))
            continue
        tv = '%.0f MB/s outer, %.0f MB/s inner, %s (%s, %s)' % (
            outer_b / t / 1e6, inner_b / t / 1e6, frate(pkts / t, 'pkt/s'), fsec(t), D.spread(key))
        if tz is not None and D.ok('zstd3'):
            peer = 'zstd -3 -T1: %.0f MB/s inner (%s, %s)' % (inner_b / tz / 1e6, fsec(tz), D.spread('zstd3'))
            r = tz / t
            rows.append(('1', label, tv, peer, '%.2fx' % r, '>= 1.00x zstd speed', status(r >= 1.0)))
        else:
            rows.append(('1', label, tv, 'zstd: skipped', '', '>= 1.00x zstd speed', 'n/a'))

    if tz and D.cpumed('zstd3') and D.cpumed('ingest.nosync'):
        note('1', 'CPU time (user+sys, median): ingest --no-sync %.2f s, ingest fsync %.2f s, --no-flows %.2f s, '
                  'zstd -3 -T1 %.2f s; CPU-time ratio zstd/ingest(--no-sync) %.2fx (less sensitive to other load '
                  'than wall time)' % (D.cpumed('ingest.nosync'), D.cpumed('ingest.sync') or 0,
                                       D.cpumed('ingest.noflows') or 0, D.cpumed('zstd3'),
                                       D.cpumed('zstd3') / D.cpumed('ingest.nosync')))

    # ---- 2. archive size
    sb = D.num('store_bytes')
    zb = D.num('zstd3_bytes')
    if sb and zb:
        tv = '%s (segments %s + index %s)' % (fmb(sb), fmb(D.num('store_seg_bytes') or 0),
                                              fmb(D.num('store_idx_bytes') or 0))
        peer = 'zstd -3: %s (of %s inner)' % (fmb(zb), fmb(inner_b or 0))
        r = sb / zb
        rows.append(('2', 'archive size', tv, peer, '%.3fx' % r, '<= 1.10x', status(r <= 1.10)))
    else:
        rows.append(('2', 'archive size', fmb(sb) if sb else 'n/a', 'n/a', '', '<= 1.10x', 'n/a'))

    msb, mzb = D.num('many_store_bytes'), D.num('many_zstd3_bytes')
    if msb and mzb:
        tv = '%s (segments %s + index %s)' % (fmb(msb), fmb(D.num('many_store_seg_bytes') or 0),
                                              fmb(D.num('many_store_idx_bytes') or 0))
        rows.append(('2', 'archive size, 1M-flow capture', tv,
                     'zstd -3: %s (of %s inner)' % (fmb(mzb), fmb(D.num('many_inner_bytes') or 0)),
                     '%.3fx' % (msb / mzb), '<= 1.10x', status(msb / mzb <= 1.10)))

    # ---- 3. one-host query
    host = I.get('host', '?')
    tq = D.med('query1x')
    tt = D.med('tcpdump1x')
    c1, ct = I.get('query1x_count', '?'), I.get('tcpdump1x_count', '?')
    if tq is not None and D.ok('query1x'):
        tv = '%s (%s), %s pkts' % (fsec(tq), D.spread('query1x'), c1)
        if tt is not None and D.ok('tcpdump1x'):
            peer = 'tcpdump -r inner: %s (%s), %s pkts' % (fsec(tt), D.spread('tcpdump1x'), ct)
            r = tt / tq
            rows.append(('3', 'query `host %s` (1x)' % host, tv, peer, '%.1fx faster' % r,
                         '>= 20x faster', status(r >= 20)))
        else:
            rows.append(('3', 'query `host %s` (1x)' % host, tv, 'tcpdump: skipped', '', '>= 20x faster', 'n/a'))
        same = 'same' if c1 == ct else 'DIFFERENT'
        note('3', 'packet counts tapvault %s vs tcpdump %s (%s); records identical (ns time, lengths, '
                  'bytes): %s' % (c1, ct, same, I.get('query1x_identical', '?')))
    else:
        rows.append(('3', 'query 1x', 'n/a', '', '', '>= 20x faster', 'n/a'))

    # ---- 4. 4x archive
    t4 = D.med('query4x')
    if t4 is not None and tq and D.ok('query4x'):
        tv = '%s (%s), %s pkts, store %s' % (fsec(t4), D.spread('query4x'), I.get('query4x_count', '?'),
                                             fmb(D.num('store4x_bytes') or 0))
        r = t4 / tq
        rows.append(('4', 'same query on 4x archive', tv, '1x: %s, %s pkts' % (fsec(tq), c1),
                     '%.2fx slower' % r, '< 2x slower', status(r < 2.0)))
        if I.get('plan1x') or I.get('plan4x'):
            note('4', 'query plan 1x: %s; 4x: %s' % (I.get('plan1x', '?'), I.get('plan4x', '?')))
    else:
        rows.append(('4', 'same query on 4x archive', 'n/a', '', '', '< 2x slower', 'n/a'))

    # ---- 5. peak memory
    r5 = D.rss('ingest.sync')
    if r5 is not None:
        extra = []
        for k, lab in (('ingest.nosync', '--no-sync'), ('ingest.noflows', '--no-flows'),
                       ('ingest.many', '1M flows')):
            if D.rss(k) is not None:
                extra.append('%s %s' % (lab, fmib(D.rss(k))))
        rz = D.rss('zstd3')
        rows.append(('5', 'ingest peak RSS', fmib(r5) + ('; ' + ', '.join(extra) if extra else ''),
                     'zstd -3 -T1: %s' % fmib(rz) if rz else '', '', '< 256 MiB',
                     status(max([r5] + [D.rss(k) or 0 for k in ('ingest.nosync', 'ingest.noflows')])
                            < 256 * 1024)))
        note('5', 'the status covers the ingests of the generated capture; the 1M-flow ingest has its own row (6)')

    # ---- 6. flow records
    tf, tn = D.med('ingest.nosync'), D.med('ingest.noflows')
    flows = I.get('flow_records', '?')
    if tf and tn and D.ok('ingest.noflows'):
        over = (tf - tn) / tn * 100
        tv = 'flows on %s vs --no-flows %s: %+.1f%% (%s records)' % (fsec(tf), fsec(tn), over, flows)
        rows.append(('6', 'flow overhead (--no-sync)', tv, '', '', 'report', 'info'))
    peer_rows = (('nfpcapd', 'nfpcapd -r inner -w DIR', 'nf_flows'),
                 ('softflowd', 'softflowd -r inner -c none', 'sf_flows'))
    if tf and inner_b:
        tvrate = '%.0f MB/s inner, %s records' % (inner_b / tf / 1e6, flows)
        for key, lab, fk in peer_rows:
            t = D.med(key)
            if t is None or not D.ok(key):
                rows.append(('6', 'flow records vs %s' % key, tvrate, '%s: skipped' % key, '', 'report', 'n/a'))
                continue
            peer = '%s: %.0f MB/s inner, %s flows (%s)' % (lab, inner_b / t / 1e6, I.get(fk, '?'), fsec(t))
            rows.append(('6', 'flow records vs %s' % key, tvrate, peer, 'tapvault %.2fx slower' % (tf / t), 'report', 'info'))
    tm = D.med('ingest.many')
    if tm is not None:
        mf = I.get('many_flow_records', '?')
        mb = D.num('many_inner_bytes') or 0
        tv = '%s, %s, %s records (%s/s)' % (fsec(tm), fmib(D.rss('ingest.many')), mf,
                                            frate(float(mf) / tm, 'rec') if mf not in ('?', '') else '?')
        peers = []
        for key, lab in (('many.nfpcapd', 'nfpcapd'), ('many.softflowd', 'softflowd')):
            t = D.med(key)
            if t is not None and D.ok(key):
                peers.append('%s %s, %s, %s flows' % (lab, fsec(t), fmib(D.rss(key)),
                                                     I.get(key + '_flows', '?')))
        if D.num('many_rss_anon_kib'):
            note('6', '1M-flow ingest, one extra run sampled at 10 Hz: peak RssAnon %s, peak RssFile %s (file pages '
                      'are the LMDB map of the index, page cache that the kernel can reclaim; /usr/bin/time counts '
                      'both)' % (fmib(D.num('many_rss_anon_kib')), fmib(D.num('many_rss_file_kib'))))
        rows.append(('6', '1M-flow capture ingest (%s pkts, %s inner)' % (I.get('many_packets', '?'), fmb(mb)),
                     tv, '; '.join(peers) or 'peers skipped', '', '< 256 MiB RSS',
                     status((D.rss('ingest.many') or 0) < 256 * 1024)))

    # ---- 7. live ingest
    if I.get('live') == 'yes':
        sent_cap = I.get('live_tcpdump', '')
        for w in ('1', '2'):
            v = I.get('live_w%s' % w)
            if v:
                rows.append(('7', 'live ingest, %s worker%s, %s s, zero drops' % (w, '' if w == '1' else 's',
                                                                                I.get('live_seconds', '?')),
                             v, sent_cap if w == '1' else '', '', 'report', 'info'))
    else:
        rows.append(('7', 'live ingest', 'skipped', '', '', '', 'n/a'))
        note('7', I.get('live_note', 'live ingest not measured'))

    # ---- 8. audit
    if I.get('audit') == 'yes':
        a = {k[6:]: v for k, v in I.items() if k.startswith('audit.')}
        if 'audit_wall_s' in a:
            tv = 'audit %s s, %s peak RSS; --no-payload %s s, %s; %s flow-log lines, %s flows (%s)' % (
                a.get('audit_wall_s', '?'), fmib(float(a.get('audit_peak_rss_kb', 0) or 0)),
                a.get('audit_no_payload_wall_s', '?'), fmib(float(a.get('audit_no_payload_peak_rss_kb', 0) or 0)),
                a.get('flowlog_lines', '?'), a.get('audit_flows', '?'), I.get('audit_summary', ''))
            try:
                lps = float(a['flowlog_lines']) / float(a['audit_wall_s'])
                tv += '; %s' % frate(lps, 'lines/s')
            except (KeyError, ValueError, ZeroDivisionError):
                pass
            rows.append(('8', 'audit of ~1M flow-log lines (tests/bench/audit_bench.sh)', tv, '', '', 'report', 'info'))
            if a.get('audit_classes'):
                note('8', 'audit classes: ' + a['audit_classes'])
            if a.get('ingest_wall_s'):
                note('8', 'its archive: %s bytes of capture ingested in %s s (--flow-interval 60), peak RSS %s' % (
                    a.get('archive_bytes', '?'), a.get('ingest_wall_s'), fmib(float(a.get('ingest_peak_rss_kb', 0) or 0))))
        else:
            rows.append(('8', 'audit (tests/bench/audit_bench.sh)', I.get('audit_summary', 'see below'),
                         '', '', '', 'n/a'))
    else:
        rows.append(('8', 'audit', 'skipped', '', '', '', 'n/a'))
        note('8', I.get('audit_note', 'audit not measured'))

    for r, t in D.notes:
        note(r, t)

    try:
        prof = 'default %.0f MB' % (float(I.get('bench_bytes', '0')) / 1e6)
    except ValueError:
        prof = 'default'
    L = []
    L.append('## Profile: default (tv-gen --target-bytes: the scripted scenario with heavy TLS bulk)')
    L.append('')
    L.append('%s; %s; capture %s (%s outer bytes, %s inner bytes, %s packets, seed %s); '
             'medians of %s runs (±: half the min-max spread); page cache %s.' % (
                 I.get('date', '?'), I.get('machine', '?'), I.get('bench_bytes', '?'),
                 I.get('outer_bytes', '?'), I.get('inner_bytes', '?'), I.get('packets', '?'),
                 I.get('seed', '1'), runs, I.get('cache', 'warm')))
    L.append('load average at start %s, at end %s; tapvault %s.' % (
        I.get('load_start', '?'), I.get('load_end', '?'), I.get('tapvault', '?')))
    L.append('')
    L.append('| profile | # | measurement | tapvault | peer | ratio | goal | status |')
    L.append('|---|---|---|---|---|---|---|---|')
    for r in rows:
        L.append('| ' + ' | '.join(str(x).replace('|', '\\|') for x in (prof,) + tuple(r)) + ' |')
    L.append('')
    if notes:
        L.append('Notes:')
        L.append('')
        for n in notes:
            L.append('- ' + n)
        L.append('')
    if I.get('audit') == 'yes':
        p = os.path.join(d, 'audit_rows.md')
        if os.path.exists(p):
            L.append('Audit (from tests/bench/audit_bench.sh):')
            L.append('')
            L.extend(open(p).read().rstrip('\n').split('\n'))
            L.append('')
    L.append('All measurements (wall time; peak RSS from /usr/bin/time -v):')
    L.append('')
    L.append('| profile | key | runs | median | min | max | CPU (median) | peak RSS | command |')
    L.append('|---|---|---|---|---|---|---|---|---|')
    for k, m in D.meas.items():
        ws = [w for w, _, _ in m]
        bad = [rc for _, _, rc in m if rc != 0]
        L.append('| %s | %s | %d%s | %s | %s | %s | %s | %s | `%s` |' % (
            prof, k, len(m), ' (exit %s)' % ','.join(map(str, bad)) if bad else '',
            fsec(statistics.median(ws)), fsec(min(ws)), fsec(max(ws)), fsec(D.cpumed(k)),
            fmib(max(r for _, r, _ in m)), D.cmds.get(k, '').replace('|', '\\|')))
    L.append('')
    text = '\n'.join(L)
    with open(out, 'w') as f:
        f.write(text)
    print(text)


def cmd_udperr():
    with open('/proc/net/snmp') as f:
        lines = [l.split() for l in f if l.startswith('Udp:')]
    hdr, val = lines[0], lines[1]
    print(int(val[hdr.index('InErrors')]))


def cmd_udpdrops(port):
    port = int(port)
    tot = 0
    for path in ('/proc/net/udp', '/proc/net/udp6'):
        try:
            with open(path) as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        for line in lines[1:]:
            w = line.split()
            if len(w) >= 13 and int(w[1].rsplit(':', 1)[1], 16) == port:
                tot += int(w[12])
    print(tot)


def cmd_sink(port, maxsec):
    import socket
    import time
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind(('127.0.0.1', int(port)))
    s.settimeout(0.5)
    end = time.time() + float(maxsec)
    last = time.time()
    n = 0
    while time.time() < end:
        try:
            s.recv(65536)
            n += 1
            last = time.time()
        except socket.timeout:
            if n and time.time() - last > 3:
                break
    print(n)


def main(a):
    if len(a) < 2:
        raise SystemExit(__doc__)
    c = a[1]
    if c == 'count':
        cmd_count(a[2])
    elif c == 'sameseq':
        cmd_sameseq(a[2], a[3])
    elif c == 'hosts':
        cmd_hosts(a[2], a[3], a[4])
    elif c == 'hostcount':
        cmd_hostcount(a[2], a[3:])
    elif c == 'json':
        cmd_json(a[2], a[3:])
    elif c == 'jsondrops':
        cmd_jsondrops(a[2])
    elif c == 'udperr':
        cmd_udperr()
    elif c == 'udpdrops':
        cmd_udpdrops(a[2])
    elif c == 'sink':
        cmd_sink(a[2], a[3])
    elif c == 'report':
        cmd_report(a[2], a[3])
    else:
        raise SystemExit(__doc__)


if __name__ == '__main__':
    main(sys.argv)
