#!/usr/bin/env python
"""The demo's accuracy over seeds: the `make demo` pipeline trained with seeds 0-4, and the
shuffled-label control, with the final centre-crop validation top-1 of each run in one table.

It runs the same commands as `make demo` (the console scripts on PATH): the demo ImageNet, its
preprocessing, the class table and the statistics once, then `alexnet_train --preset demo` once per
seed with the true labels and once per seed with `--shuffle-labels`. A run whose `metrics.json`
says it finished is reused, so an interrupted benchmark continues where it stopped.

It writes `benchmarks/results/demo_seeds_<date>.csv` and `.md` (ignored by git), and copies the
markdown table to `benchmarks/demo_seeds.md`, the committed copy the training notebook shows.
Each table names the machine (CPU model, cores, load) and the date.

Target (issue 13): final top-1 >= 75 % for every seed, spread (max - min) <= 6 points, shuffled
labels <= 20 % for every seed. Exit status 0 whether or not the target is met (the table says).

Usage: python benchmarks/demo_seeds.py [--work DIR] [--seeds 0 1 2 3 4] [--shuffled-seeds 0 1 2 3 4]
       [--jobs 1] [--no-publish] [--note TEXT] [--out FILE] [-- extra alexnet_train flags]
"""
import argparse, csv, datetime, json, os, shutil, subprocess, sys, time
from pathlib import Path
from alexnet_nb.utils import cpu_name

HERE = Path(__file__).resolve().parent
RESULTS = HERE/'results'
TARGET = dict(min_top1=75.0, max_spread=6.0, max_shuffled=20.0)

def machine()->str:
    "CPU model, cores and the load average when the table was written (the machine may be shared)."
    load = f", load average {os.getloadavg()[0]:.1f} when the table was written" if hasattr(os, 'getloadavg') else ''
    return f"{cpu_name()}, {os.cpu_count()} cores{load}"

def sh(cmd:list, log:Path):
    "Run one pipeline command, its output appended to `log`; stop the benchmark if it fails."
    with open(log, 'a') as f:
        f.write('$ ' + ' '.join(map(str, cmd)) + '\n'); f.flush()
        r = subprocess.run([str(c) for c in cmd], stdout=f, stderr=subprocess.STDOUT)
    if r.returncode: sys.exit(f"demo_seeds: error: {' '.join(map(str, cmd))} exited {r.returncode} (see {log})")

def prepare(work:Path, log:Path)->Path:
    "The demo data as `make demo` makes it (skipped when already there); returns the stats path."
    d = work/'data'
    if not (work/'stats.pt').exists():
        sh(['alexnet_demo_data', work/'raw'], log)
        sh(['alexnet_preprocess', work/'raw', d], log)
        sh(['alexnet_labels', work/'raw', '--out', d/'classes.csv'], log)
        sh(['alexnet_stats', d, '--out', work/'stats.pt'], log)
    return work/'stats.pt'

def run_dir(work:Path, seed:int, shuffled:bool)->Path: return work/f"run_{'shuffled' if shuffled else 'true'}_s{seed}"

def finished(rd:Path, cmd:list|None=None)->dict|None:
    "The run's metrics.json if it finished (with the command `cmd`, when given), else None."
    p, c = rd/'metrics.json', rd/'command.json'
    if not p.exists(): return None
    if cmd is not None and (not c.exists() or json.loads(c.read_text()) != [str(x) for x in cmd]): return None
    m = json.loads(p.read_text())
    return m if m.get('status') == 'done' else None

def train_cmd(work:Path, seed:int, shuffled:bool, extra:list)->list:
    return (['alexnet_train', '--preset', 'demo', '--data', work/'data', '--stats', work/'stats.pt',
             '--run-dir', run_dir(work, seed, shuffled), '--seed', seed] + (['--shuffle-labels'] if shuffled else []) + extra)

def run_all(work:Path, jobs:list, extra:list, n_parallel:int, log:Path):
    "Train every (seed, shuffled) not finished yet, `n_parallel` at a time."
    todo = [j for j in jobs if finished(run_dir(work, *j), train_cmd(work, *j, extra)) is None]
    running = []
    env = {**os.environ, 'ALEXNET_NO_PROGRESS': '1'}
    while todo or running:
        while todo and len(running) < n_parallel:
            s, sh_ = todo.pop(0); rd = run_dir(work, s, sh_); cmd = [str(c) for c in train_cmd(work, s, sh_, extra)]
            c = rd/'command.json'
            if rd.exists() and (not c.exists() or json.loads(c.read_text()) != cmd): shutil.rmtree(rd)   # another recipe: start afresh
            rd.mkdir(parents=True, exist_ok=True); c.write_text(json.dumps(cmd))
            f = open(rd/'train.out', 'a')
            with open(log, 'a') as lf: lf.write('$ ' + ' '.join(cmd) + '\n')
            print(f"training seed {s}{' (shuffled labels)' if sh_ else ''} -> {rd}", flush=True)
            running.append((subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=env), f, rd))
        time.sleep(2)
        for p, f, rd in list(running):
            if p.poll() is None: continue
            f.close(); running.remove((p, f, rd))
            if p.returncode: sys.exit(f"demo_seeds: error: training into {rd} exited {p.returncode} (see {rd/'train.out'})")

def row(work:Path, seed:int, shuffled:bool, extra:list)->dict|None:
    "The table row of one finished run, or None if it has not finished."
    m = finished(run_dir(work, seed, shuffled), train_cmd(work, seed, shuffled, extra))
    if m is None: return None
    f, b = m['final'], m['best']
    return dict(seed=seed, labels='shuffled' if shuffled else 'true', epochs=m['epochs_done'],
                final_top1=round(100*(1 - f['val_top1_err']), 2), final_top5=round(100*(1 - f['val_top5_err']), 2),
                best_top1=round(100*(1 - b['val_top1_err']), 2), best_epoch=b['epoch'],
                final_train_top1_err=round(100*f['train_top1_err'], 2), train_time_s=round(m['train_time_s'], 1))

def verdict(rows:list)->dict:
    "Summary of the true-label runs and the control against `TARGET`."
    t = [r['final_top1'] for r in rows if r['labels'] == 'true']; s = [r['final_top1'] for r in rows if r['labels'] == 'shuffled']
    v = dict(n_true=len(t), min=min(t, default=None), max=max(t, default=None), mean=round(sum(t)/len(t), 2) if t else None,
             spread=round(max(t) - min(t), 2) if t else None, shuffled_max=max(s, default=None))
    v['meets_target'] = bool(t) and bool(s) and v['min'] >= TARGET['min_top1'] and v['spread'] <= TARGET['max_spread'] \
        and v['shuffled_max'] <= TARGET['max_shuffled']
    v['fails'] = (bool(t) and (v['min'] < TARGET['min_top1'] or v['spread'] > TARGET['max_spread'])) or (bool(s) and v['shuffled_max'] > TARGET['max_shuffled'])
    return v

def markdown(rows:list, v:dict, meta:dict)->str:
    cols = ['seed', 'labels', 'epochs', 'final_top1', 'final_top5', 'best_top1', 'best_epoch', 'final_train_top1_err', 'train_time_s']
    head = ['seed', 'labels', 'epochs', 'final top-1 %', 'final top-5 %', 'best top-1 %', 'best epoch', 'final train top-1 err %', 'train time s']
    out = [f"Demo preset over seeds (`benchmarks/demo_seeds.py`), {meta['date']}, on {meta['machine']}.",
           f"Commit {meta['commit']}, torch {meta['torch']}, OMP_NUM_THREADS {os.environ.get('OMP_NUM_THREADS', 'unset')}, up to {meta['jobs']} run(s) at a time (train times follow the machine's load), extra train flags: {meta['extra'] or 'none'}; "
           f"validation: {meta['val_n']} centre-cropped images." + (f"\n{meta['note']}" if meta.get('note') else ''), '',
           '| ' + ' | '.join(head) + ' |', '|' + '---|'*len(head)]
    out += ['| ' + ' | '.join(str(r[c]) for c in cols) + ' |' for r in rows]
    if meta.get('missing'): out += ['', f"Not finished when this table was written: {meta['missing']}."]
    out += ['', f"True labels: final top-1 min {v['min']} %, max {v['max']} %, mean {v['mean']} %, spread {v['spread']} points; "
                + (f"shuffled labels: max {v['shuffled_max']} %." if v['shuffled_max'] is not None else "shuffled labels: not run."),
            f"Target (top-1 >= {TARGET['min_top1']:g} % each, spread <= {TARGET['max_spread']:g}, shuffled <= {TARGET['max_shuffled']:g} % each): "
            f"{'NOT met' if v['fails'] else 'met' if v['meets_target'] and not meta.get('missing') else 'not judged yet: runs are missing'}.", '']
    return '\n'.join(out)

def git_commit()->str:
    try: return subprocess.run(['git', 'describe', '--always', '--dirty'], cwd=HERE, capture_output=True, text=True).stdout.strip() or 'unknown'
    except OSError: return 'unknown'

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0].replace('\n', ' '))
    ap.add_argument('--work', default=str(RESULTS/'demo_seeds_work'), help='data and runs go here (reused when present)')
    ap.add_argument('--seeds', type=int, nargs='*', default=[0, 1, 2, 3, 4], help='seeds trained with the true labels')
    ap.add_argument('--shuffled-seeds', type=int, nargs='*', default=[0, 1, 2, 3, 4], help='seeds trained with --shuffle-labels')
    ap.add_argument('--jobs', type=int, default=1, help='training runs at a time (1 on a 2-core machine)')
    ap.add_argument('--no-publish', action='store_true', help='do not copy the table to benchmarks/demo_seeds.md')
    ap.add_argument('--collect', action='store_true', help='train nothing: tabulate the runs that have finished (the others are listed as missing)')
    ap.add_argument('--note', default='', help='a line printed under the table\'s header (e.g. what the runs were made with)')
    ap.add_argument('--out', default=None, help='also copy the table to this file (e.g. benchmarks/demo_seeds_bias0.md)')
    ap.add_argument('extra', nargs='*', help='after --: extra alexnet_train flags (e.g. -- --epochs 40)')
    a = ap.parse_args(argv)
    for exe in ('alexnet_demo_data', 'alexnet_preprocess', 'alexnet_labels', 'alexnet_stats', 'alexnet_train'):
        if shutil.which(exe) is None: sys.exit(f"demo_seeds: error: {exe} not on PATH: run inside the project's venv (make install)")
    work = Path(a.work); work.mkdir(parents=True, exist_ok=True); RESULTS.mkdir(parents=True, exist_ok=True)
    log = work/'pipeline.log'
    t0 = time.time()
    jobs = [(s, False) for s in a.seeds] + [(s, True) for s in a.shuffled_seeds]
    if not a.collect: prepare(work, log); run_all(work, jobs, a.extra, a.jobs, log)
    rows = [row(work, s, sh_, a.extra) for s, sh_ in jobs]
    missing = [f"seed {s}{' shuffled' if sh_ else ''}" for (s, sh_), r in zip(jobs, rows) if r is None]
    rows = [r for r in rows if r is not None]
    if not rows: sys.exit(f"demo_seeds: error: no finished run in {work}: run without --collect first")
    import torch
    try: val_n = sum(1 for r in csv.DictReader(open(work/'data'/'manifest.csv')) if r.get('split') == 'val' and r.get('status') != 'failed')
    except (OSError, KeyError): val_n = '?'
    meta = dict(date=datetime.date.today().isoformat(), machine=machine(), commit=git_commit(), torch=torch.__version__,
                extra=' '.join(a.extra), note=a.note, val_n=val_n, jobs=a.jobs, missing=', '.join(missing))
    v = verdict(rows)
    stem = RESULTS/f"demo_seeds_{datetime.datetime.now().strftime('%Y-%m-%d_%H%M%S')}"
    with open(stem.with_suffix('.csv'), 'w', newline='') as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]) + ['machine', 'date', 'commit']); w.writeheader()
        for r in rows: w.writerow({**r, 'machine': meta['machine'], 'date': meta['date'], 'commit': meta['commit']})
    md = markdown(rows, v, meta)
    stem.with_suffix('.md').write_text(md)
    if not a.no_publish: (HERE/'demo_seeds.md').write_text(md)
    if a.out: Path(a.out).write_text(md)
    print(md); print(f"wrote {stem}.csv, {stem}.md" + ('' if a.no_publish else f" and {HERE/'demo_seeds.md'}") + f" in {time.time() - t0:.0f} s")
    return 0

if __name__ == '__main__': sys.exit(main())
