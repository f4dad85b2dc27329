#!/usr/bin/env python
"""Epoch read throughput of the packed data set (`alexnet_nb.pack`) against one file an image
(issue 16, item 2), with the page cache dropped before every epoch, on this machine's disk.

Data: `--images` (>= 20,000) preprocessed 256x256 JPEGs, made by copying a small set of distinct
JPEGs under new names (the real ILSVRC sample preprocessed by `alexnet_preprocess` when
`../shared/data/ilsvrc2010-sample` exists, else the toy root's images), as a folder root, and the
same root packed by `pack_root`.

Measured, interleaved over `--rounds` rounds (folder, packed, folder, packed, ...), median reported:
- `epoch read`: every training image's bytes once, in the Loader's shuffled epoch order, in one
  process (folder: open + read of each file; packed: `PackedFiles.read`, one `os.pread` + CRC check);
- `stage copy`: copying the whole root to another folder on the same disk (what staging to
  node-local disk costs: `shutil.copytree`), then `sync`.
Before every measurement: `sync; echo 3 > /proc/sys/vm/drop_caches` (needs root; otherwise the
figures are marked as page-cache reads).

    python benchmarks/packed_read.py [--images 20000] [--rounds 3] [--dir FOLDER_ON_DISK] [--json OUT]
"""
import argparse, json, os, shutil, statistics, subprocess, sys, tempfile, time
from pathlib import Path
import numpy as np, pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from alexnet_nb.core import make_toy_root, read_manifest
from alexnet_nb.pack import pack_root, PackedFiles
from alexnet_nb.utils import shared_dir, cpu_name



def disk_of(path):
    "Device and file system type holding `path` (from /proc/mounts, longest matching mount point)."
    best = ('?', '?', '')
    for l in open('/proc/mounts'):
        dev, mnt, fs = l.split()[:3]
        if str(Path(path).resolve()).startswith(mnt) and len(mnt) >= len(best[2]): best = (dev, fs, mnt)
    return f'{best[0]} ({best[1]}, mounted on {best[2]})'


def drop_caches()->bool:
    os.sync()
    try:
        with open('/proc/sys/vm/drop_caches', 'w') as f: f.write('3\n')
        return True
    except OSError: return False


def seed_images(work:Path)->tuple:
    "Distinct preprocessed 256x256 JPEGs (bytes) and where they came from."
    src = shared_dir('data', 'ilsvrc2010-sample')
    if src is not None:
        pre = work / 'sample-pre'
        p = subprocess.run([sys.executable, '-m', 'alexnet_nb.preprocess', str(src), str(pre), '--quiet'], capture_output=True, text=True)
        if p.returncode == 0:
            m = read_manifest(pre, 'train')
            return [(pre / o).read_bytes() for o in m.output], f'{len(m)} real ILSVRC-2010 images preprocessed by alexnet_preprocess'
        print('alexnet_preprocess failed, using toy images:', p.stderr.strip()[-300:])
    root = make_toy_root(work / 'toy', n={'train': 200}, n_classes=10)
    return [(root / o).read_bytes() for o in read_manifest(root, 'train').output], '200 toy images (make_toy_root)'


def make_folder_root(dst:Path, seeds:list, n:int, classes:int=100)->Path:
    "A folder root of `n` images named train/<wnid>/<wnid>_<i>.JPEG, each a copy of a seed image."
    rows = []
    for i in range(n):
        wnid = f'n{i % classes:08d}'; out = f'train/{wnid}/{wnid}_{i:07d}.JPEG'
        (dst / out).parent.mkdir(parents=True, exist_ok=True)
        (dst / out).write_bytes(seeds[i % len(seeds)])
        rows.append(dict(split='train', source=f'src/{out}', output=out, wnid=wnid, label=i % classes, width=256, height=256,
                         mode='RGB', format='JPEG', status='ok', reason=''))
    pd.DataFrame(rows).sort_values('output').to_csv(dst / 'manifest.csv', index=False)
    return dst


def epoch_folder(root:Path, perm)->int:
    files = [str(root / o) for o in read_manifest(root, 'train').output]; n = 0
    for i in perm:
        with open(files[i], 'rb') as f: n += len(f.read())
    return n


def epoch_packed(root:Path, perm)->int:
    pf = PackedFiles(root, read_manifest(root, 'train')); n = 0
    for i in perm: n += len(pf.read(int(i)))
    return n


def stage_copy(root:Path, dst:Path)->int:
    shutil.copytree(root, dst); os.sync()
    n = sum(f.stat().st_size for f in dst.rglob('*') if f.is_file()); shutil.rmtree(dst); return n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--images', type=int, default=20_000)
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--shard-mb', type=int, default=128, help='shard size of the packed root (MiB)')
    ap.add_argument('--dir', help='a folder on the disk to measure (default: a temporary folder under benchmarks/results)')
    ap.add_argument('--no-copy', action='store_true', help='skip the stage-copy measurement')
    ap.add_argument('--json', help='also write the results here')
    a = ap.parse_args()
    base = Path(a.dir or REPO / 'benchmarks' / 'results'); base.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix='packed_read-', dir=base))
    try:
        t = time.perf_counter()
        seeds, how = seed_images(work)
        folder = make_folder_root(work / 'folder', seeds, a.images)
        packed = pack_root(folder, work / 'packed', shard_bytes=a.shard_mb << 20, quiet=True)
        n_shards = len(list((packed / 'shards').iterdir()))
        print(f'data: {a.images} images ({how}), {sum(map(len, seeds)) / len(seeds) / 1024:.1f} KiB each on average; '
              f'packed into {n_shards} shards; made in {time.perf_counter() - t:.0f} s', flush=True)
        perm = np.random.default_rng(0).permutation(a.images)
        methods = {'epoch read, one file an image': lambda: epoch_folder(folder, perm), 'epoch read, packed': lambda: epoch_packed(packed, perm)}
        if not a.no_copy:
            methods.update({'stage copy, one file an image': lambda: stage_copy(folder, work / 'copy'),
                            'stage copy, packed': lambda: stage_copy(packed, work / 'copy')})
        times = {k: [] for k in methods}; dropped = []; loads = []; nbytes = {}
        for r in range(a.rounds):
            for k, f in methods.items():
                dropped.append(drop_caches()); loads.append(os.getloadavg()[0])
                t = time.perf_counter(); nbytes[k] = f(); times[k].append(time.perf_counter() - t)
            print(f'round {r + 1}: ' + ', '.join(f'{k} {v[-1]:.2f} s' for k, v in times.items()), flush=True)
        med = {k: statistics.median(v) for k, v in times.items()}
        mach = f'{cpu_name()}, {os.cpu_count()} cores, disk {disk_of(work)}'
        cache = 'page cache dropped before every measurement' if all(dropped) else 'PAGE CACHE NOT DROPPED (not root?): figures are reads from memory'
        print(f'\nmachine: {mach}\n{cache}; load average during the runs {min(loads):.1f}..{max(loads):.1f}; median of {a.rounds} interleaved rounds')
        res = dict(machine=mach, images=a.images, data=how, shards=n_shards, cache_dropped=all(dropped), load_min=min(loads), load_max=max(loads),
                   rounds=a.rounds, seconds=med, images_per_s={k: a.images / v for k, v in med.items()},
                   mib_per_s={k: nbytes[k] / 2**20 / v for k, v in med.items()})
        for k in methods: print(f'  {k:32s} {med[k]:7.2f} s  {a.images / med[k]:9.0f} images/s  {nbytes[k] / 2**20 / med[k]:7.1f} MiB/s')
        res['ratio_read'] = med['epoch read, one file an image'] / med['epoch read, packed']
        print(f"\npacked / one file an image, epoch read throughput: {res['ratio_read']:.2f}x")
        if not a.no_copy:
            res['ratio_copy'] = med['stage copy, one file an image'] / med['stage copy, packed']
            print(f"packed / one file an image, staging copy: {res['ratio_copy']:.2f}x faster")
        if a.json: Path(a.json).write_text(json.dumps(res, indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__': main()
