#!/usr/bin/env python3
"""One table row per bench.sh SHORT=1 run (issue 18): max req/s of each target, ratios to nginx,
CPU per request of the gateway and Redis (from bench.sh's per-process accounting over the measured
window), added latency at 1,000 req/s, usage events lost, load average. Usage: summarize.py RAW_DIR..."""
import json, os, sys

def kv(path):
    out = {}
    if os.path.exists(path):
        for line in open(path):
            if '=' in line:
                k, v = line.rstrip('\n').split('=', 1)
                out[k] = v
    return out

print('| run | jar | load avg start / after | direct | nginx | pass (× nginx) | metered (× nginx) | metered × direct | gateway µs/req metered | Redis µs/req metered | gateway µs/req pass | 1k/s metered added p50 / p99 ms | admitted, lost |')
print('|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|')
for raw in sys.argv[1:]:
    j = lambda n: json.load(open(os.path.join(raw, n + '.json')))
    meta = kv(os.path.join(raw, 'meta.txt'))
    mx = {t: j('cmp-max-' + t) for t in ('direct', 'nginx', 'pass', 'metered')}
    tp = {t: mx[t]['throughput'] for t in mx}
    def us(target, proc):
        c = kv(os.path.join(raw, 'cmp-max-%s.cpu.txt' % target))
        return float(c[proc + '_cpu_s']) / (tp[target] * float(c['wall_s'])) * 1e6
    d1, m1 = j('cmp-1000-direct'), j('cmp-1000-metered')
    adm = lost = 0
    for n in os.listdir(raw):
        if n.endswith('.usage.txt'):
            u = kv(os.path.join(raw, n))
            a = int(u['admittedAfter']) - int(u['admittedBefore'])
            adm += a
            lost += a - (int(u['rowsAfter']) - int(u['rowsBefore']))
    jar = meta.get('gateway jar', '?').split('/')[-2] if '/' in meta.get('gateway jar', '') else '?'
    print('| %s | %s | %s / %s | %.0f | %.0f | %.0f (%.2f) | %.0f (%.2f) | %.2f | %.0f | %.0f | %.0f | %+.3f / %+.3f | %d, %d |' % (
        os.path.basename(raw.rstrip('/')).replace('2026-11-29-throughput-', ''), jar,
        meta.get('load average at start', '?'), meta.get('load average after', '?'),
        tp['direct'], tp['nginx'], tp['pass'], tp['pass'] / tp['nginx'], tp['metered'], tp['metered'] / tp['nginx'],
        tp['metered'] / tp['direct'], us('metered', 'gateway'), us('metered', 'redis'), us('pass', 'gateway'),
        m1['latencyMs']['p50'] - d1['latencyMs']['p50'], m1['latencyMs']['p99'] - d1['latencyMs']['p99'], adm, lost))
