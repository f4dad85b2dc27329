#!/usr/bin/env python
"""How the costs grow from the demo to ILSVRC size (issue 16, item 5).

Parts (each can be skipped):
- `sizes`: per-image preprocessing and statistics time at `--sizes` images (default 1k, 10k, 50k):
  the real sample JPEGs of `../shared/data/ilsvrc2010-sample` hard-linked under new names into a
  `train/<wnid>/` source folder (skipped cleanly without `../shared`); `preprocess(..., workers=W)`
  and `compute_stats(..., workers=0)` in this process. Target: per-image costs within +-15 % of
  the smallest size's.
- `loader`: a synthetic manifest of `--rows` rows (default 1.28 M, ILSVRC-2012's training set):
  manifest read time (`core.read_manifest`), `Loader` start-up time (construction and workers' first
  batch), resident and private memory of the main process and of each worker after every row has
  been touched once (what a full epoch does; images are one real JPEG served for every row, so
  no 1.28 M files are needed). Targets: start-up <= 5 s, <= 300 MB resident per worker.
- `merge`: joining 16 shard manifests of `--rows` rows (`preprocess.merge_manifests`; the shards as a
  16-task array writes them: class k in shard k % 16, checksums filled, one row in 4000 failed with a
  quoted multi-line reason), against the implementation before (`merge_v0`) interleaved in the same
  run and checked to write the same bytes; and merging 128 partial statistics sums (`stats.merge_sums` + `finalize`).
Writes `benchmarks/results/scaling.json` and `scaling.png`, the committed record `benchmarks/scaling.md`
and `benchmarks/scaling.json` (read by the docs page `nbs/92_performance.ipynb`), and prints the machine
and load beside every figure.

    python benchmarks/scaling.py [--sizes 1000,10000,50000] [--rows 1280000] [--parts sizes,loader,merge]
"""
import argparse, json, os, resource, shutil, sys, tempfile, time
from pathlib import Path
import numpy as np, pandas as pd, torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from alexnet_nb.utils import shared_dir, cpu_name

RESULTS = REPO / 'benchmarks' / 'results'



def load(): return round(os.getloadavg()[0], 1)


def cpu()->float:
    "CPU seconds of this process and its finished children (the preprocessing workers)."
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def mem(pid='self')->dict:
    "Resident (Rss), proportional (Pss) and private (Private_*) memory of a process, in MB."
    out = {}
    for l in open(f'/proc/{pid}/smaps_rollup'):
        k, *v = l.split()
        if k.rstrip(':') in ('Rss', 'Pss', 'Private_Clean', 'Private_Dirty'): out[k.rstrip(':')] = int(v[0]) / 1024
    return dict(rss_mb=out['Rss'], pss_mb=out['Pss'], private_mb=out['Private_Clean'] + out['Private_Dirty'])


# ------------------------------------------------------------------ per-image costs at growing sizes
def one_size(a, work:Path, seeds:list, n:int)->dict:
    "Preprocess and compute the statistics of `n` images (the seeds hard-linked under new names): wall and CPU seconds."
    from alexnet_nb.preprocess import preprocess
    from alexnet_nb.stats import compute_stats
    s = work / f'src{n}'; d = work / f'pre{n}'
    for i in range(n):                            # hard links: the same bytes under new names
        f = seeds[i % len(seeds)]; wnid = f.parent.name; out = s / 'train' / wnid / f'{wnid}_{i:07d}{f.suffix}'
        out.parent.mkdir(parents=True, exist_ok=True); os.link(f, out)
    l0 = load(); t, c = time.perf_counter(), cpu()
    preprocess(s, d, workers=a.workers, quiet=True)
    tp, cp = time.perf_counter() - t, cpu() - c; l1 = load(); t, c = time.perf_counter(), cpu()
    compute_stats(d, workers=0, show_progress=False)
    ts, cs = time.perf_counter() - t, cpu() - c; l2 = load()
    shutil.rmtree(s); shutil.rmtree(d)
    return dict(tp=tp, cp=cp, ts=ts, cs=cs, load=[l0, l1, l2])


def part_sizes(a, work:Path)->dict:
    """Per-image cost at each size. A run also has fixed costs (starting the workers, writing the manifest, the statistics'
    covariances): measured once on `FIXED` images and taken out, so the per-image figures compare the work per image."""
    src = shared_dir('data', 'ilsvrc2010-sample')
    if src is None: print('sizes: ../shared/data/ilsvrc2010-sample not found: skipped'); return {}
    seeds = sorted(p for p in src.glob('train/*/*') if p.is_file())
    one_size(a, work, seeds, FIXED)               # untimed: imports, decoder set-up, the statistics loop's compilation
    f = one_size(a, work, seeds, FIXED)           # the fixed costs of one run
    res = dict(fixed=dict(images=FIXED, preprocess_cpu_s=f['cp'], stats_cpu_s=f['cs'], preprocess_s=f['tp'], stats_s=f['ts']))
    print(f"sizes: fixed costs of one run (measured on {FIXED} images): preprocess {f['cp']:.2f} s CPU, statistics {f['cs']:.2f} s CPU", flush=True)
    for n in [int(s) for s in a.sizes.split(',')]:
        r = one_size(a, work, seeds, n); m = n - FIXED
        res[n] = dict(preprocess_ms=1e3 * r['tp'] / n, stats_ms=1e3 * r['ts'] / n, preprocess_cpu_ms=1e3 * (r['cp'] - f['cp']) / m,
                      stats_cpu_ms=1e3 * (r['cs'] - f['cs']) / m, preprocess_cpu_all_ms=1e3 * r['cp'] / n, stats_cpu_all_ms=1e3 * r['cs'] / n,
                      workers=a.workers, load=r['load'])
        print(f'sizes: {n:7d} images: preprocess {res[n]["preprocess_cpu_ms"]:.2f} ms CPU/image ({res[n]["preprocess_cpu_all_ms"]:.2f} with the fixed costs; '
              f'{res[n]["preprocess_ms"]:.2f} ms wall, {a.workers} workers), statistics {res[n]["stats_cpu_ms"]:.2f} ms CPU/image '
              f'({res[n]["stats_cpu_all_ms"]:.2f} with the fixed costs; {res[n]["stats_ms"]:.2f} ms wall, 1 process); load {r["load"][0]}..{r["load"][-1]}', flush=True)
    ns = sorted(k for k in res if k != 'fixed'); n0 = ns[0]
    for n in ns:
        for k in ('preprocess_cpu_ms', 'stats_cpu_ms'): res[n][k.replace('_ms', '_rel')] = res[n][k] / res[n0][k]
        print(f"sizes: {n:7d} images: CPU per image relative to {n0}: preprocess {res[n]['preprocess_cpu_rel']:.2f}, statistics {res[n]['stats_cpu_rel']:.2f} (target 0.85..1.15)")
    return res

FIXED = 16   # images of the run that measures the fixed costs


# ------------------------------------------------------------------ a 1.28 M-row manifest
def synthetic_root(d:Path, rows:int, classes:int=1000)->Path:
    "manifest.csv (realistic names), classes.csv and stats.pt for `rows` training images, without images."
    d.mkdir(parents=True, exist_ok=True)
    i = np.arange(rows); lab = i % classes
    wn = np.char.add('n', np.char.zfill((1440764 + lab * 997).astype(str), 8))
    out = np.char.add(np.char.add(np.char.add(np.char.add('train/', wn), '/'), np.char.add(np.char.add(wn, '_'), i.astype(str))), '.JPEG')
    m = pd.DataFrame(dict(split='train', source=np.char.add('ILSVRC2012_img_train.tar/', out), output=out, wnid=wn, label=lab,
                          width=500, height=375, mode='RGB', format='JPEG', status='ok', reason=''))
    m.to_csv(d / 'manifest.csv', index=False)
    wnids = sorted(set(wn[:classes].tolist()))
    pd.DataFrame(dict(index=range(classes), wnid=wnids, ilsvrc_id=range(1, classes + 1), words=[f'class {k}' for k in range(classes)],
                      gloss='')).to_csv(d / 'classes.csv', index=False)
    torch.save(dict(mean_image=torch.full((256, 256, 3), 118.0, dtype=torch.float64), eigvals=torch.tensor([0.2, 0.02, 0.005], dtype=torch.float64),
                    eigvecs=torch.eye(3, dtype=torch.float64), pixel_scale='0..1', cov_kind='raw', n_images=rows), d / 'stats.pt')
    return d


def big_root(a, work:Path)->Path:
    "The synthetic root of `--rows` rows: reused from `--big DIR` when it holds one of that size (writing it takes a minute)."
    d = Path(a.big) if a.big else work / 'big'
    f = d / 'rows.txt'
    if f.is_file() and f.read_text().strip() == str(a.rows) and (d / 'manifest.csv').is_file(): return d
    synthetic_root(d, a.rows); f.write_text(str(a.rows)); return d


def import_floor()->dict:
    "Memory of a fresh process that only imports torch and the Loader's module (what every worker holds at least)."
    import subprocess
    code = ('import sys, torch, alexnet_nb.augment; sys.path.insert(0, sys.argv[1]); import scaling, json; '
            'print(json.dumps(scaling.mem()))')
    r = subprocess.run([sys.executable, '-c', code, str(Path(__file__).parent)], capture_output=True, text=True, check=True,
                       env={**os.environ, 'PYTHONPATH': str(REPO)})
    return json.loads(r.stdout.strip().splitlines()[-1])


def part_loader(a, work:Path)->dict:
    from alexnet_nb import augment
    from alexnet_nb.augment import Loader
    from alexnet_nb.core import read_manifest, make_toy_root
    toy = make_toy_root(work / 'toy', n={'train': 1}, n_classes=1)
    jpeg = (toy / read_manifest(toy, 'train').output[0]).read_bytes()
    t = time.perf_counter(); root = big_root(a, work); t_write = time.perf_counter() - t
    print(f'loader: {a.rows}-row manifest ready in {t_write:.1f} s ({(root / "manifest.csv").stat().st_size / 2**20:.0f} MiB)', flush=True)
    floor = import_floor()
    print(f'loader: a bare `import torch, alexnet_nb.augment` process is resident {floor["rss_mb"]:.0f} MB (private {floor["private_mb"]:.0f} MB): '
          f'the floor of any worker that runs torch', flush=True)
    t, c = time.perf_counter(), time.process_time(); read_manifest(root, 'train'); t_read, c_read = time.perf_counter() - t, time.process_time() - c

    orig = augment._StepReader._bytes
    flag = work / 'touch'
    def fake_bytes(self, i):             # one real JPEG for every row; once the first batch is out, touch every row's name (a full epoch)
        if not getattr(self, '_touched', False) and flag.exists():
            for j in range(len(self.files)): self.files[j]
            self._touched = True
        self.files[i]
        return jpeg
    augment._StepReader._bytes = fake_bytes                 # inherited by the fork()ed workers
    try:
        m0 = mem(); l0 = load(); t, c = time.perf_counter(), time.process_time()
        L = Loader(root, 'train', root / 'stats.pt', a.batch, train=True, workers=a.loader_workers)
        t_construct, c_construct = time.perf_counter() - t, time.process_time() - c; m1 = mem()
        it = iter(L); next(it); t_first = time.perf_counter() - t; flag.touch()
        for _ in range(2 * a.loader_workers * (a.loader_workers + 1)): next(it)   # past the prefetched steps: every worker has touched every row
        time.sleep(0.5)
        ws = [w.pid for w in L._dl._iterator._workers]
        wm = [mem(p) for p in ws]; mm = mem()
        L.close()
    finally:
        augment._StepReader._bytes = orig
    res = dict(rows=a.rows, date=time.strftime('%Y-%m-%d %H:%M'), batch=a.batch, import_floor=floor, manifest_write_s=t_write, manifest_read_s=t_read, manifest_read_cpu_s=c_read, construct_s=t_construct,
               construct_cpu_s=c_construct, first_batch_s=t_first,
               main_loader_mb=m1['rss_mb'] - m0['rss_mb'], main_rss_mb=mm['rss_mb'], workers=a.loader_workers, worker_mem=wm, load=[l0, load()])
    print(f'loader: manifest read {t_read:.2f} s ({c_read:.2f} s CPU); Loader constructed in {t_construct:.2f} s ({c_construct:.2f} s CPU), first batch after {t_first:.2f} s '
          f'({a.loader_workers} workers, batch {a.batch}); main process +{res["main_loader_mb"]:.0f} MB for the Loader; load {l0}', flush=True)
    for k, w in enumerate(wm):
        print(f'loader: worker {k}: resident {w["rss_mb"]:.0f} MB ({w["rss_mb"] - floor["rss_mb"]:+.0f} MB over the import floor), '
              f'proportional {w["pss_mb"]:.0f} MB, private {w["private_mb"]:.0f} MB', flush=True)
    return res


def merge_v0(dst:Path):
    "`preprocess.merge_manifests` before it reordered record texts (commit 4288321): the baseline, interleaved below."
    from alexnet_nb.core import MANIFEST_COLUMNS, read_manifest
    from alexnet_nb.preprocess import STATE
    from alexnet_nb.utils import atomic_write
    parts = sorted((dst / STATE).glob('manifest-shard-*-of-*.csv'))
    m = pd.concat([pd.read_csv(p, dtype=str, keep_default_na=False) for p in parts if p.stat().st_size],
                  ignore_index=True).reindex(columns=MANIFEST_COLUMNS, fill_value='')
    m = m.sort_values(['split', 'output', 'source'], kind='stable', ignore_index=True)
    with atomic_write(dst / 'manifest.csv', 'w') as f: m.to_csv(f, index=False, lineterminator='\n')
    return read_manifest(dst / 'manifest.csv')


def merge_shards(m:pd.DataFrame, dst:Path, n:int=16):
    "Shard manifests as `n` SLURM array tasks write them: class k in shard k % n, each sorted, checksums filled, a few failed rows."
    from alexnet_nb.preprocess import STATE, _shard_name
    m = m.sort_values('output', ignore_index=True)               # whatever order the synthetic root's manifest is in
    r = np.random.default_rng(0)
    m['bytes'] = r.integers(20_000, 200_000, len(m)).astype(str); m['crc32'] = [f'{x:08x}' for x in r.integers(0, 2**32, len(m))]
    bad = np.arange(0, len(m), 4000)                             # failed: no output, a reason with a comma, quotes and a line end
    m.loc[bad, ['output', 'width', 'height', 'mode', 'format', 'bytes', 'crc32']] = ''
    m.loc[bad, 'status'] = 'failed'; m.loc[bad, 'reason'] = 'cannot decode, "truncated"\n(demo)'
    cls = pd.factorize(m.wnid, sort=True)[0]
    shutil.rmtree(dst / STATE, ignore_errors=True); (dst / STATE).mkdir(parents=True)
    for k in range(n):
        m[cls % n == k].sort_values(['split', 'output', 'source'], kind='stable').to_csv(dst / STATE / _shard_name(k, n), index=False, lineterminator='\n')


def part_merge(a, work:Path)->dict:
    import contextlib, hashlib, io
    from alexnet_nb.preprocess import merge_manifests
    from alexnet_nb.stats import merge_sums, finalize
    root = big_root(a, work); dst = work / 'merge'
    merge_shards(pd.read_csv(root / 'manifest.csv', keep_default_na=False, dtype=str), dst)
    def timed(f):
        t, c = time.perf_counter(), time.process_time(); f(); t, c = time.perf_counter() - t, time.process_time() - c
        return t, c, hashlib.sha256((dst / 'manifest.csv').read_bytes()).hexdigest()
    l0 = load()
    runs = dict(new=[timed(lambda: merge_manifests(dst, quiet=True))], old=[timed(lambda: merge_v0(dst))])   # interleaved: new, old, new, new
    runs['new'] += [timed(lambda: merge_manifests(dst, quiet=True)) for _ in range(2)]
    with contextlib.redirect_stdout(io.StringIO()): summary = timed(lambda: merge_manifests(dst))                    # the CLI's default
    assert len({h for k in runs for _, _, h in runs[k]} | {summary[2]}) == 1, 'merge_manifests and the baseline wrote different bytes'
    t_man, c_man = np.median([t for t, _, _ in runs['new']]), np.median([c for _, c, _ in runs['new']])
    (t_old, c_old, _), = runs['old']
    g = torch.Generator().manual_seed(0)
    parts = [dict(n_images=10_000, sum_image=torch.randint(0, 2_550_000, (256, 256, 3), generator=g), gram=torch.randint(0, 10**13, (3, 3), generator=g))
             for _ in range(128)]
    for p in parts: p['gram'] = p['gram'] + p['gram'].T
    t = time.perf_counter(); s = merge_sums(parts); t_merge = time.perf_counter() - t
    try: finalize(s, 'raw', 'x' * 64, 'train')
    except Exception: pass                                      # random sums need not form a valid covariance
    res = dict(rows=a.rows, date=time.strftime('%Y-%m-%d %H:%M'), manifest_shards=16, manifest_merge_s=t_man, manifest_merge_cpu_s=c_man,
               manifest_merge_runs=[t for t, _, _ in runs['new']], manifest_merge_baseline_s=t_old, manifest_merge_baseline_cpu_s=c_old,
               manifest_merge_summary_s=summary[0], manifest_merge_summary_cpu_s=summary[1], stats_parts=128, stats_merge_s=t_merge, load=[l0, load()])
    print(f'merge: 16 shard manifests of {a.rows} rows joined in {t_man:.2f} s ({c_man:.2f} s CPU; median of the runs {", ".join(f"{t:.2f}" for t in res["manifest_merge_runs"])} s), '
          f'{summary[0]:.2f} s ({summary[1]:.2f} s CPU) printing the summary; the baseline (before, interleaved) {t_old:.2f} s ({c_old:.2f} s CPU): '
          f'{t_old / t_man:.1f}x wall, {c_old / c_man:.1f}x CPU; the same bytes; 128 statistics parts merged in {t_merge:.2f} s; load {l0}..{load()}', flush=True)
    shutil.rmtree(dst)
    return res


def plot(res, path:Path):
    "Save `figure(res)` as a PNG (no display needed)."
    import matplotlib; matplotlib.use('Agg'); figure(res).savefig(path, dpi=100)


def figure(res):
    "The results as one matplotlib figure (also drawn by the docs page `nbs/92_performance.ipynb`)."
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(1, 3, figsize=(14, 3.8))
    sz = res.get('sizes') or {}
    if sz:
        sz = {int(n): v for n, v in sz.items() if n not in ('date', 'fixed')}; ns = sorted(sz)
        for k, lab in (('preprocess_cpu_ms', 'preprocessing (CPU, fixed costs out)'), ('stats_cpu_ms', 'statistics (CPU, fixed costs out)'),
                       ('preprocess_ms', 'preprocessing (wall)'), ('stats_ms', 'statistics (wall)')):
            if k in sz[ns[0]]: ax[0].plot(ns, [sz[n][k] for n in ns], 'o-' if 'cpu' in k else 'x:', label=lab)
        ax[0].set_xscale('log'); ax[0].set_xlabel('images'); ax[0].set_ylabel('ms per image'); ax[0].set_ylim(0); ax[0].legend(fontsize=7)
        ax[0].set_title('per-image cost vs data size')
    else: ax[0].text(0.5, 0.5, 'sizes: skipped', ha='center'); ax[0].set_axis_off()
    ld = res.get('loader')
    if ld:
        names = ['manifest read\n(wall)', 'manifest read\n(CPU)', 'Loader built\n(wall)', 'Loader built\n(CPU)']
        ax[1].bar(names, [ld['manifest_read_s'], ld.get('manifest_read_cpu_s', 0), ld['construct_s'], ld.get('construct_cpu_s', 0)], color=['C0', 'C0', 'C1', 'C1'])
        ax[1].axhline(5, ls=':', c='k'); ax[1].tick_params(axis='x', labelsize=7); ax[1].set_ylabel('seconds'); ax[1].set_title(f"Loader start-up, {ld['rows']:,} rows (target 5 s)", fontsize=9)
        w = ld['worker_mem'][0]
        ax[2].bar(['resident', 'proportional', 'private'], [w['rss_mb'], w['pss_mb'], w['private_mb']], color='C2')
        ax[2].axhline(300, ls=':', c='k'); ax[2].set_ylabel('MB'); ax[2].set_title('memory of one Loader worker (target 300 MB)', fontsize=9)
    else: ax[1].set_axis_off(); ax[2].set_axis_off()
    fig.suptitle(res['machine'], fontsize=8); fig.tight_layout()
    return fig


def markdown(res)->str:
    "The results as markdown tables (written to --md, committed: the figures in the docs come from here)."
    L = [f"# Scaling (`benchmarks/scaling.py`)", '', f"Written by `benchmarks/scaling.py` on {res['machine']}, {res['date']} (each part's own date below).", '']
    sz = {int(n): v for n, v in (res.get('sizes') or {}).items() if n not in ('date', 'fixed')}
    if sz:
        fx = res['sizes'].get('fixed')
        L += ['## Per-image cost against data size', '']
        if fx: L += [f"The fixed costs of one run, measured on a run of {fx['images']} images, are taken out of the CPU figures per image: "
                     f"{fx['preprocess_cpu_s']:.2f} s CPU (preprocessing) and {fx['stats_cpu_s']:.2f} s CPU (statistics).", '']
        L += [ '| images | preprocess ms CPU/image | statistics ms CPU/image | preprocess rel. | statistics rel. | wall ms/image (pre, stats) | load |',
              '|---|---|---|---|---|---|---|']
        L += [f"| {n:,} | {v['preprocess_cpu_ms']:.2f} | {v['stats_cpu_ms']:.2f} | {v.get('preprocess_cpu_rel', 1):.2f} | {v.get('stats_cpu_rel', 1):.2f} | "
              f"{v['preprocess_ms']:.2f}, {v['stats_ms']:.2f} | {v['load'][0]}..{v['load'][-1]} |" for n, v in sorted(sz.items())]
        L += ['', 'Target: relative cost within 0.85..1.15 of the smallest size.', '']
    ld = res.get('loader')
    if ld:
        f = ld.get('import_floor', {}); w = ld['worker_mem']
        L += [f"## Loader at {ld['rows']:,} rows ({ld.get('date', res['date'])})", '', '| figure | value | target |', '|---|---|---|',
              f"| manifest read (`core.read_manifest`, all columns) | {ld['manifest_read_s']:.2f} s wall, {ld.get('manifest_read_cpu_s', 0):.2f} s CPU | |",
              f"| `Loader(...)` constructed | {ld['construct_s']:.2f} s wall, {ld.get('construct_cpu_s', 0):.2f} s CPU | <= 5 s |",
              f"| first batch ({ld['workers']} workers{', batch ' + str(ld['batch']) if 'batch' in ld else ''}) | {ld['first_batch_s']:.2f} s wall after construction began | |",
              f"| main process, added by the Loader | {ld['main_loader_mb']:.0f} MB | |"]
        L += [f"| worker {k}: resident / proportional / private | {m['rss_mb']:.0f} / {m['pss_mb']:.0f} / {m['private_mb']:.0f} MB | <= 300 MB resident |" for k, m in enumerate(w)]
        if f: L += [f"| a bare `import torch, alexnet_nb.augment` process: resident / private | {f['rss_mb']:.0f} / {f['private_mb']:.0f} MB | (floor) |"]
        L += ['', f"Load average during the run: {ld['load'][0]}..{ld['load'][-1]} (2-core machine shared with other jobs).", '']
    mg = res.get('merge')
    if mg:
        L += [f"## Merges at {mg['rows']:,} rows ({mg.get('date', res['date'])})", '', '| figure | value |', '|---|---|',
              f"| {mg['manifest_shards']} shard manifests joined (`merge_manifests`{', median of ' + str(len(mg['manifest_merge_runs'])) + ' runs' if 'manifest_merge_runs' in mg else ''}) | {mg['manifest_merge_s']:.2f} s wall, {mg.get('manifest_merge_cpu_s', float('nan')):.2f} s CPU |",
              *([f"| the same, printing the summary (the CLI's default) | {mg['manifest_merge_summary_s']:.2f} s wall, {mg['manifest_merge_summary_cpu_s']:.2f} s CPU |",
                 f"| baseline: `merge_manifests` before (commit 4288321), interleaved | {mg['manifest_merge_baseline_s']:.2f} s wall, {mg['manifest_merge_baseline_cpu_s']:.2f} s CPU "
                 f"({mg['manifest_merge_baseline_s'] / mg['manifest_merge_s']:.1f}x, {mg['manifest_merge_baseline_cpu_s'] / mg['manifest_merge_cpu_s']:.1f}x CPU) |"]
                if 'manifest_merge_baseline_s' in mg else []),
              f"| {mg['stats_parts']} statistics parts merged (`merge_sums`) | {mg['stats_merge_s']:.2f} s |", '', f"Load average: {'..'.join(map(str, mg['load'])) if isinstance(mg['load'], list) else mg['load']}.", '']
    return '\n'.join(L)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--sizes', default='1000,10000,50000')
    ap.add_argument('--rows', type=int, default=1_280_000)
    ap.add_argument('--parts', default='sizes,loader,merge')
    ap.add_argument('--workers', type=int, default=os.cpu_count() or 1, help='preprocessing processes')
    ap.add_argument('--loader-workers', type=int, default=2)
    ap.add_argument('--batch', type=int, default=128)
    ap.add_argument('--big', help='folder keeping the synthetic --rows root between runs (default: a scratch folder, removed)')
    ap.add_argument('--dir', help='scratch folder on disk (default: under benchmarks/results)')
    ap.add_argument('--out', default=str(RESULTS))
    ap.add_argument('--md', default=str(REPO / 'benchmarks' / 'scaling.md'), help='markdown tables of all results so far (empty: none)')
    a = ap.parse_args()
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix='scaling-', dir=a.dir or out))
    res = json.loads((out / 'scaling.json').read_text()) if (out / 'scaling.json').exists() else {}   # parts run earlier stay
    res.update(machine=f'{cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__}', date=time.strftime('%Y-%m-%d %H:%M'))
    print('machine:', res['machine'], flush=True)
    try:
        parts = a.parts.split(',')
        if 'sizes' in parts: res['sizes'] = part_sizes(a, work)
        if 'loader' in parts: res['loader'] = part_loader(a, work)
        if 'merge' in parts: res['merge'] = part_merge(a, work)
    finally: shutil.rmtree(work, ignore_errors=True)
    (out / 'scaling.json').write_text(json.dumps(res, indent=1, default=str))
    plot(res, out / 'scaling.png')
    if a.md:                                      # the committed record: tables, and the JSON the docs' plots read (nbs/92_performance)
        Path(a.md).write_text(markdown(res)); Path(a.md).with_suffix('.json').write_text(json.dumps(res, indent=1, default=str))
        print(f"wrote {a.md} and {Path(a.md).with_suffix('.json')}")
    print(f'wrote {out / "scaling.json"} and {out / "scaling.png"}')


if __name__ == '__main__': main()
