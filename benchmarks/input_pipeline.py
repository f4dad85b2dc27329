"""Input pipeline benchmark: `alexnet_nb.augment.Loader` against a per-sample torchvision.transforms.v2
pipeline doing the same work (random 224 crop, horizontal flip, float, mean-image subtraction, PCA
colour noise) in DataLoader workers, on the same 256x256 JPEGs, with the same worker count and prefetch,
interleaved round by round in one run; the consumer touches every batch (`x.sum()`). Reports the median
images/s of each and the ratio.

Data: the 500 real ILSVRC-2010 images of ../shared (rescaled to 256x256 with PIL into a temporary
folder), else a generated root of synthetic JPEGs (`--synthetic` forces it).

Where CUDA exists it also measures the loader on the GPU (`device='cuda'`), with CPU decoding and with
nvJPEG decoding (`gpu_decode=True`), and the baseline moved to the GPU.

    python benchmarks/input_pipeline.py [--workers 2] [--batch 64] [--rounds 5] [--synthetic]

Measured 2026-11-26 on a 2-core AMD EPYC shared with other jobs (load average ~13), the 500 real
images, defaults: Loader 275 img/s, v2 per-sample (PIL) 83, v2 per-sample (decode_jpeg) 96:
x3.30 (per-round x2.82..4.00) and x2.84 against the decode_jpeg variant. (The Loader has one
decoder since: the strict simplejpeg one of `alexnet_nb.core`.) No GPU was available to measure the
CUDA paths.
"""
import argparse, os, statistics, sys, tempfile, time
from pathlib import Path
import numpy as np, pandas as pd, torch

from alexnet_nb.augment import Loader, pca_shift, CROP, PCA_STD
from alexnet_nb.core import make_toy_root, toy_stats, MANIFEST_COLUMNS
from alexnet_nb.utils import shared_dir, cpu_name


def machine() -> str:
    "CPU model and core count, and the GPU if there is one."
    cpu = cpu_name()
    s = f"{cpu}, {os.cpu_count()} cores"
    if torch.cuda.is_available(): s += f"; GPU {torch.cuda.get_device_name(0)}"
    return s


def real_root(dst: Path) -> Path | None:
    "The ../shared sample rescaled to 256x256 (shorter side 256, central crop) with a contract manifest."
    src = shared_dir('data', 'ilsvrc2010-sample', 'train')
    if src is None: return None
    from PIL import Image
    files = sorted(src.glob('*/*.JPEG'))
    if not files: return None
    wnids = sorted({p.parent.name for p in files}); lab = {w: i for i, w in enumerate(wnids)}
    rows = []
    for p in files:
        im = Image.open(p).convert('RGB'); w, h = im.size; s = 256 / min(w, h)
        im = im.resize((max(256, round(w * s)), max(256, round(h * s))), Image.BILINEAR)
        l, t = (im.size[0] - 256) // 2, (im.size[1] - 256) // 2
        out = f'train/{p.parent.name}/{p.name}'
        (dst / out).parent.mkdir(parents=True, exist_ok=True)
        im.crop((l, t, l + 256, t + 256)).save(dst / out, quality=90)
        rows.append(dict(split='train', source=str(p), output=out, wnid=p.parent.name, label=lab[p.parent.name],
                         width=w, height=h, mode='RGB', format='JPEG', status='ok', reason=''))
    pd.DataFrame(rows, columns=MANIFEST_COLUMNS).sort_values('output').to_csv(dst / 'manifest.csv', index=False)
    pd.DataFrame(dict(index=range(len(wnids)), wnid=wnids, ilsvrc_id=0, words='', gloss='')).to_csv(dst / 'classes.csv', index=False)
    return dst


class V2Dataset(torch.utils.data.Dataset):
    "The per-sample baseline: decode, then a transforms.v2 pipeline doing the loader's training work."
    def __init__(self, files, labels, stats, decoder='pil'):
        from torchvision.transforms import v2
        self.files, self.labels, self.decoder = files, labels, decoder
        mean = torch.as_tensor(np.asarray(stats['mean_image'], np.float32)).permute(2, 0, 1).contiguous()
        ev, P = np.asarray(stats['eigvals'], np.float64), np.asarray(stats['eigvecs'], np.float64)
        def colour(x):  # one PCA shift per image, 0..1-scale eigenvalues, times 255
            return x + torch.from_numpy(pca_shift(np.random.normal(0, PCA_STD, 3), ev, P))[:, None, None]
        self.tf = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=False), v2.Lambda(lambda x: x - mean),
                              v2.RandomCrop(CROP), v2.RandomHorizontalFlip(), v2.Lambda(colour)])
    def __len__(self): return len(self.files)
    def __getitem__(self, i):
        if self.decoder == 'pil':
            from PIL import Image
            im = Image.open(self.files[i]).convert('RGB')      # what torchvision's ImageFolder does
        else:
            from torchvision.io import decode_jpeg, read_file, ImageReadMode
            im = decode_jpeg(read_file(self.files[i]), mode=ImageReadMode.RGB)
        return self.tf(im), self.labels[i]


def consume(it, device) -> int:
    "Touch every batch (sum all of x) and count images."
    n, acc = 0, torch.zeros((), device=device)
    for x, y in it:
        acc += x.sum(); n += len(y)
    float(acc)                                                  # wait for the device
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--workers', type=int, default=2, help='decoding workers, the same for both pipelines')
    ap.add_argument('--batch', type=int, default=64, help='batch size')
    ap.add_argument('--rounds', type=int, default=5, help='interleaved rounds (median reported)')
    ap.add_argument('--epochs', type=int, default=1, help='passes over the data per timed round')
    ap.add_argument('--synthetic', action='store_true', help='use generated images even if ../shared exists')
    ap.add_argument('--threads', type=int, default=1, help='torch threads in the main process (both pipelines)')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    os.environ.setdefault('ALEXNET_NO_PROGRESS', '1')
    with tempfile.TemporaryDirectory(prefix='alexnet_bench_') as t: run(a, Path(t))


def run(a, tmp: Path):
    "Build the data in `tmp`, then time the pipelines round by round."
    root = None if a.synthetic else real_root(tmp / 'real')
    what = 'the 500 ILSVRC-2010 sample images rescaled to 256x256'
    if root is None:
        root = make_toy_root(tmp / 'toy', {'train': 500}, n_classes=10); what = '500 synthetic 256x256 JPEGs'
    stats = toy_stats(root)
    print(f"machine: {machine()}\ndata: {what}\nworkers {a.workers}, batch {a.batch}, rounds {a.rounds}, main threads {a.threads}, torch {torch.__version__}")

    def ours(device='cpu', **kw):
        return Loader(root, 'train', stats, a.batch, train=True, workers=a.workers, device=device, **kw)
    def baseline(decoder, device='cpu'):
        ld = ours()          # for the file list and labels only
        ds = V2Dataset(ld.files, ld.targets, stats, decoder)
        dl = torch.utils.data.DataLoader(ds, batch_size=a.batch, shuffle=True, drop_last=True, num_workers=a.workers,
                                         persistent_workers=a.workers > 0, prefetch_factor=ld.prefetch if a.workers else None,
                                         pin_memory=device == 'cuda')
        class Moved:
            def set_epoch(self, e): pass
            def __iter__(self):
                for x, y in dl: yield x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        return Moved()

    pipes = {'alexnet_nb Loader': ours(), 'v2 per-sample (PIL decode)': baseline('pil'),
             'v2 per-sample (decode_jpeg)': baseline('torchvision')}
    if torch.cuda.is_available():
        pipes.update({'Loader cuda, CPU decode': ours('cuda'), 'Loader cuda, nvJPEG decode': ours('cuda', gpu_decode=True),
                      'v2 per-sample (PIL) -> cuda': baseline('pil', 'cuda')})
    rates = {k: [] for k in pipes}
    epoch = 0
    for k, p in pipes.items():                                 # warm-up: start workers, fill caches
        p.set_epoch(epoch); consume(p, 'cuda' if 'cuda' in k else 'cpu')
    for r in range(a.rounds):
        order = list(pipes) if r % 2 == 0 else list(pipes)[::-1]   # alternate the order round by round
        for k in order:
            dev = 'cuda' if 'cuda' in k else 'cpu'
            t0, n = time.perf_counter(), 0
            for _ in range(a.epochs):
                epoch += 1; pipes[k].set_epoch(epoch); n += consume(pipes[k], dev)
            rates[k].append(n / (time.perf_counter() - t0))
        print(f"round {r}: " + ', '.join(f"{k} {rates[k][-1]:.0f}" for k in pipes), flush=True)
    med = {k: statistics.median(v) for k, v in rates.items()}
    base = med['v2 per-sample (PIL decode)']
    print(f"\nmedian images/s over {a.rounds} interleaved rounds ({machine()}):")
    for k, v in med.items():
        print(f"  {k:32s} {v:8.0f} img/s   x{v / base:.2f} vs v2 per-sample (PIL decode)")
    ratios = [o / b for o, b in zip(rates['alexnet_nb Loader'], rates['v2 per-sample (PIL decode)'])]
    ratios2 = [o / b for o, b in zip(rates['alexnet_nb Loader'], rates['v2 per-sample (decode_jpeg)'])]
    print(f"per-round ratio Loader / v2 (PIL): median x{statistics.median(ratios):.2f} (range {min(ratios):.2f}..{max(ratios):.2f})")
    print(f"per-round ratio Loader / v2 (decode_jpeg): median x{statistics.median(ratios2):.2f} (range {min(ratios2):.2f}..{max(ratios2):.2f})")
    print(f"decoder used by the Loader: {pipes['alexnet_nb Loader'].decoder}")
    for p in pipes.values():
        if hasattr(p, 'close'): p.close()


if __name__ == '__main__':
    main()
