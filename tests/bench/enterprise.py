#!/usr/bin/env python3
"""Helpers of tests/bench/bench_enterprise.sh (the enterprise-profile bench).

  enterprise.py queries SUMMARY HOSTS TRUTH     the benchmark's queries, one per line:
                                                NAME <TAB> EXPR <TAB> PEER (tcpdump|window T1 T2)
  enterprise.py records PCAP                    'N BYTES': packets and captured bytes of a pcap
  enterprise.py plan FILE                       the plan line's numbers as key=value words
  enterprise.py tables [-v] INDEX_DIR           'flows BYTES total BYTES' of an LMDB index (mdb_stat):
                                                flow records = tables "flows" and "v2_flows"; -v adds
                                                a line with every table's bytes, largest first
  enterprise.py report RAW OUT.md               the results: every goal per size and for the 4x
                                                archive (met / missed), then a table per size, the
                                                plan lines and the raw times

RAW holds info.tsv (size <TAB> key <TAB> value) and the hyperfine JSON exports
(SIZE.ingest.json, SIZE.q.NAME.json), all written by bench_enterprise.sh.  The
work bound of an answer comes from build/work-bound (tests/bench/work_bound.c,
the definition of tests/unit/workbound.h), not from here.
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
FLOW_TABLES = ('flows', 'v2_flows')   # VPC flow records: format 1, format 2


def cmd_tables(args):
    """bytes of the flow-record tables and of all tables of an LMDB environment"""
    verbose = args[:1] == ['-v']
    index_dir = args[-1]
    try:
        out = subprocess.run(['mdb_stat', '-a', index_dir], capture_output=True, text=True, check=True).stdout
        env = subprocess.run(['mdb_stat', '-e', index_dir], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        print('flows 0 total 0')
        if verbose:
            print('-')
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
    flows = sum(pages.get(t, 0) for t in FLOW_TABLES)
    print('flows %d total %d' % (flows * psize, sum(pages.values()) * psize))
    if verbose:
        big = sorted(((p, n) for n, p in pages.items() if p), reverse=True)
        print(' '.join('%s=%d' % (n.replace(' ', '_'), p * psize) for p, n in big) or '-')


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
    if abs(b) < 1e6:
        return '%.1f kB' % (b / 1e3)
    return '%.1f MB' % (b / 1e6)


def fmib(kib):
    return '%.1f MiB' % (kib / 1024.0)


def status(ok, stretch=None):
    if ok is None:
        return 'n/a'
    if not ok:
        return '**missed**'
    return 'met (stretch met too)' if stretch else 'met'


def memkv(s):
    return dict(w.split('=', 1) for w in s.split() if '=' in w) if s else {}


def size_bytes(S):
    m = re.match(r'^(\d+)([KMGT]?)', S.upper())
    if not m:
        return 0
    return int(m.group(1)) << {'': 0, 'K': 10, 'M': 20, 'G': 30, 'T': 40}[m.group(2)]


QUERIES = ('flow', 'beacon', 'client', 'server', 'dns', 'window')
SPEED_GOAL = {'flow': 50, 'beacon': 40, 'client': 20}   # at 1 GiB (and above)
SUMMARY = [   # key, what, goal: the rows of the goals table, as in the README
    ('ingest', 'ingest time / `zstd -3 -T1` of the inner capture (wall; CPU)', '<= 1.0x (stretch 0.5x)'),
    ('store', 'store (segments + index + flow records) / `zstd -3` size', '<= 1.00x (stretch 0.95x)'),
    ('share', 'index + flow records, share of the store', '<= 5 %'),
    ('q.flow', 'one flow (its 5-tuple): tcpdump time / query work', '>= 50x at 1 GiB'),
    ('q.beacon', 'the beaconing host: tcpdump time / query work', '>= 40x at 1 GiB'),
    ('q.client', 'the client host: tcpdump time / query work', '>= 20x at 1 GiB'),
    ('q.server', 'the server host: tcpdump time / query work', 'report'),
    ('q.dns', '`port 53`: tcpdump time / query work', 'report'),
    ('q.window', 'a 10 s window: `editcap -A/-B` time / query work', 'report'),
    ('4x', 'each query: time on the 4x archive / on the 1x archive', '<= 1.5x'),
    ('work.beacon', 'beaconing host: bytes decoded / bound (blocks read)', '<= 1.0x'),
    ('work.client', 'client host: bytes decoded / bound (blocks read)', '<= 1.0x'),
    ('mem.ingest', 'ingest RssAnon peak', '<= 256 MiB'),
    ('mem.query', 'query RssAnon peak (the largest of the six queries)', '<= 128 MiB'),
]


def store_rows(prof, I, pre, zb, rows, goals):
    """store size and the index + flow records' share; pre is 'store' or 'store4x'"""
    tot = float(I.get(pre + '.total', 0) or 0)
    if not tot:
        return
    seg, idx, fr = (float(I.get('%s.%s' % (pre, k), 0)) for k in ('segments', 'index', 'flowrec'))
    if zb:
        r, rs = tot / zb, seg / zb
        st = status(r <= 1.0, r <= 0.95)
        rows.append((prof, 'store size', '%s: segments %s + index %s + flow records %s' % (
            fmb(tot), fmb(seg), fmb(idx), fmb(fr)), '`zstd -3`: %s' % fmb(zb),
            '%.3fx (segments alone %.3fx)' % (r, rs), '<= 1.00x (stretch 0.95x)', st))
        goals['store'] = ('%.3fx (%s / %s; segments alone %.3fx)' % (r, fmb(tot), fmb(zb), rs), st)
    share = (idx + fr) / tot
    st = status(share <= 0.05)
    rows.append((prof, 'index + flow records', '%s + %s = %.1f %% of the store (%s)' % (
        fmb(idx), fmb(fr), 100 * share, fmb(tot)), 'LMDB tables: %s' % I.get(pre + '.tables', '?'), '',
        '<= 5 %', st))
    goals['share'] = ('%.1f %% (%s + %s beside %s of segments)' % (100 * share, fmb(idx), fmb(fr), fmb(seg)), st)


def ingest_rows(prof, ing, rows, goals):
    ti, tz = med(ing[0]), med(ing[1])
    ci = ing[0]['user'] + ing[0]['system']
    cz = ing[1]['user'] + ing[1]['system']
    r = ti / tz
    st = status(r <= 1.0, r <= 0.5)
    rows.append((prof, 'ingest time (default options, fdatasync)', '%s (CPU %s)' % (fsec(ti), fsec(ci)),
                 '`zstd -3 -T1` of the inner capture: %s (CPU %s)' % (fsec(tz), fsec(cz)),
                 '%.2fx (CPU %.2fx)' % (r, ci / cz), '<= 1.0x (stretch 0.5x)', st))
    goals['ingest'] = ('%.2fx wall (%s / %s), %.2fx CPU' % (r, fsec(ti), fsec(tz), ci / cz), st)


def mem_row(prof, what, m, limit, note, rows):
    anon = int(m.get('rss_anon_kib', 0))
    st = status(anon <= limit * 1024)
    rows.append((prof, what, 'RssAnon peak %s (RssFile %s, VmHWM %s)%s' % (
        fmib(anon), fmib(int(m.get('rss_file_kib', 0))), fmib(int(m.get('vm_hwm_kib', 0))), note), '', '',
        '<= %d MiB RssAnon' % limit, st))
    return ('%s%s' % (fmib(anon), note), st)


def plan_text(plan):
    if not plan:
        return ''
    return '; plan %s of %s chunks, %s read, %s blocks, %s decoded' % (
        plan.get('chunks_planned', '?'), plan.get('chunks_total', '?'), fmb(float(plan.get('bytes_read', 0))),
        plan.get('blocks_read', '?'), fmb(float(plan.get('bytes_decoded', 0))))


def work_row(prof, q, plan, wb, rows):
    """bytes decoded (the plan line) against the bound (build/work-bound)"""
    dec, bound = plan.get('bytes_decoded'), float(wb.get('bound', 0))
    if dec is None or not bound:
        rows.append((prof, 'work of query %s' % q, 'the plan line says nothing of bytes decoded', '', '',
                     '<= 1.0x', 'n/a'))
        return ('n/a', 'n/a')
    r = float(dec) / bound
    st = status(r <= 1.0)
    note = ''
    if wb.get('bytes_decoded') not in (None, str(dec)):
        note = ' (work-bound decoded %s)' % wb['bytes_decoded']
    rows.append((prof, 'work of query %s' % q, '%s decoded, %s blocks read (%s of %s chunks)%s' % (
        fmb(float(dec)), plan.get('blocks_read', '?'), plan.get('chunks_read', '?'),
        plan.get('chunks_total', '?'), note),
        'bound: 16 x %s returned + 64 KiB x %s flow-chunks (%s) = %s' % (
            fmb(float(wb.get('bytes', 0))), wb.get('flow_chunks', '?'), fmb(float(wb.get('allowance', 0))),
            fmb(bound)), '%.2fx of the bound' % r, '<= 1.0x', st))
    return ('%.2fx (%s decoded, %s blocks; bound %s)' % (r, fmb(float(dec)), plan.get('blocks_read', '?'),
                                                        fmb(bound)), st)


def query_rows(prof, S, I, raw, rows, goals, goals4, raws):
    big = size_bytes(S) >= 1 << 30
    qmem, qmem4, r4s = [], [], []
    for q in QUERIES:
        hf = load_hf(raw, '%s.q.%s.json' % (S, q))
        if not hf:
            continue
        raws.append((prof, 'query %s' % q, hf))
        by = {r['command']: r for r in hf}
        tv, tq, tp, t4 = by.get('version'), by.get('query'), by.get('peer'), by.get('query-4x')
        work = med(tq) - med(tv)
        plan = memkv(I.get('q.%s.plan' % q, ''))
        goal = SPEED_GOAL.get(q)
        gtxt = ('>= %dx at 1 GiB' % goal) if goal else 'report'
        if work > 0:
            ratio = med(tp) / work
            rtxt = '%.1fx' % ratio
            ok = ratio >= goal if goal else None
        else:
            rtxt = 'unbounded: work <= 0 (the query within the noise of `tapvault --version`)'
            ok = True if goal else None
        st = 'info' if not goal else (status(ok) if big else 'n/a (goal at 1 GiB)')
        rows.append((prof, 'query %s `%s` (%s packets)' % (q, I.get('q.%s.expr' % q, '?'),
                                                          I.get('q.%s.count' % q, '?')),
                     '%s, work %s%s' % (fsec(med(tq)), fsec(work), plan_text(plan)),
                     '%s: %s; `tapvault --version` %s' % (I.get('q.%s.peername' % q, 'tcpdump'), fsec(med(tp)),
                                                           fsec(med(tv))), rtxt, gtxt, st))
        goals['q.' + q] = ('%s (%s / %s)' % (rtxt.split(':')[0], fsec(med(tp)), fsec(work)), st)
        if t4:
            p4 = memkv(I.get('q.%s.plan4x' % q, ''))
            r4 = med(t4) / med(tq)
            w4 = med(t4) - med(tv)
            r4s.append((r4, q))
            rows.append((prof, 'query %s on the 4x archive' % q, '%s, work %s%s' % (fsec(med(t4)), fsec(w4),
                                                                                plan_text(p4)),
                         '1x: %s, work %s' % (fsec(med(tq)), fsec(work)),
                         '%.2fx (work %s)' % (r4, ('%.2fx' % (w4 / work)) if work > 0 and w4 > 0 else
                                              'not resolved: <= 0 on one archive'),
                         '<= 1.5x', status(r4 <= 1.5)))
        if q in ('beacon', 'client'):
            wb = memkv(I.get('q.%s.wb' % q, ''))
            if wb:
                goals['work.' + q] = work_row(prof, q, plan, wb, rows)
            wb4 = memkv(I.get('q.%s.wb4x' % q, ''))
            if wb4:
                goals4['work.' + q] = work_row(prof + ' 4x', q, memkv(I.get('q.%s.plan4x' % q, '')), wb4, rows)
        mq = memkv(I.get('q.%s.mem' % q, ''))
        if mq:
            qmem.append((int(mq.get('rss_anon_kib', 0)), q))
        mq4 = memkv(I.get('q.%s.mem4x' % q, ''))
        if mq4:
            qmem4.append((int(mq4.get('rss_anon_kib', 0)), q))
    if r4s:
        top = max(r4s)
        goals4['4x'] = ('largest %.2fx (%s); %s' % (top[0], top[1], ', '.join('%s %.2fx' % (q, r) for r, q in r4s)),
                        status(top[0] <= 1.5))
    for mem, g, p in ((qmem, goals, prof), (qmem4, goals4, prof + ' 4x')):
        if mem:
            top = max(mem)
            st = status(top[0] <= 128 * 1024)
            rows.append((p, 'query memory', 'RssAnon peak %s (%s); all: %s' % (
                fmib(top[0]), top[1], ', '.join('%s %s' % (q, fmib(a)) for a, q in mem)), '', '',
                '<= 128 MiB RssAnon', st))
            g['mem.query'] = ('%s (%s)' % (fmib(top[0]), top[1]), st)


def size_section(raw, S, I, L, raws):
    """the detailed table of one size; returns the goals of its 1x and 4x columns"""
    prof = 'enterprise %s' % S
    goals, goals4, rows = {}, {}, []
    L.append('### %s: %s packets, %s flows (truth rows), %s s; outer %s, inner %s; %s chunks' % (
        prof, I.get('packets', '?'), I.get('flows', '?'), I.get('duration_s', '?'),
        fmb(float(I.get('outer_bytes', 0))), fmb(float(I.get('inner_bytes', 0))), I.get('chunks', '?')))
    L.append('')
    L.append('Load average (1, 5, 15 min): %s.' % '; '.join(
        'at %s %s' % (k, I['load.' + k]) for k in ('start', 'ingest', 'end') if 'load.' + k in I))
    L.append('')
    ing = load_hf(raw, '%s.ingest.json' % S)
    if ing:
        raws.append((prof, 'ingest and zstd', ing))
        ingest_rows(prof, ing, rows, goals)
    zb = float(I.get('zstd_bytes', 0) or 0)
    store_rows(prof, I, 'store', zb, rows, goals)
    m = memkv(I.get('mem.ingest', ''))
    if m:
        goals['mem.ingest'] = mem_row(prof, 'ingest memory', m, 256, '', rows)
    if I.get('store4x.total'):
        store_rows(prof + ' 4x', I, 'store4x', 0, rows, goals4)
        rows.append((prof + ' 4x', '4x archive', '%s chunks, built in %s s: the 1x store and three --relabel '
                     'copies, ingested with --no-sync' % (I.get('chunks4x', '?'), I.get('build4x_s', '?')),
                     '', '', '', 'info'))
        m4 = memkv(I.get('mem.ingest4x', ''))
        if m4:
            goals4['mem.ingest'] = mem_row(prof + ' 4x', 'ingest memory, the 4th copy into the 4x archive', m4,
                                           256, ' (--no-sync)', rows)
    query_rows(prof, S, I, raw, rows, goals, goals4, raws)
    L.append('| profile | measurement | tapvault | peer, same run | ratio | goal | status |')
    L.append('|---|---|---|---|---|---|---|')
    for r in rows:
        L.append('| ' + ' | '.join(str(x).replace('|', '\\|') for x in r) + ' |')
    L.append('')
    for suf, title in (('', prof), ('4x', prof + ', 4x archive')):
        plans = [(q, I['q.%s.planline%s' % (q, suf)]) for q in QUERIES if 'q.%s.planline%s' % (q, suf) in I]
        if plans:
            L.append('Plan lines (`tapvault query -v`), %s:' % title)
            L.append('')
            for q, v in plans:
                L.append('- %s: `%s`' % (q, v))
            L.append('')
    return goals, goals4


def summary_table(cols):
    """cols: [(header, goals)]: one row per goal, one column per size and 4x archive"""
    L = ['### Goals, enterprise profile', '',
         '| enterprise profile | goal | ' + ' | '.join(h for h, _ in cols) + ' |',
         '|---|---|' + '---|' * len(cols)]
    for key, what, goal in SUMMARY:
        cells = []
        for _, g in cols:
            v = g.get(key)
            cells.append('%s: %s' % v if v else '-')
        if any(c != '-' for c in cells):
            L.append('| %s | %s | %s |' % (what, goal, ' | '.join(c.replace('|', '\\|') for c in cells)))
    L.append('')
    L.append('The query goals apply at 1 GiB: at other sizes their status is "n/a (goal at 1 GiB)". '
             '"-": not measured at that size (the 4x archive is built from one size only).')
    L.append('')
    return L


def cmd_report(raw, out):
    info = load_info(raw)
    g = info.get('-', {})
    sizes = g.get('sizes', '').split()
    head = ['## Profile: enterprise', '',
            '%s; %s; tapvault %s; %s runs per command (hyperfine, warm page cache), medians; '
            'raw times below. Query work = query time - `tapvault --version` time of the same '
            'hyperfine run.' % (g.get('date', '?'), g.get('machine', '?'), g.get('tapvault', '?'),
                                g.get('runs', '?')), '']
    L, raws, cols = [], [], []
    for S in sizes:
        I = info.get(S, {})
        goals, goals4 = size_section(raw, S, I, L, raws)
        cols.append((S, goals))
        if goals4:
            cols.append(('4x archive (%s + 3 copies)' % S, goals4))
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
        L.append('Commands (enterprise):')
        L.append('')
        for k, v in sorted(g.items()):
            if k.startswith('cmd.'):
                L.append('- %s: `%s`' % (k[4:], v))
        L.append('')
    text = '\n'.join(head + summary_table(cols) + L)
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
    elif c == 'tables':
        cmd_tables(a[2:])
    elif c == 'report':
        cmd_report(a[2], a[3])
    else:
        raise SystemExit(__doc__)


if __name__ == '__main__':
    main(sys.argv)
