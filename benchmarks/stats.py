#!/usr/bin/env python
"""Benchmark of `alexnet_nb.stats`: the exact one-pass statistics against the earlier replication's
approach, and against decoding alone, on the same preprocessed real images.

Methods, interleaved round by round (medians reported):
- `decode`:   decode every image (the strict simplejpeg decoder of `alexnet_nb.core` the pass uses), nothing else;
- `decode_pil`: the same with Pillow, for reference;
- `pass`:     `compute_stats` (mean image, channel mean/std, both covariances, PCA), one process;
- `accumulate`: the pass's per-image part alone (decode + the compiled loop), without its fixed costs;
- `pass_before`: the accumulation before the compiled loop (int32 sum + `image_gram`), for a before/after;
- `baseline`: the earlier replication: pass 1 for the mean image and per-channel std, pass 2 feeding
              `IncrementalPCA.partial_fit` one image at a time with standardised pixels (same decoder).
Equal results: the baseline's mean image and eigenvectors against the pass's (the pass computes the
baseline's standardised PCA exactly from the same sums, `standardised_cov`).

Usage: python benchmarks/stats.py [--root PREPROCESSED_ROOT] [--rounds 3] [--limit N]
Without --root it preprocesses ../shared/data/ilsvrc2010-sample into a temporary folder (with
`alexnet_preprocess` if installed, else a plain Pillow resize + centre crop).
"""
import argparse, csv, os, shutil, statistics, subprocess, tempfile, time
from pathlib import Path
import numpy as np, torch
from PIL import Image
from sklearn.decomposition import IncrementalPCA
from alexnet_nb.core import read_manifest, root_from_photos
from alexnet_nb.stats import accumulate, compute_stats, decode, pca, standardised_cov, angle_deg
from alexnet_nb.utils import shared_dir, cpu_name

def machine():
    "CPU model, cores and load (the machine may be shared)."
    return f"{cpu_name()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, torch threads {torch.get_num_threads()}"

def make_root(dst):
    "Preprocess the shared sample into `dst` (alexnet_preprocess if present, else Pillow)."
    src = shared_dir('data', 'ilsvrc2010-sample')
    if src is None: raise SystemExit('no --root given and ../shared/data/ilsvrc2010-sample not found')
    if shutil.which('alexnet_preprocess'):
        try:
            subprocess.run(['alexnet_preprocess', str(src), str(dst)], check=True, capture_output=True, text=True)
            return dst, 'alexnet_preprocess'
        except (subprocess.CalledProcessError, FileNotFoundError) as e:
            print('alexnet_preprocess failed, using Pillow instead:', getattr(e, 'stderr', e)); shutil.rmtree(dst, ignore_errors=True)
    root_from_photos(sorted(src.glob('train/*/*.JPEG')), dst, resample=Image.BICUBIC)
    return dst, 'Pillow resize (alexnet_preprocess not installed)'

def decode_only(paths):
    n = 0
    for p in paths: n += decode(p).shape[0]
    return n

def pil_only(paths):
    "Pillow's decode, for reference (not strict: never used by the project)."
    n = 0
    for p in paths: n += np.asarray(Image.open(p).convert('RGB')).shape[2]
    return n

def pass_before(paths):
    "The pass's accumulation before issue 16 (int32 add of the [3, H, W] view + `image_gram`), for an interleaved before/after."
    from alexnet_nb.stats import image_gram
    s = torch.zeros(3, 256, 256, dtype=torch.int32); g = torch.zeros(3, 3, dtype=torch.int64)
    for p in paths: x = decode(p); s += x; g += image_gram(x)
    return s.permute(1, 2, 0).long(), g

def baseline(paths):
    "The earlier replication's approach: mean image + std pass, then IncrementalPCA per image on standardised pixels."
    s = np.zeros((256, 256, 3)); s1 = np.zeros(3); s2 = np.zeros(3)
    for p in paths:
        x = decode(p).permute(1, 2, 0).numpy().astype(np.float64)
        s += x; f = x.reshape(-1, 3); s1 += f.sum(0); s2 += (f*f).sum(0)
    n = len(paths); npx = n*256*256
    mean = s/n; sd = np.sqrt(s2/npx - (s1/npx)**2)
    ipca = IncrementalPCA(n_components=3)
    for p in paths:
        x = decode(p).permute(1, 2, 0).numpy().astype(np.float64)
        ipca.partial_fit(((x - mean)/sd).reshape(-1, 3))
    return mean, sd, ipca

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--root', help='preprocessed root (default: the shared sample, preprocessed now)')
    ap.add_argument('--rounds', type=int, default=3, help='interleaved rounds (median reported)')
    ap.add_argument('--limit', type=int, default=0, help='use only the first N images (0: all)')
    ap.add_argument('--no-baseline', action='store_true', help='skip the slow IncrementalPCA baseline (pass vs decode only)')
    a = ap.parse_args()
    torch.set_num_threads(1)                     # one core per method, as each worker of the pass uses
    tmp = None
    if a.root: root, how = Path(a.root), 'given'
    else: tmp = Path(tempfile.mkdtemp()); root, how = make_root(tmp/'pre')
    paths = [root/o for o in read_manifest(root, 'train').output][:a.limit or None]
    if a.limit:                                   # a root restricted to the first N rows, for compute_stats
        sub = Path(tempfile.mkdtemp()); rows = list(csv.DictReader(open(root/'manifest.csv')))
        rows = [r for r in rows if r['split'] == 'train' and r['status'] != 'failed' and r['output']][:a.limit]
        with open(sub/'manifest.csv', 'w', newline='') as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0])); w.writeheader()
            w.writerows([{**r, 'output': str((root/r['output']).resolve())} for r in rows])
        root = sub
    n = len(paths)
    print(f"machine: {machine()}\nimages: {n} real ILSVRC-2010 training images, 256x256 JPEG ({how}) in {root}")
    for p in paths: p.read_bytes()              # warm the page cache: all methods read from memory
    decode(paths[0]); pil_only(paths[:1])      # load the decoders before timing
    accumulate(paths[:1])                        # and compile (or load from numba's cache) the pass's pixel loop
    methods = {'decode': lambda: decode_only(paths), 'decode_pil': lambda: pil_only(paths),
               'pass': lambda: compute_stats(root, show_progress=False), 'baseline': lambda: baseline(paths),
               'pass_before': lambda: pass_before(paths), 'accumulate': lambda: accumulate(paths)}
    if a.no_baseline: del methods['baseline']
    times = {k: [] for k in methods}; out = {}
    for r in range(a.rounds):
        for k, f in methods.items():              # interleaved: every round runs every method once
            t0 = time.perf_counter(); out[k] = f(); times[k].append(time.perf_counter() - t0)
        print(f"round {r+1}: " + ', '.join(f"{k} {t[-1]:.2f}s" for k, t in times.items()), flush=True)
    med = {k: statistics.median(t) for k, t in times.items()}
    print(f"\nmedian over {a.rounds} rounds ({machine()}):")
    for k in methods: print(f"  {k:10s} {med[k]:7.2f} s  {n/med[k]:8.1f} images/s")
    st = out['pass']
    print(f"pass throughput / decode-only throughput (same decoder): {med['decode']/med['pass']:.2f} "
          f"(statistics add {100*(med['pass']/med['decode'] - 1):.0f}% to decoding; target >= 0.8)")
    print(f"per-image part of the pass (`accumulate`: decode + sums, no fixed costs) / decode-only: {med['decode']/med['accumulate']:.2f}; "
          f"fixed costs of one pass (manifest hash and read, covariances, PCA): {med['pass'] - med['accumulate']:.3f} s")
    print(f"the accumulation before issue 16 (decode + int32 sum + image_gram) / decode-only: {med['decode']/med['pass_before']:.2f}")
    sb, gb = out['pass_before']
    from alexnet_nb.stats import covariances
    cb = covariances(dict(n_images=n, sum_image=sb, gram=gb))
    print(f"equal to the earlier accumulation: mean image {torch.equal(st['mean_image'], sb.double()/n)}, "
          f"raw covariance {torch.equal(st['cov_raw'], cb['cov_raw'])}, mean-subtracted covariance {torch.equal(st['cov_mean_subtracted'], cb['cov_mean_subtracted'])}")
    if a.no_baseline:
        if tmp: shutil.rmtree(tmp, ignore_errors=True)
        return
    mean, sd, ipca = out['baseline']
    sv, sw = pca(standardised_cov(st), scale=1)
    angles = [angle_deg(torch.from_numpy(ipca.components_[i]), sw[:, i]) for i in range(3)]
    nn = st['n_pixels']
    print(f"\nspeed-up of the pass over the earlier replication's approach: {med['baseline']/med['pass']:.1f}x (target >= 10x)")
    print(f"strict simplejpeg decode vs Pillow decode: {med['decode_pil']/med['decode']:.2f}x faster")
    print(f"\nequal results: mean image max |diff| {np.abs(st['mean_image'].numpy() - mean).max():.2e} levels; "
          f"channel std max |diff| {np.abs(st['channel_std'].numpy() - sd).max():.2e}; "
          f"eigenvector angles (deg) {[f'{x:.1e}' for x in angles]}; "
          f"eigenvalue max rel diff {np.abs(ipca.explained_variance_*(nn-1)/nn/sv.numpy() - 1).max():.1e}")
    if tmp: shutil.rmtree(tmp, ignore_errors=True)

if __name__ == '__main__': main()
