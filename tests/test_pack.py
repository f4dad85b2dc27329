"""The packed data set (issue 16, item 2; `nbs/10_pack.ipynb`): `alexnet_preprocess ROOT --pack DST`
converts a preprocessed root into a few shard files; training the demo preset on it gives exactly the
folder format's weights; conversion is atomic, resumable and idempotent; a truncated or corrupted
shard is named in one line."""
import os, subprocess, sys
from pathlib import Path
import pandas as pd, pytest, torch

from alexnet_nb.augment import Loader
from alexnet_nb.pack import pack_root, PACK_COLUMNS

PY = sys.executable
ENV = {**os.environ, 'ALEXNET_NO_PROGRESS': '1', 'OMP_NUM_THREADS': '1'}


@pytest.fixture(scope='module')
def roots(toy_root):
    "A toy folder root with statistics, and its packed copy made by the CLI."
    root = toy_root({'train': 32, 'val': 8}, n_classes=4); d = root.parent
    p = subprocess.run([PY, '-m', 'alexnet_nb.preprocess', str(root), '--pack', str(d / 'packed'), '--quiet'],
                       capture_output=True, text=True, env=ENV, timeout=300)
    assert p.returncode == 0, p.stderr
    return root, d / 'packed'


def tree(d):
    "Relative path -> bytes of every file under d."
    return {str(f.relative_to(d)): f.read_bytes() for f in sorted(Path(d).rglob('*')) if f.is_file()}


def test_cli_pack_layout(roots):
    root, packed = roots
    m = pd.read_csv(packed / 'manifest.csv', keep_default_na=False)
    assert list(m.columns[-len(PACK_COLUMNS):]) == PACK_COLUMNS and (packed / 'stats.pt').is_file() and (packed / 'classes.csv').is_file()
    ok = m[m.status != 'failed']
    for r in ok.itertuples():     # every image's bytes are exactly the folder file's
        assert (packed / r.shard).read_bytes()[r.offset:r.offset + r.length] == (root / r.output).read_bytes()
    assert not list(packed.rglob('*.tmp')) and not list((packed / 'shards').glob('*[!n]'))


def train(data, run):
    p = subprocess.run([PY, '-m', 'alexnet_nb.train', '--data', str(data), '--run-dir', str(run), '--preset', 'demo',
                        '--epochs', '2', '--batch-size', '8', '--workers', '1', '--device', 'cpu'],
                       capture_output=True, text=True, env=ENV, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    from alexnet_nb.train import list_checkpoints, load_checkpoint
    return load_checkpoint(list_checkpoints(run)[-1])['model']


def test_packed_trains_to_the_same_weights(roots, tmp_path):
    root, packed = roots
    a, b = train(root, tmp_path / 'folder'), train(packed, tmp_path / 'packed')
    assert a.keys() == b.keys()
    for k in a: assert torch.equal(a[k], b[k]), k


def test_loader_reads_packed_in_workers_same_batches(roots):
    root, packed = roots
    la = Loader(root, 'train', root / 'stats.pt', 8, train=True, workers=2, seed=3)
    lb = Loader(packed, 'train', packed / 'stats.pt', 8, train=True, workers=2, seed=3)
    for e in (0, 1):
        la.set_epoch(e, start_step=e); lb.set_epoch(e, start_step=e)
        for (xa, ya), (xb, yb) in zip(la, lb): assert torch.equal(xa, xb) and torch.equal(ya, yb)
    la.close(); lb.close()


def test_pack_is_atomic_resumable_idempotent(roots, tmp_path, monkeypatch):
    root, _ = roots
    ref = tree(pack_root(root, tmp_path / 'ref', shard_bytes=60_000, quiet=True))
    assert len([k for k in ref if k.startswith('shards/')]) >= 3
    # interrupted while writing the second shard: no manifest, no half shard under its final name
    calls = {'n': 0}; orig = Path.read_bytes
    def flaky(self):
        if self.suffix == '.JPEG':
            calls['n'] += 1
            if calls['n'] == 12: raise OSError('simulated crash')
        return orig(self)
    monkeypatch.setattr(Path, 'read_bytes', flaky)
    with pytest.raises(OSError): pack_root(root, tmp_path / 'p', shard_bytes=60_000, quiet=True)
    monkeypatch.setattr(Path, 'read_bytes', orig)
    part = tree(tmp_path / 'p')
    assert 'manifest.csv' not in part and not [k for k in part if k.endswith('.tmp')]
    assert all(part[k] == ref[k] for k in part if k.startswith('shards/'))          # complete shards only
    mt = {f: (tmp_path / 'p' / f).stat().st_mtime_ns for f in part if f.startswith('shards/')}
    pack_root(root, tmp_path / 'p', shard_bytes=60_000, quiet=True)                  # resume
    assert tree(tmp_path / 'p') == ref
    assert all((tmp_path / 'p' / f).stat().st_mtime_ns == t for f, t in mt.items())  # done shards not rewritten
    mt = {f: (tmp_path / 'p' / f).stat().st_mtime_ns for f in ref if f.startswith('shards/')}
    pack_root(root, tmp_path / 'p', shard_bytes=60_000, quiet=True)                  # idempotent
    assert tree(tmp_path / 'p') == ref and all((tmp_path / 'p' / f).stat().st_mtime_ns == t for f, t in mt.items())
    with pytest.raises(ValueError, match='another root or shard size'): pack_root(root, tmp_path / 'p', shard_bytes=1 << 20, quiet=True)


def one_line_error(p):
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    assert p.returncode != 0 and len(lines) == 1, p.stderr
    return lines[0]


def test_damaged_shard_one_line(roots, tmp_path):
    import shutil
    _, packed = roots
    bad = tmp_path / 'bad'; shutil.copytree(packed, bad)
    s = sorted((bad / 'shards').iterdir())[0]; data = s.read_bytes()
    s.write_bytes(data[:-1])                                                        # truncated
    cmd = [PY, '-m', 'alexnet_nb.train', '--data', str(bad), '--run-dir', str(tmp_path / 'run'), '--preset', 'demo',
           '--epochs', '1', '--batch-size', '8', '--workers', '0', '--device', 'cpu']
    line = one_line_error(subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=300))
    assert 'is truncated' in line and s.name in line
    s.write_bytes(data[:200] + bytes([data[200] ^ 0xFF]) + data[201:])             # one byte flipped
    line = one_line_error(subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=300))
    assert 'is corrupt' in line and s.name in line
    p = subprocess.run([PY, '-m', 'alexnet_nb.preprocess', str(tmp_path / 'nowhere'), '--pack', str(tmp_path / 'x')],
                       capture_output=True, text=True, env=ENV, timeout=120)
    assert p.returncode == 2 and 'manifest.csv not found' in one_line_error(p)
