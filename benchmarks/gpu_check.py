#!/usr/bin/env python
"""The one-shot GPU check (issue 16, item 1): every GPU path of the project in one call, <= 8 minutes
on one GPU, writing one JSON and one markdown summary that name the GPU. Run it through
`benchmarks/gpu_check.sh`; `--dry-run` runs every step at tiny size on the CPU (CI does).

Steps (each a subprocess with its own time limit, so one failure or hang does not lose the others):
- `nbtest_cuda`:   `nbdev_test --flags cuda` (every `#| cuda` cell); dry run: one small notebook;
- `toy_root`:      a generated root of 256x256 JPEGs and its statistics, shared by the next steps;
- `gpu_train`:     `benchmarks/gpu_train.py`: synthetic fp32 vs bf16 + channels_last (+ compile);
                   the real Loader from JPEG files with CPU decode vs nvJPEG decode;
- `loader_decode`: the Loader alone (no model), images/s with CPU decoding vs GPU (nvJPEG) decoding;
- `two_tower`:     `TwoTowerAlexNet` with both towers on one device vs `AlexNet`, training images/s,
                   and the largest output difference between the two;
- `evaluate`:      `evaluate_checkpoint` (10 patches an image, bf16 + channels_last) images/s.

    benchmarks/gpu_check.sh [--dry-run] [--out DIR] [--budget SECONDS]
"""
import argparse, json, os, platform, subprocess, sys, tempfile, time
from dataclasses import asdict
from pathlib import Path
from alexnet_nb.utils import cpu_name

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
STEPS = ['toy_root', 'gpu_train', 'nbtest_cuda', 'loader_decode', 'two_tower', 'evaluate']   # in running order: the key figure first
BUDGET = {'full': 470, 'dry': 600}                 # seconds for all steps (gpu_check.sh kills at 500 s as a last resort)

# (full size on a GPU, dry-run size on the CPU); time limits in seconds
SIZES = {
    'full': dict(images=8192, val=2048, distinct=256, batch=256, width=1.0, rounds=3, steps=20, workers=min(12, os.cpu_count() or 1), timeout=
                 dict(toy_root=40, gpu_train=140, nbtest_cuda=170, loader_decode=45, two_tower=30, evaluate=40)),
    'dry': dict(images=16, val=8, distinct=8, batch=4, width=0.125, rounds=1, steps=1, workers=0, timeout=
                dict(nbtest_cuda=120, toy_root=60, gpu_train=120, loader_decode=60, two_tower=60, evaluate=60)),
}



def machine(dev):
    import torch
    gpu = torch.cuda.get_device_name() if dev == 'cuda' else 'none (dry run on the CPU)'
    return dict(gpu=gpu, gpus=torch.cuda.device_count() if torch.cuda.is_available() else 0, cpu=cpu_name(),
                cores=os.cpu_count(), torch=torch.__version__, load_average=os.getloadavg()[0],
                host=platform.node(), date=time.strftime('%Y-%m-%d %H:%M:%S %Z'))


def sync(dev):
    import torch
    if dev == 'cuda': torch.cuda.synchronize()


# ---------------------------------------------------------------- the steps (run in a subprocess each)
def step_toy_root(a, sz, dev):
    from alexnet_nb.core import make_toy_root
    from alexnet_nb.stats import compute_stats
    from alexnet_nb.utils import atomic_torch_save
    t = time.perf_counter()
    import pandas as pd
    root = make_toy_root(Path(a.work) / 'toy', n={'train': sz['distinct'], 'val': sz['distinct']}, n_classes=10)
    m = pd.read_csv(root / 'manifest.csv', keep_default_na=False, dtype=str)   # rows repeated: each distinct JPEG read many times
    ok = m[m.status != 'failed']
    m = pd.concat([m[m.status == 'failed']] + [ok[ok.split == sp].sample(n, replace=n > len(ok[ok.split == sp]), random_state=0)
                                               for sp, n in (('train', sz['images']), ('val', sz['val']))])
    m.sort_values(['split', 'output'], kind='stable').to_csv(root / 'manifest.csv', index=False)
    st = compute_stats(root, workers=0 if a.dry_run else min(8, os.cpu_count() or 1), chunk_size=max(8, sz['images'] // 8), show_progress=False)
    atomic_torch_save(st, root / 'stats.pt')
    return dict(root=str(root), train_images=sz['images'], val_images=sz['val'], distinct_jpegs=2 * sz['distinct'], seconds=time.perf_counter() - t)


def step_gpu_train(a, sz, dev):
    root = Path(a.work) / 'toy'; js = Path(a.work) / 'gpu_train.json'
    cmd = [sys.executable, str(HERE / 'gpu_train.py'), '--data', str(root), '--stats', str(root / 'stats.pt'), '--device', dev,
           '--batch', str(sz['batch']), '--width', str(sz['width']), '--rounds', str(sz['rounds']), '--steps', str(sz['steps']),
           '--workers', str(sz['workers']), '--json', str(js)] + (['--no-compile'] if a.dry_run else [])
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode: raise RuntimeError(f'gpu_train.py exited {p.returncode}: {(p.stderr or p.stdout).strip()[-2000:]}')
    r = json.loads(js.read_text()); r['table'] = p.stdout.strip().splitlines()[-8:]
    if a.dry_run: r['note'] = 'torch.compile row skipped in the dry run (CPU compilation alone takes minutes)'
    return r


def step_loader_decode(a, sz, dev):
    import torch
    from alexnet_nb.augment import Loader
    root = Path(a.work) / 'toy'; res = {}
    for name, gd in (('cpu_decode', False), ('gpu_decode', True)):
        L = Loader(root, 'train', root / 'stats.pt', sz['batch'], train=True, workers=sz['workers'], device=dev, gpu_decode=gd)
        rates = []
        for r in range(sz['rounds']):
            L.set_epoch(r); it = iter(L); next(it); sync(dev)             # workers started, first batch not timed
            t = time.perf_counter(); n = 0
            for x, y in it: n += len(y)
            sync(dev); rates.append(n / max(time.perf_counter() - t, 1e-9))
        L.close()
        res[name] = dict(images_per_s=sorted(rates)[len(rates) // 2], rounds=rates, workers=sz['workers'])
    res['gpu_over_cpu'] = res['gpu_decode']['images_per_s'] / max(res['cpu_decode']['images_per_s'], 1e-9)
    return res


def _train_rate(model, x, y, steps, dev, bf16):
    import torch, torch.nn.functional as F
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    def one():
        with torch.autocast(torch.device(dev).type, dtype=torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(model(x).float(), y)
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
    one(); sync(dev); t = time.perf_counter()
    for _ in range(steps): one()
    sync(dev); return len(y) * steps / (time.perf_counter() - t)


def step_two_tower(a, sz, dev):
    import torch
    from alexnet_nb.model import AlexNet, TwoTowerAlexNet
    torch.manual_seed(0)
    single = AlexNet(num_classes=1000, width=sz['width']).to(dev)
    tt = TwoTowerAlexNet.from_alexnet(single, devices=(dev, dev))
    x = torch.randn(sz['batch'], 3, 224, 224, device=dev); y = torch.randint(0, 1000, (sz['batch'],), device=dev)
    with torch.no_grad(): d = (single.eval()(x) - tt.eval()(x)).abs().max().item()
    single.train(); tt.train()
    res = dict(max_abs_diff_eval_fp32=d, bf16=dev == 'cuda')
    rs, rt = [], []
    for _ in range(sz['rounds']):
        rs.append(_train_rate(single, x, y, sz['steps'], dev, dev == 'cuda'))
        rt.append(_train_rate(tt, x, y, sz['steps'], dev, dev == 'cuda'))
    res.update(single_images_per_s=sorted(rs)[len(rs) // 2], two_tower_images_per_s=sorted(rt)[len(rt) // 2])
    res['two_tower_over_single'] = res['two_tower_images_per_s'] / res['single_images_per_s']
    return res


def step_evaluate(a, sz, dev):
    import pandas as pd, torch
    from alexnet_nb.model import AlexNet
    from alexnet_nb.evaluate import evaluate_checkpoint
    from alexnet_nb.utils import sha256_file
    root = Path(a.work) / 'toy'; ck = Path(a.work) / 'ck.pt'
    torch.manual_seed(0); net = AlexNet(num_classes=10, width=sz['width'])
    cl = pd.read_csv(root / 'classes.csv')
    torch.save(dict(model=net.state_dict(), config=dict(model=asdict(net.config), data=str(root)),
                    classes=dict(wnid=cl.wnid.tolist(), words=cl.words.tolist()),
                    stats=dict(path=str(root / 'stats.pt'), sha256=sha256_file(root / 'stats.pt'))), ck)
    res = {}
    for name, kw in (('fp32', {}), ('bf16_channels_last', dict(bf16=True, channels_last=True))):
        if dev != 'cuda' and kw: continue                                   # bf16/channels_last are CUDA options
        evaluate_checkpoint(ck, split='val', batch_size=sz['batch'], workers=sz['workers'], device=dev, **kw)   # warm-up
        r = evaluate_checkpoint(ck, split='val', batch_size=sz['batch'], workers=sz['workers'], device=dev, **kw)
        res[name] = dict(images_per_s=r['images_per_s'], n_images=r['n_images'], device=r['device'])
    return res


def step_nbtest_cuda(a, sz, dev):
    nbs = sorted((REPO / 'nbs').glob('*.ipynb'))
    n_cuda = sum(json.loads(p.read_text())['cells'].__repr__().count('#| cuda') for p in nbs)
    exe = Path(sys.executable).with_name('nbdev_test')
    cmd = [str(exe) if exe.exists() else 'nbdev_test', '--flags', 'cuda', '--do_print']
    if a.dry_run: cmd += ['--path', str(REPO / 'nbs' / '90_utils.ipynb')]
    else: cmd += ['--n_workers', str(min(8, os.cpu_count() or 1))]
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    out = (p.stdout + p.stderr).strip()
    if p.returncode: raise RuntimeError(f'nbdev_test --flags cuda exited {p.returncode}: {out[-3000:]}')
    return dict(cuda_cells_in_nbs=n_cuda, notebooks='nbs/90_utils.ipynb (dry run)' if a.dry_run else 'all',
                seconds=time.perf_counter() - t, tail=out[-500:])


# ---------------------------------------------------------------- driver
def run_step(name, a):
    "Worker side: run one step, write its JSON."
    import torch
    dev = 'cpu' if a.dry_run else 'cuda'
    if dev == 'cuda': torch.backends.cudnn.benchmark = True
    sz = SIZES['dry' if a.dry_run else 'full']
    r = globals()[f'step_{name}'](a, sz, dev)
    Path(a.work, f'{name}.result.json').write_text(json.dumps(r, indent=1, default=str))


def summary_md(res):
    m = res['machine']; L = [f"# GPU check ({'dry run on the CPU' if res['dry_run'] else 'GPU run'}, {m['date']})", '',
                             f"GPU: **{m['gpu']}** ({m['gpus']} visible) | CPU: {m['cpu']} ({m['cores']} cores, load {m['load_average']:.1f}) | torch {m['torch']}", '',
                             '| step | status | seconds | result |', '|---|---|---|---|']
    for k in STEPS:
        s = res['steps'][k]; r = s.get('result') or {}
        if k == 'gpu_train' and r: txt = '; '.join(f'{n}: {v:.0f} img/s' for n, v in {**r.get('synthetic', {}), **r.get('pipeline', {})}.items())
        elif k == 'loader_decode' and r: txt = f"CPU decode {r['cpu_decode']['images_per_s']:.0f} img/s, GPU decode {r['gpu_decode']['images_per_s']:.0f} img/s"
        elif k == 'two_tower' and r: txt = f"single {r['single_images_per_s']:.0f} img/s, two towers {r['two_tower_images_per_s']:.0f} img/s, max |diff| {r['max_abs_diff_eval_fp32']:.1e}"
        elif k == 'evaluate' and r: txt = ', '.join(f"{n}: {v['images_per_s']:.0f} img/s" for n, v in r.items())
        elif k == 'nbtest_cuda' and r: txt = f"{r['cuda_cells_in_nbs']} `#| cuda` cells in nbs/; ran {r['notebooks']}"
        elif k == 'toy_root' and r: txt = f"{r['train_images']} train + {r['val_images']} val JPEGs"
        else: txt = (s.get('error') or '').replace('\n', ' ')[:300]
        L.append(f"| {k} | {s['status']} | {s['seconds']:.0f} | {txt} |")
    pipe = (res['steps']['gpu_train'].get('result') or {}).get('pipeline', {})
    if pipe and not res['dry_run']:
        best = max(pipe.values())
        L += ['', f"End to end from JPEG files (bf16 + channels_last): best {best:.0f} images/s; target 10,000 "
                  f"({100 * best / 10000:.0f} % of it). Compare with the synthetic (model-bound) rows and the Loader-only rows to see what bounds it."]
    return '\n'.join(L) + '\n'


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--dry-run', action='store_true', help='every step at tiny size on the CPU (no GPU needed)')
    ap.add_argument('--out', help='folder for gpu_check.json and gpu_check.md (default benchmarks/results/gpu_check-DATE)')
    ap.add_argument('--steps', default=','.join(STEPS), help='comma-separated subset of ' + ','.join(STEPS))
    ap.add_argument('--step', help=argparse.SUPPRESS); ap.add_argument('--work', help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.step: run_step(a.step, a); return 0
    import torch
    if not a.dry_run and not torch.cuda.is_available():
        print('gpu_check.sh: error: CUDA is not available on this machine: run it on a GPU node, or with --dry-run', file=sys.stderr)
        return 2
    want = [s.strip() for s in a.steps.split(',') if s.strip()]
    bad = [s for s in want if s not in STEPS]
    if bad: print(f'gpu_check.sh: error: unknown steps {bad}: choose from {STEPS}', file=sys.stderr); return 2
    out = Path(a.out or REPO / 'benchmarks' / 'results' / f"gpu_check-{time.strftime('%Y%m%d-%H%M%S')}"); out.mkdir(parents=True, exist_ok=True)
    sz = SIZES['dry' if a.dry_run else 'full']; dev = 'cpu' if a.dry_run else 'cuda'
    env = {**os.environ, 'ALEXNET_NO_PROGRESS': '1', 'PYTHONUNBUFFERED': '1', 'PYTHONPATH': f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    if a.dry_run: env['OMP_NUM_THREADS'] = env.get('OMP_NUM_THREADS', '2')
    res = dict(dry_run=a.dry_run, machine=machine(dev), sizes={k: v for k, v in sz.items() if k != 'timeout'}, steps={})
    t0 = time.perf_counter()
    budget = BUDGET['dry' if a.dry_run else 'full']
    with tempfile.TemporaryDirectory(dir=os.environ.get('GPU_CHECK_TMP')) as work:
        for name in STEPS:
            if name not in want: res['steps'][name] = dict(status='not requested', seconds=0); continue
            left = budget - (time.perf_counter() - t0)
            if left < 10: res['steps'][name] = dict(status='skipped', seconds=0, error='the time budget is spent'); continue
            if name != 'toy_root' and name != 'nbtest_cuda' and res['steps'].get('toy_root', {}).get('status') != 'ok':
                res['steps'][name] = dict(status='skipped', seconds=0, error='toy_root did not succeed'); continue
            print(f'[gpu_check] {name} ...', flush=True); t = time.perf_counter()
            cmd = [sys.executable, str(Path(__file__).resolve()), '--step', name, '--work', work] + (['--dry-run'] if a.dry_run else [])
            try:
                if a.dry_run and name not in ('nbtest_cuda', 'gpu_train'):   # tiny steps: in this process (saves the imports)
                    try: run_step(name, argparse.Namespace(**{**vars(a), 'work': work})); p = subprocess.CompletedProcess(cmd, 0, '', '')
                    except Exception as e: p = subprocess.CompletedProcess(cmd, 1, '', f'{type(e).__name__}: {e}')
                else: p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=min(sz['timeout'][name], left - 5))
                rf = Path(work, f'{name}.result.json')
                if p.returncode == 0 and rf.exists(): s = dict(status='ok', result=json.loads(rf.read_text()))
                else: s = dict(status='failed', error=f'exit {p.returncode}: ' + (p.stderr or p.stdout).strip()[-3000:])
            except subprocess.TimeoutExpired:
                s = dict(status='timeout', error=f"over its {sz['timeout'][name]} s limit")
            s['seconds'] = time.perf_counter() - t; res['steps'][name] = s
            print(f"[gpu_check] {name}: {s['status']} ({s['seconds']:.0f} s)", flush=True)
            if s['status'] != 'ok': print('   ', s.get('error', '')[-1500:], flush=True)
            (out / 'gpu_check.json').write_text(json.dumps(res, indent=1, default=str))   # partial results survive a kill
    res['seconds'] = time.perf_counter() - t0
    res['ok'] = all(res['steps'][k]['status'] in ('ok', 'not requested') for k in STEPS)
    (out / 'gpu_check.json').write_text(json.dumps(res, indent=1, default=str))
    (out / 'gpu_check.md').write_text(summary_md(res))
    print(summary_md(res)); print(f'[gpu_check] wrote {out}/gpu_check.json and gpu_check.md in {res["seconds"]:.0f} s')
    return 0 if res['ok'] else 1


if __name__ == '__main__': sys.exit(main())
