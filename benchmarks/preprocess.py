#!/usr/bin/env python
"""Preprocessing speed and quality: alexnet_nb.preprocess against the naive path, interleaved, one process.

Naive path: PIL open, convert('RGB'), antialiased bilinear resize of the whole image so the shorter side
is 256, central crop. Ours: `decode` (libjpeg-turbo through simplejpeg into a reused buffer, as `process_bytes`
does; reduced-scale JPEG decode never below 2x the target) and `resize_crop` (exact scale, antialiased bicubic,
channels-last). 'ours bilinear' is the `resample='bilinear'` setting. Both stop at the 256x256 uint8 array (no
JPEG encode).
Quality: PSNR of each against a float LANCZOS reference (PIL mode 'F' per channel) from the full decode,
with the same geometry. Data: the 500 real ILSVRC-2010 JPEGs in ../shared/data/ilsvrc2010-sample.
`--profile` adds per-stage CPU time (ms/image, same images, interleaved rounds) of both paths, plus what-ifs
(libjpeg-turbo at 1/8 scale: what is left is entropy decoding; fastdct/fastupsample; simplejpeg's encoder), and the
speed ratio a free resize would allow.
Usage: python benchmarks/preprocess.py [--rounds 5] [--profile]
"""
import argparse, io, math, os, statistics, time, warnings
import numpy as np, simplejpeg, torch
from PIL import Image
from alexnet_nb.preprocess import SIZE, MIN_DECODE, QUALITY, crop_geometry, decode, resize_crop, encode_jpeg, process_bytes, _jpeg_scale
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

def _rounds(stages, rounds):
    "Median CPU seconds of each stage over `rounds` interleaved rounds (A, B, C, A, B, C, ...)."
    times = {k: [] for k in stages}
    for _ in range(rounds):
        for k, f in stages.items():
            t = time.process_time(); f(); times[k].append(time.process_time() - t)
    return {k: statistics.median(v) for k, v in times.items()}

def _sj_args(data):
    "The arguments `decode` gives `simplejpeg.decode_jpeg` for a plain colour/grayscale JPEG (None for others)."
    try: h, w, cs, _ = simplejpeg.decode_jpeg_header(data)
    except ValueError: return None
    if cs not in ('YCbCr', 'RGB', 'Gray'): return None
    m = MIN_DECODE*SIZE + 1 if 2*MIN_DECODE*SIZE <= min(w, h) else 0
    return dict(colorspace='GRAY' if cs == 'Gray' else 'RGB', min_height=m, min_width=m, min_factor=2 if m else 1)

def _quality(datas, args, refs, ys3):
    "PSNR vs the reference of ours with fastdct + fastupsample decoding, and of the output JPEG (Pillow vs simplejpeg) vs its input."
    fast = []
    for (d, _), a, r in zip(datas, args, refs):
        h, w = simplejpeg.decode_jpeg_header(d)[:2]
        x = simplejpeg.decode_jpeg(d, fastdct=True, fastupsample=True, **a)
        y = resize_crop(torch.from_numpy(x).permute(2, 0, 1), w, h, _jpeg_scale(w, h, x.shape))
        fast.append(psnr(y.expand(3, -1, -1).permute(1, 2, 0).numpy(), r))
    dec = lambda b: np.asarray(Image.open(io.BytesIO(b)).convert('RGB'))
    enc = {'Pillow': lambda a: encode_jpeg(torch.from_numpy(a).permute(2, 0, 1)),
           'simplejpeg': lambda a: simplejpeg.encode_jpeg(a, QUALITY, 'RGB', '420')}
    out = {k: [f(a) for a in ys3] for k, f in enc.items()}
    return np.mean(fast), {k: (np.mean([psnr(dec(b), a) for b, a in zip(v, ys3)]), np.mean([len(b) for b in v])) for k, v in out.items()}

def profile(datas, rounds, machine, refs):
    "Per-stage CPU ms/image of the naive path and of ours, interleaved; what-ifs; the ceiling a free resize allows."
    n = len(datas)
    args = [_sj_args(d) for d, _ in datas]
    assert all(a is not None for a in args), 'every sample photo should be a plain colour or grayscale JPEG'
    buf = bytearray(max(w*h*3 for w, h in (Image.open(io.BytesIO(d)).size for d, _ in datas)))
    pil = [Image.open(io.BytesIO(d)).convert('RGB') for d, _ in datas]             # inputs of the later stages
    geo = [crop_geometry(*im.size) for im in pil]
    big = [im.resize((W, H), Image.BILINEAR) for im, (W, H, _, _) in zip(pil, geo)]
    dec = [decode(d, nm) for d, nm in datas]
    ys = [resize_crop(x.x, x.width, x.height, x.scale) for x in dec]
    ys3 = [(y.expand(3, -1, -1) if y.shape[0] == 1 else y).permute(1, 2, 0).contiguous().numpy() for y in ys]
    def pil_decode():
        for d, _ in datas: Image.open(io.BytesIO(d)).convert('RGB')
    stages = {
        'naive: PIL decode (open, load, convert RGB)': pil_decode,
        'naive: PIL bilinear resize, whole image': lambda: [im.resize((W, H), Image.BILINEAR) for im, (W, H, _, _) in zip(pil, geo)],
        'naive: crop + np.asarray': lambda: [np.asarray(b.crop((l, t, l + SIZE, t + SIZE))) for b, (_, _, l, t) in zip(big, geo)],
        'naive: whole path': lambda: [naive(d) for d, _ in datas],
        'ours: JPEG header (simplejpeg)': lambda: [simplejpeg.decode_jpeg_header(d) for d, _ in datas],
        'ours: libjpeg-turbo decode (simplejpeg)': lambda: [simplejpeg.decode_jpeg(d, buffer=buf, **a) for (d, _), a in zip(datas, args)],
        'ours: decode() in all': lambda: [decode(d, nm, reuse=True) for d, nm in datas],
        'ours: resize + crop (torch, bicubic AA)': lambda: [resize_crop(x.x, x.width, x.height, x.scale) for x in dec],
        'ours: encode (Pillow, q95 4:2:0)': lambda: [encode_jpeg(y) for y in ys],
        'ours: process_bytes (decode+resize+encode)': lambda: [process_bytes(d, nm) for d, nm in datas],
        'what-if: decode at 1/8 scale (~entropy decoding only)': lambda: [simplejpeg.decode_jpeg(d, buffer=buf, colorspace=a['colorspace'], min_factor=8) for (d, _), a in zip(datas, args)],
        'what-if: decode with fastdct + fastupsample': lambda: [simplejpeg.decode_jpeg(d, buffer=buf, fastdct=True, fastupsample=True, **a) for (d, _), a in zip(datas, args)],
        'what-if: encode with simplejpeg (q95 420)': lambda: [simplejpeg.encode_jpeg(y, QUALITY, 'RGB', '420') for y in ys3],
    }
    med = _rounds(stages, rounds)
    ms = {k: 1000*v/n for k, v in med.items()}
    print(f'\nper-stage profile, CPU ms/image (median of {rounds} interleaved rounds, {n} images):')
    for k, v in ms.items(): print(f'  {k:<56} {v:6.2f}')
    nv, dc, rs = ms['naive: whole path'], ms['ours: decode() in all'], ms['ours: resize + crop (torch, bicubic AA)']
    print(f'  ours: decode() minus libjpeg-turbo (Python overhead; noise if ~0)  {dc - ms["ours: libjpeg-turbo decode (simplejpeg)"]:6.2f}')
    print(f'ceiling: with a free resize, ours/naive <= {nv/dc:.2f}x (decode is {dc/nv:.0%} of naive); 2x needs resize + crop <= '
          f'{nv/2 - dc:.2f} ms/image, today {rs:.2f} ({rs/max(nv/2 - dc, 1e-9):.1f}x too slow)')
    print(f'entropy decoding (the 1/8-scale decode, which skips most IDCT and colour work) is '
          f'{ms["what-if: decode at 1/8 scale (~entropy decoding only)"]/ms["ours: libjpeg-turbo decode (simplejpeg)"]:.0%} '
          f'of the full decode: a cropped decode (libjpeg-turbo jpeg_crop_scanline / skip_scanlines) still entropy-decodes every '
          f'block above the crop\'s last row, so it cannot remove it')
    fast, enc = _quality(datas, args, refs, ys3)
    print(f'what-if quality: fastdct + fastupsample decode gives {fast:.2f} dB vs the reference (today {np.mean([psnr(y.expand(3, -1, -1).permute(1, 2, 0).numpy(), r) for y, r in zip(ys, refs)]):.2f} dB); '
          + '; '.join(f'{k} encode (q{QUALITY} 4:2:0) decodes to {p:.2f} dB of its input, {b/1024:.1f} KiB' for k, (p, b) in enc.items()))
    print(f'[{machine}, load average {os.getloadavg()[0]:.1f}]')

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0]); ap.add_argument('--rounds', type=int, default=5)
    ap.add_argument('--profile', action='store_true', help='also print per-stage CPU time of both paths')
    args = ap.parse_args()
    root = shared_dir('data', 'ilsvrc2010-sample', 'train')
    if root is None: print('SKIP: ../shared/data/ilsvrc2010-sample not found (benchmark needs the 500 real JPEGs)'); return
    torch.set_num_threads(1); warnings.simplefilter('ignore')
    files = sorted(p for p in root.rglob('*') if p.is_file())
    datas = [(p.read_bytes(), p.name) for p in files]
    machine = f'{cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__}, Pillow {Image.__version__}, 1 process, 1 thread'
    print(f'machine: {machine}, load average {os.getloadavg()[0]:.1f}\n{len(datas)} real ILSVRC-2010 JPEGs from {root}')
    short = np.array([min(Image.open(io.BytesIO(d)).size) for d, _ in datas])
    print(f'shorter side: median {np.median(short):.0f}, {int((short >= 1024).sum())} images >= 1024 '
          f'(only those can decode at reduced scale and stay >= 2x 256)')
    pn, po, pb, refs = [], [], [], []
    for d, n in datas:
        r = reference(d); pn.append(psnr(naive(d), r)); po.append(psnr(ours(d, n), r)); pb.append(psnr(ours(d, n, 'bilinear'), r))
        if args.profile: refs.append(r)
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
    print(f'[{machine}, load average {os.getloadavg()[0]:.1f}]')
    if args.profile: profile(datas, args.rounds, machine, refs)

if __name__ == '__main__': main()
