#!/usr/bin/env python
"""Training throughput of AlexNet on one GPU (issue 7, item 8). Prints one table.

(a) model-bound: synthetic batches already on the GPU, full training steps (forward, backward, the
    paper's SGD step) in fp32, bf16 autocast + channels_last, and the same + torch.compile;
(b) input pipeline: the real `Loader` on preprocessed 256x256 JPEGs (`--data`, or a generated toy
    root) feeding the same bf16 + channels_last step, with CPU decoding (worker processes) and with
    GPU decoding (nvJPEG).

Configurations are interleaved over `--rounds` rounds (A B C A B C ...) and the median images/s of
each is reported, with the ratio to the first row of its part. Needs CUDA; elsewhere it says so
and exits 0.

    python benchmarks/gpu_train.py [--data PRE] [--batch 128] [--rounds 5] [--steps 30] [--workers 8] [--json OUT.json]

`--device cpu` runs the same code on the CPU at whatever size is given (used by `gpu_check.sh --dry-run`).
"""
import argparse, json, os, statistics, sys, tempfile, time
from pathlib import Path
from alexnet_nb.utils import cpu_name

import torch, torch.nn.functional as F



def sync(dev):
    if torch.device(dev).type == 'cuda': torch.cuda.synchronize()


def make_step(cfg, batch, width, classes=1000, dev='cuda'):
    "A closure doing one training step on its argument batch; returns (step, model)."
    from alexnet_nb.model import AlexNet
    from alexnet_nb.train import PaperSGD, param_groups, dropout_masks, dropout_generator
    torch.manual_seed(0)
    model = AlexNet(num_classes=classes, width=width).to(dev)
    if cfg['channels_last']: model = model.to(memory_format=torch.channels_last)
    opt = PaperSGD(param_groups(model, 5e-4), lr=0.01, momentum=0.9)
    net = torch.compile(model) if cfg['compile'] else model
    gen = dropout_generator(0, 0, dev)

    def step(x, y):
        if cfg['channels_last']: x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(torch.device(dev).type, dtype=torch.bfloat16, enabled=cfg['bf16']):
            out = net(x, dropout_masks(model, len(y), gen, dev))
        loss = F.cross_entropy(out.float(), y)
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
        return loss
    return step, model


def time_synthetic(step, batch, steps, dev='cuda'):
    x = torch.randn(batch, 3, 224, 224, device=dev); y = torch.randint(0, 1000, (batch,), device=dev)
    sync(dev); t = time.perf_counter()
    for _ in range(steps): step(x, y)
    sync(dev)
    return batch * steps / (time.perf_counter() - t)


def time_loader(step, loader, steps, epoch, dev='cuda'):
    loader.set_epoch(epoch)
    it = iter(loader); n = 0
    x, y = next(it); step(x, y)                   # first batch: workers start, not timed
    sync(dev); t = time.perf_counter()
    for i, (x, y) in enumerate(it):
        if i >= steps: break
        step(x, y); n += len(y)
    sync(dev)
    return n / (time.perf_counter() - t)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--data', help='preprocessed root (default: a generated toy root of --images JPEGs)')
    ap.add_argument('--stats', help='statistics file (default: DATA/stats.pt, or computed for the toy root)')
    ap.add_argument('--images', type=int, default=4096, help='toy root size when --data is not given')
    ap.add_argument('--batch', type=int, default=128)
    ap.add_argument('--width', type=float, default=1.0)
    ap.add_argument('--rounds', type=int, default=5)
    ap.add_argument('--steps', type=int, default=30, help='timed steps per measurement')
    ap.add_argument('--workers', type=int, default=min(8, os.cpu_count() or 1))
    ap.add_argument('--no-compile', action='store_true', help='skip the torch.compile row')
    ap.add_argument('--device', default='cuda', help="'cuda' (default) or 'cpu' (a dry run of the same code)")
    ap.add_argument('--json', help='also write the results here (JSON)')
    a = ap.parse_args(); dev = a.device
    if torch.device(dev).type == 'cuda' and not torch.cuda.is_available():
        print('gpu_train.py: CUDA is not available on this machine; nothing measured.'); return 0
    torch.backends.cudnn.benchmark = True
    gpu, cpu = (torch.cuda.get_device_name() if torch.device(dev).type == 'cuda' else 'none (CPU run)'), cpu_name()

    # (a) model-bound
    cfgs = {'fp32': dict(bf16=False, channels_last=False, compile=False),
            'bf16 + channels_last': dict(bf16=True, channels_last=True, compile=False)}
    if not a.no_compile: cfgs['bf16 + channels_last + compile'] = dict(bf16=True, channels_last=True, compile=True)
    steps = {k: make_step(c, a.batch, a.width, dev=dev)[0] for k, c in cfgs.items()}
    for k, s in steps.items(): time_synthetic(s, a.batch, min(3, a.steps), dev)          # warm-up (and compilation)
    res_a = {k: [] for k in cfgs}
    for r in range(a.rounds):
        for k, s in steps.items(): res_a[k].append(time_synthetic(s, a.batch, a.steps, dev))
    del steps
    if torch.cuda.is_available(): torch.cuda.empty_cache()

    # (b) the input pipeline
    from alexnet_nb.augment import Loader
    tmp = None
    if a.data is None:
        from alexnet_nb.core import make_toy_root, toy_stats
        tmp = tempfile.TemporaryDirectory(); root = make_toy_root(Path(tmp.name) / 'pre', n={'train': a.images}, n_classes=10)
        stats = toy_stats(root)
    else: root, stats = Path(a.data), a.stats or str(Path(a.data) / 'stats.pt')
    step, _ = make_step(dict(bf16=True, channels_last=True, compile=False), a.batch, a.width, dev=dev)
    loaders = {f'CPU decode ({a.workers} workers)': Loader(root, 'train', stats, a.batch, train=True, workers=a.workers, device=dev),
               f'GPU decode (nvJPEG, {a.workers} readers)': Loader(root, 'train', stats, a.batch, train=True, workers=a.workers, device=dev, gpu_decode=True)}
    n_steps = max(1, min(a.steps, len(next(iter(loaders.values()))) - 2))
    res_b = {k: [] for k in loaders}
    for r in range(a.rounds):
        for k, l in loaders.items(): res_b[k].append(time_loader(step, l, n_steps, r, dev))
    for l in loaders.values(): l.close()

    print(f'\nAlexNet training throughput (width {a.width}, global batch {a.batch}, median of {a.rounds} interleaved rounds)')
    print(f'GPU: {gpu} | CPU: {cpu} ({os.cpu_count()} cores) | torch {torch.__version__}')
    print(f"{'part':<28} {'configuration':<38} {'images/s':>10} {'ratio':>7}")
    for part, res in (('(a) synthetic, model-bound', res_a), (f'(b) JPEGs from {"toy root" if tmp else root}'[:28], res_b)):
        base = None
        for k, v in res.items():
            m = statistics.median(v); base = base or m
            print(f'{part:<28} {k:<38} {m:>10.0f} {m / base:>6.2f}x')
    if a.json:
        out = dict(gpu=gpu, cpu=cpu, cores=os.cpu_count(), torch=torch.__version__, device=dev, batch=a.batch, width=a.width,
                   rounds=a.rounds, steps=a.steps, workers=a.workers, data='toy root' if tmp else str(root),
                   synthetic={k: statistics.median(v) for k, v in res_a.items()},
                   pipeline={k: statistics.median(v) for k, v in res_b.items()})
        Path(a.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == '__main__': sys.exit(main())
