#!/usr/bin/env python
"""Preprocessing speed and quality: alexnet_nb.preprocess against the naive path, interleaved, one process.

Naive path: PIL open, convert('RGB'), antialiased bilinear resize of the whole image so the shorter side
is 256, central crop. Ours: `decode` (libjpeg-turbo through simplejpeg into a reused buffer, as `process_bytes`
does; reduced-scale JPEG decode never below 2x the target) and `resize_crop` (exact scale, antialiased bicubic,
channels-last). 'ours bilinear' is the `resample='bilinear'` setting. Both stop at the 256x256 uint8 array (no
JPEG encode).
Quality: PSNR of each against a float LANCZOS reference (PIL mode 'F' per channel) from the full decode,
with the same geometry. Data: the 500 real ILSVRC-2010 JPEGs in ../shared/data/ilsvrc2010-sample.
Usage: python benchmarks/preprocess.py [--rounds 5]
"""
import argparse, io, math, os, statistics, sys, time, warnings
import numpy as np, torch
from PIL import Image
from alexnet_nb.preprocess import SIZE, crop_geometry, decode, resize_crop, encode_jpeg
from alexnet_nb.utils import shared_dir, cpu_name

def naive(data):
    im = Image.open(io.BytesIO(data)).convert('RGB')
    W, H, l, t = crop_geometry(*im.size)
    return np.asarray(im.resize((W, H), Image.BILINEAR).crop((l, t, l + SIZE, t + SIZE)))

def ours(data, name='', resample='bicubic'):
    d = decode(data, name, reuse=True)          # as process_bytes does
    y = resize_crop(d.x, d.width, d.height, d.scale, resample=resample)
    return y.expand(3, -1, -1).permute(1, 2, 0).numpy()

def reference(data):
    im = Image.open(io.BytesIO(data)).convert('RGB')
    W, H, l, t = crop_geometry(*im.size)
    chans = [c.convert('F').resize((W, H), Image.LANCZOS).crop((l, t, l + SIZE, t + SIZE)) for c in im.split()]
    return np.clip(np.stack([np.asarray(c) for c in chans], -1), 0, 255)

def psnr(a, ref): return 10*math.log10(255**2/max(((a.astype(np.float64) - ref)**2).mean(), 1e-10))

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0]); ap.add_argument('--rounds', type=int, default=5)
    args = ap.parse_args()
    root = shared_dir('data', 'ilsvrc2010-sample', 'train')
    if root is None: print('SKIP: ../shared/data/ilsvrc2010-sample not found (benchmark needs the 500 real JPEGs)'); return
    torch.set_num_threads(1); warnings.simplefilter('ignore')
    files = sorted(p for p in root.rglob('*') if p.is_file())
    datas = [(p.read_bytes(), p.name) for p in files]
    machine = f'{cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__}, Pillow {Image.__version__}, 1 process, 1 thread'
    print(f'machine: {machine}\n{len(datas)} real ILSVRC-2010 JPEGs from {root}')
    short = np.array([min(Image.open(io.BytesIO(d)).size) for d, _ in datas])
    print(f'shorter side: median {np.median(short):.0f}, {int((short >= 1024).sum())} images >= 1024 '
          f'(only those can decode at reduced scale and stay >= 2x 256)')
    pn, po, pb = [], [], []
    for d, n in datas:
        r = reference(d); pn.append(psnr(naive(d), r)); po.append(psnr(ours(d, n), r)); pb.append(psnr(ours(d, n, 'bilinear'), r))
    paths = {'naive': lambda: [naive(d) for d, _ in datas], 'ours': lambda: [ours(d, n) for d, n in datas],
             'ours bilinear': lambda: [ours(d, n, 'bilinear') for d, n in datas],
             'decode only': lambda: [decode(d, n, reuse=True) for d, n in datas],
             'ours+encode': lambda: [encode_jpeg(torch.from_numpy(ours(d, n)).permute(2, 0, 1)) for d, n in datas]}
    times = {k: [] for k in paths}
    for _ in range(args.rounds):                       # interleaved: A, B, C, A, B, C, ...
        for k, f in paths.items():
            t = time.process_time(); f(); times[k].append(time.process_time() - t)
    med = {k: statistics.median(v) for k, v in times.items()}
    ips = {k: len(datas)/v for k, v in med.items()}
    print(f'{"path":<13} {"images/s":>9} {"ms/image":>9}   (median of {args.rounds} interleaved rounds, CPU time)')
    for k in paths: print(f'{k:<13} {ips[k]:9.0f} {1000*med[k]/len(datas):9.2f}')
    ratio = ips['ours']/ips['naive']
    print(f'speed ratio ours/naive: {ratio:.2f}x (target >= 2x); decoding alone is {med["decode only"]/med["naive"]:.0%} '
          f'of the naive time, so even a free resize would give at most {ips["decode only"]/ips["naive"]:.2f}x')
    print(f'speed ratio ours bilinear/naive: {ips["ours bilinear"]/ips["naive"]:.2f}x')
    print(f'PSNR vs float LANCZOS reference: naive {np.mean(pn):.2f} dB, ours {np.mean(po):.2f} dB '
          f'(difference {np.mean(po) - np.mean(pn):+.2f} dB; target >= -0.5), ours bilinear {np.mean(pb):.2f} dB '
          f'({np.mean(pb) - np.mean(pn):+.2f} dB)')
    print(f'[{machine}]')

if __name__ == '__main__': main()
