#!/usr/bin/env python
"""Training-step throughput of the faithful `AlexNet` against `torchvision.models.alexnet`.

One training step = forward + cross-entropy + backward + SGD (momentum 0.9, weight decay 5e-4) on a
fixed random batch (default 32 x 3 x 224 x 224, 2 threads). The variants are interleaved: every
round times each variant in turn (the order rotates from round to round), so that load from other
processes on a shared machine hits all of them alike. Reported: median images/s per variant and
the median over rounds of each variant's ratio to torchvision eager in the same round.

Variants: tv / tv_cl (torchvision eager, channels_last), ours / ours_cl (FastLRN),
ours_torchlrn / ours_torchlrn_cl (`nn.LocalResponseNorm`, to show the LRN speed-up);
with --compile also tv_compiled and ours_compiled (torch.compile, default mode).

Usage: python benchmarks/model_step.py [--rounds 7] [--steps 2] [--batch 32] [--threads 2]
"""
import argparse, statistics, time
import torch, torch.nn as nn, torch.nn.functional as F, torchvision
from alexnet_nb.model import AlexNet
from alexnet_nb.utils import cpu_name

def machine()->str:
    "CPU model (and GPU name if one is used), for printing beside every figure."
    cpu = cpu_name()
    return f"{cpu}, {torch.get_num_threads()} threads, torch {torch.__version__}"

def build(name:str, num_classes:int=1000)->nn.Module:
    "The model of variant `name`, in training mode and in its memory format."
    if name.startswith('tv'): m = torchvision.models.alexnet(num_classes=num_classes)
    else: m = AlexNet(num_classes=num_classes, lrn_impl='torch' if 'torchlrn' in name else 'fast')
    if name.endswith('_cl'): m = m.to(memory_format=torch.channels_last)
    return m.train()

def make_step(name:str, model:nn.Module, lr:float=1e-5):
    "A closure doing one SGD training step on a batch."
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    fwd = torch.compile(model) if name.endswith('_compiled') else model
    def step(x, y):
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(fwd(x), y)
        loss.backward(); opt.step()
        return loss
    return step

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--batch', type=int, default=32, help='images per step')
    p.add_argument('--threads', type=int, default=2, help='torch.set_num_threads')
    p.add_argument('--rounds', type=int, default=7, help='interleaved rounds; medians are over rounds')
    p.add_argument('--steps', type=int, default=2, help='timed steps per variant per round')
    p.add_argument('--variants', default='tv,tv_cl,ours,ours_cl,ours_torchlrn,ours_torchlrn_cl', help='comma-separated')
    p.add_argument('--compile', action='store_true', help='add tv_compiled and ours_compiled (slow to compile)')
    a = p.parse_args()
    torch.set_num_threads(a.threads); torch.manual_seed(0)
    names = a.variants.split(',') + (['tv_compiled', 'ours_compiled'] if a.compile else [])
    if 'tv' not in names: names = ['tv'] + names            # the baseline of every ratio
    print(f"machine: {machine()}")
    print(f"batch {a.batch} x 3 x 224 x 224, forward+backward+SGD, {a.rounds} rounds x {a.steps} steps, variants {names}")
    x = torch.randn(a.batch, 3, 224, 224); y = torch.randint(0, 1000, (a.batch,))
    xcl = x.contiguous(memory_format=torch.channels_last)
    steps = {}
    for n in names:                                        # build and warm up (compilation happens here)
        t = time.perf_counter(); steps[n] = make_step(n, build(n))
        for _ in range(2 if n.endswith('_compiled') else 1): steps[n](xcl if n.endswith('_cl') else x, y)
        print(f"  warm-up {n}: {time.perf_counter() - t:.1f} s", flush=True)
    ips = {n: [] for n in names}
    for r in range(a.rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for n in order:
            xx = xcl if n.endswith('_cl') else x
            t = time.perf_counter()
            for _ in range(a.steps): steps[n](xx, y)
            ips[n].append(a.batch * a.steps / (time.perf_counter() - t))
        print(f"  round {r + 1}: " + ', '.join(f"{n} {ips[n][-1]:.1f}" for n in names), flush=True)
    print(f"\nresults ({machine()}):")
    print(f"{'variant':<20}{'median img/s':>14}{'min':>8}{'max':>8}{'ratio to tv (median of rounds)':>33}")
    for n in names:
        ratio = statistics.median(i / b for i, b in zip(ips[n], ips['tv']))
        print(f"{n:<20}{statistics.median(ips[n]):>14.1f}{min(ips[n]):>8.1f}{max(ips[n]):>8.1f}{ratio:>33.3f}")

if __name__ == '__main__': main()
