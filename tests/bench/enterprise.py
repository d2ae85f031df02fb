#!/usr/bin/env python3
"""Helpers of tests/bench/bench_enterprise.sh (the enterprise-profile bench).

  enterprise.py queries SUMMARY HOSTS TRUTH     the benchmark's queries, one per line:
                                                NAME <TAB> EXPR <TAB> PEER (tcpdump|window T1 T2)
  enterprise.py records PCAP                    'N BYTES': packets and captured bytes of a pcap
  enterprise.py plan FILE                       the plan line's numbers as key=value words
  enterprise.py bound PCAP FIRST_NS LAST_NS CHUNKS
                                                the work bound of a query's answer: 16 x its bytes
                                                + 64 KiB per (matching flow, chunk), the chunks of a
                                                flow estimated from the time its packets span
  enterprise.py tables INDEX_DIR                'flows BYTES total BYTES' of an LMDB index (mdb_stat)
  enterprise.py report RAW OUT.md               the results (tables per size, raw times)

RAW holds info.tsv (size <TAB> key <TAB> value) and the hyperfine JSON exports
(SIZE.ingest.json, SIZE.q.NAME.json), all written by bench_enterprise.sh.
"""
import csv
import json
import os
import re
import statistics
import struct
import subprocess
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
            ts, tf, incl, _ = struct.unpack(end + 'IIII', rh)
            yield ts * 1000000000 + tf * mult, f.read(incl)


def cmd_records(path):
    n = b = 0
    for _, d in pcap_records(path):
        n += 1
        b += len(d)
    print(n, b)


def flow_key(d):
    """unidirectional 5-tuple of an Ethernet frame (None when not IP)"""
    if len(d) < 14:
        return None
    et = struct.unpack('>H', d[12:14])[0]
    if et == 0x0800 and len(d) >= 34:
        ihl = (d[14] & 15) * 4
        proto, src, dst, l4 = d[23], d[26:30], d[30:34], 14 + ihl
    elif et == 0x86dd and len(d) >= 54:
        proto, src, dst, l4 = d[20], d[22:38], d[38:54], 54
    else:
        return None
    ports = d[l4:l4 + 4] if proto in (6, 17) else b''
    return (src, dst, proto, ports)


def cmd_bound(path, first_ns, last_ns, chunks):
    first, last = int(first_ns), int(last_ns)
    chunks = max(1, int(chunks)) if chunks.isdigit() else 1
    slot = max(1, (last - first + 1) // chunks)
    fc = set()
    nbytes = 0
    for ts, d in pcap_records(path):
        nbytes += len(d)
        fc.add((flow_key(d), (ts - first) // slot))
    print('bytes=%d flow_chunks=%d bound=%d' % (nbytes, len(fc), 16 * nbytes + 65536 * len(fc)))


# ---------------------------------------------------------------- queries
def kv(path):
    d = {}
    with open(path) as f:
        for line in f:
            if '=' in line:
                k, v = line.rstrip('\n').split('=', 1)
                d[k] = v
    return d


def cmd_queries(summary, hosts, truth):
    s = kv(summary)
    first, last = int(s['first_ns']), int(s['last_ns'])
    dur = int(float(s['duration_s']) * 1e9)
    named = {}
    with open(hosts, newline='') as f:
        for r in csv.DictReader(f):
            named[r['role']] = r['addr']
    # one flow: a TCP IPv4 connection of 20-60 packets in the middle half of
    # the capture, of no named host; closest to 40 packets, then earliest
    conns = {}
    with open(truth, newline='') as f:
        for r in csv.DictReader(f):
            if r['proto'] != '6' or ':' in r['src']:
                continue
            a, b = (r['src'], int(r['sport'])), (r['dst'], int(r['dport']))
            k = (r['vni'],) + tuple(sorted([a, b]))
            c = conns.setdefault(k, [0, int(r['first_ns'])])
            c[0] += int(r['packets'])
            c[1] = min(c[1], int(r['first_ns']))
    lo, hi = first + dur // 4, first + dur * 3 // 4
    skip = set(named.values())
    best = None
    for k, (n, t) in conns.items():
        (a, pa), (b, pb) = k[1], k[2]
        if not 20 <= n <= 60 or not lo <= t <= hi or a in skip or b in skip:
            continue
        cand = (abs(n - 40), t, k)
        if best is None or cand < best:
            best = cand
    if best is None:
        raise SystemExit('bench: no TCP connection of 20-60 packets in the truth')
    (a, pa), (b, pb) = best[2][1], best[2][2]
    t1 = (first + dur * 2 // 5) // 10**9
    out = [
        ('flow', 'tcp and host %s and host %s and port %d and port %d' % (a, b, pa, pb), 'tcpdump'),
        ('beacon', 'host %s' % named['beacon'], 'tcpdump'),
        ('client', 'host %s' % named['client'], 'tcpdump'),
        ('server', 'host %s' % named['server'], 'tcpdump'),
        ('dns', 'port 53', 'tcpdump'),
        ('window', 'after %d and before %d' % (t1, t1 + 10), 'window %d %d' % (t1, t1 + 10)),
    ]
    for name, expr, peer in out:
        print('%s\t%s\t%s' % (name, expr, peer))


# ---------------------------------------------------------------- plan line
def parse_plan(text):
    """numbers of the -v plan line, whatever its version adds"""
    d = {}
    m = re.search(r'(\d+) of (\d+) chunks planned', text)
    if m:
        d['chunks_planned'], d['chunks_total'] = int(m.group(1)), int(m.group(2))
    m = re.search(r'(\d+) chunks read \((\d+) bytes\)', text)
    if m:
        d['chunks_read'], d['bytes_read'] = int(m.group(1)), int(m.group(2))
    m = re.search(r'(\d+) packets scanned', text)
    if m:
        d['scanned'] = int(m.group(1))
    m = re.search(r'(\d+) matched', text)
    if m:
        d['matched'] = int(m.group(1))
    # the plan line of format 2 reports what it decoded and the blocks it read
    m = re.search(r'(\d+) bytes decoded', text) or re.search(r'decoded (\d+) bytes', text)
    if m:
        d['bytes_decoded'] = int(m.group(1))
    m = re.search(r'(\d+) blocks read', text) or re.search(r'(\d+) of (\d+) blocks', text)
    if m:
        d['blocks_read'] = int(m.group(1))
    return d


def cmd_plan(path):
    with open(path) as f:
        text = f.read()
    print(' '.join('%s=%s' % kv_ for kv_ in parse_plan(text).items()))


# ---------------------------------------------------------------- index tables
def cmd_tables(index_dir):
    """bytes of the flow-record table and of all tables of an LMDB environment"""
    try:
        out = subprocess.run(['mdb_stat', '-a', index_dir], capture_output=True, text=True, check=True).stdout
        env = subprocess.run(['mdb_stat', '-e', index_dir], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        print('flows 0 total 0')
        return
    psize = int(re.search(r'Page size: (\d+)', env).group(1))
    pages, name = {}, None
    for line in out.splitlines():
        m = re.match(r'Status of (.*)', line)
        if m:
            name = m.group(1)
            continue
        m = re.match(r'\s+(Branch|Leaf|Overflow) pages: (\d+)', line)
        if m and name:
            pages[name] = pages.get(name, 0) + int(m.group(2))
    print('flows %d total %d' % (pages.get('flows', 0) * psize, sum(pages.values()) * psize))


# ---------------------------------------------------------------- report
def load_info(raw):
    info = {}
    path = os.path.join(raw, 'info.tsv')
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                parts = line.rstrip('\n').split('\t', 2)
                if len(parts) == 3:
                    info.setdefault(parts[0], {})[parts[1]] = parts[2]
    return info


def load_hf(raw, name):
    """hyperfine export: {command label: result}"""
    path = os.path.join(raw, name)
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            return json.load(f)['results']
    except (ValueError, KeyError):
        return None   # a run that did not finish


def med(r):
    return statistics.median(r['times'])


def fsec(s):
    if s is None:
        return 'n/a'
    if abs(s) < 1:
        return '%.1f ms' % (s * 1e3)
    return '%.2f s' % s


def fmb(b):
    return '%.1f MB' % (b / 1e6)


def fmib(kib):
    return '%.1f MiB' % (kib / 1024.0)


def status(ok):
    return 'n/a' if ok is None else ('met' if ok else '**missed**')


def memkv(s):
    return dict(w.split('=', 1) for w in s.split()) if s else {}


def cmd_report(raw, out):
    info = load_info(raw)
    sizes = info.get('-', {}).get('sizes', '').split()
    L = []
    g = info.get('-', {})
    L.append('## Profile: enterprise')
    L.append('')
    L.append('%s; %s; tapvault %s; %s runs per command (hyperfine, warm page cache), medians; '
             'raw times below. Query work = query time - `tapvault --version` time of the same '
             'hyperfine run.' % (g.get('date', '?'), g.get('machine', '?'), g.get('tapvault', '?'),
                                 g.get('runs', '?')))
    L.append('')
    raws = []
    for S in sizes:
        I = info.get(S, {})
        prof = 'enterprise %s' % S
        L.append('### %s: %s packets, %s flows (truth rows), %s s; outer %s, inner %s' % (
            prof, I.get('packets', '?'), I.get('flows', '?'), I.get('duration_s', '?'),
            fmb(float(I.get('outer_bytes', 0))), fmb(float(I.get('inner_bytes', 0)))))
        L.append('')
        L.append('Load average (1, 5, 15 min): %s.' % '; '.join(
            'at %s %s' % (k, I['load.' + k]) for k in ('start', 'ingest', 'end') if 'load.' + k in I))
        L.append('')
        L.append('| profile | measurement | tapvault | peer, same run | ratio | goal | status |')
        L.append('|---|---|---|---|---|---|---|')
        rows = []
        ing = load_hf(raw, '%s.ingest.json' % S)
        if ing:
            raws.append((prof, 'ingest and zstd', ing))
            ti, tz = med(ing[0]), med(ing[1])
            ci = ing[0]['user'] + ing[0]['system']
            cz = ing[1]['user'] + ing[1]['system']
            r = ti / tz
            rows.append((prof, 'ingest time (default options, fdatasync)',
                         '%s (CPU %s)' % (fsec(ti), fsec(ci)),
                         '`zstd -3 -T1` of the inner capture: %s (CPU %s)' % (fsec(tz), fsec(cz)),
                         '%.2fx (CPU %.2fx)' % (r, ci / cz), '<= 1.0x (stretch 0.5x)', status(r <= 1.0)))
        tot = float(I.get('store.total', 0) or 0)
        zb = float(I.get('zstd_bytes', 0) or 0)
        if tot and zb:
            seg, idx, fr = (float(I.get('store.' + k, 0)) for k in ('segments', 'index', 'flowrec'))
            rows.append((prof, 'store size', '%s: segments %s + index %s + flow records %s' % (
                fmb(tot), fmb(seg), fmb(idx), fmb(fr)), '`zstd -3`: %s' % fmb(zb),
                '%.3fx (segments alone %.3fx)' % (tot / zb, seg / zb), '<= 1.00x (stretch 0.95x)',
                status(tot / zb <= 1.0)))
            share = (idx + fr) / tot
            rows.append((prof, 'index + flow records', '%s + %s = %.1f %% of the store (%s chunks)' % (
                fmb(idx), fmb(fr), 100 * share, I.get('chunks', '?')), '', '', '<= 5 %', status(share <= 0.05)))
        m = memkv(I.get('mem.ingest', ''))
        if m:
            anon = int(m.get('rss_anon_kib', 0))
            rows.append((prof, 'ingest memory', 'RssAnon peak %s (RssFile %s, VmHWM %s)' % (
                fmib(anon), fmib(int(m.get('rss_file_kib', 0))), fmib(int(m.get('vm_hwm_kib', 0)))), '', '',
                '<= 256 MiB RssAnon', status(anon <= 256 * 1024)))
        goals = {'flow': 50, 'beacon': 40, 'client': 20}
        qmem = []
        for q in ('flow', 'beacon', 'client', 'server', 'dns', 'window'):
            hf = load_hf(raw, '%s.q.%s.json' % (S, q))
            if not hf:
                continue
            raws.append((prof, 'query %s' % q, hf))
            by = {r['command']: r for r in hf}
            tv, tq, tp = by.get('version'), by.get('query'), by.get('peer')
            t4 = by.get('query-4x')
            work = med(tq) - med(tv)
            expr = I.get('q.%s.expr' % q, '?')
            plan = memkv(I.get('q.%s.plan' % q, ''))
            count = I.get('q.%s.count' % q, '?')
            ptxt = ''
            if plan:
                ptxt = '; plan %s of %s chunks, %s read' % (plan.get('chunks_planned', '?'),
                                                          plan.get('chunks_total', '?'),
                                                          fmb(float(plan.get('bytes_read', 0))))
            ratio = med(tp) / work if work > 0 else float('inf')
            goal = goals.get(q)
            at1g = S.upper() in ('1G', '1024M')
            gtxt = ('>= %dx at 1 GiB' % goal) if goal else 'report'
            st = status(ratio >= goal) if goal and at1g else ('info' if not goal else 'n/a (1 GiB goal)')
            rows.append((prof, 'query %s `%s` (%s packets)' % (q, expr, count),
                         '%s, work %s%s' % (fsec(med(tq)), fsec(work), ptxt),
                         '%s: %s; `tapvault --version` %s' % (I.get('q.%s.peername' % q, 'tcpdump'), fsec(med(tp)),
                                                               fsec(med(tv))),
                         '%.1fx' % ratio, gtxt, st))
            if t4:
                p4 = memkv(I.get('q.%s.plan4x' % q, ''))
                r4 = med(t4) / med(tq)
                rows.append((prof, 'query %s on the 4x archive' % q, '%s%s' % (
                    fsec(med(t4)), '; plan %s of %s chunks' % (p4.get('chunks_planned', '?'),
                                                                p4.get('chunks_total', '?')) if p4 else ''),
                    '1x: %s' % fsec(med(tq)), '%.2fx' % r4, '<= 1.5x', status(r4 <= 1.5)))
            b = memkv(I.get('q.%s.bound' % q, ''))
            if b and q in ('beacon', 'client'):
                dec = plan.get('bytes_decoded')
                est = ''
                if dec is None and plan.get('chunks_read') and I.get('raw_bytes') and I.get('chunks'):
                    dec = int(plan['chunks_read']) * float(I['raw_bytes']) / float(I['chunks'])
                    est = ' (estimated: chunks read x mean raw chunk; the plan line does not say)'
                if dec is not None:
                    bound = int(b['bound'])
                    rows.append((prof, 'work of query %s' % q, '%s decoded%s' % (fmb(float(dec)), est),
                                 'bound 16 x %s returned + 64 KiB x %s flow-chunks = %s' % (
                                     fmb(int(b['bytes'])), b['flow_chunks'], fmb(bound)),
                                 '%.1fx of the bound' % (float(dec) / bound), '<= 1.0x', status(float(dec) <= bound)))
            mq = memkv(I.get('q.%s.mem' % q, ''))
            if mq:
                qmem.append((int(mq.get('rss_anon_kib', 0)), q))
            mq4 = memkv(I.get('q.%s.mem4x' % q, ''))
            if mq4:
                qmem.append((int(mq4.get('rss_anon_kib', 0)), q + ' (4x)'))
        if qmem:
            top = max(qmem)
            rows.append((prof, 'query memory', 'RssAnon peak %s (%s); all: %s' % (
                fmib(top[0]), top[1], ', '.join('%s %s' % (q, fmib(a)) for a, q in qmem)), '', '',
                '<= 128 MiB RssAnon', status(top[0] <= 128 * 1024)))
        if I.get('store4x.total'):
            rows.append((prof, '4x archive', '%s (built in %s s: the 1x store and three --relabel copies, '
                         'ingested with --no-sync)' % (fmb(float(I['store4x.total'])), I.get('build4x_s', '?')),
                         '', '', '', 'info'))
        for r in rows:
            L.append('| ' + ' | '.join(str(x).replace('|', '\\|') for x in r) + ' |')
        L.append('')
        plans = [(k[2:-9], v) for k, v in I.items() if k.startswith('q.') and k.endswith('.planline')]
        if plans:
            L.append('Plan lines (`tapvault query -v`), %s:' % prof)
            L.append('')
            for q, v in plans:
                L.append('- %s: `%s`' % (q, v))
            L.append('')
    if raws:
        L.append('Raw times (s), enterprise profile:')
        L.append('')
        L.append('| profile | what | command | median | min | max | runs |')
        L.append('|---|---|---|---|---|---|---|')
        for prof, what, hf in raws:
            for r in hf:
                t = r['times']
                L.append('| %s | %s | %s | %s | %s | %s | %s |' % (
                    prof, what, r['command'], fsec(statistics.median(t)), fsec(min(t)), fsec(max(t)),
                    ' '.join('%.4f' % x for x in t)))
        L.append('')
        cmds = info.get('-', {})
        L.append('Commands (%s):' % 'enterprise')
        L.append('')
        for k, v in sorted(cmds.items()):
            if k.startswith('cmd.'):
                L.append('- %s: `%s`' % (k[4:], v))
        L.append('')
    text = '\n'.join(L)
    with open(out, 'w') as f:
        f.write(text)
    print(text)


def main(a):
    if len(a) < 2:
        raise SystemExit(__doc__)
    c = a[1]
    if c == 'queries':
        cmd_queries(a[2], a[3], a[4])
    elif c == 'records':
        cmd_records(a[2])
    elif c == 'plan':
        cmd_plan(a[2])
    elif c == 'bound':
        cmd_bound(a[2], a[3], a[4], a[5])
    elif c == 'tables':
        cmd_tables(a[2])
    elif c == 'report':
        cmd_report(a[2], a[3])
    else:
        raise SystemExit(__doc__)


if __name__ == '__main__':
    main(sys.argv)
