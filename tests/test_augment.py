"""Process-level tests of `alexnet_nb.augment.Loader`: reproducible draws whatever the workers, batch
size, ranks or resume point; disjoint rank shards; evaluation covering every sample once; persistent
workers; errors that name the file. Runs on a tiny generated root (no ../shared needed), ~20 s."""
import os, shutil
import numpy as np, pytest, torch
from PIL import Image
from alexnet_nb.augment import Loader, augment_one, draw, pca_shift, ten_crop_offsets
from alexnet_nb.core import CorruptImage, decode_jpeg, load_stats

os.environ.setdefault('ALEXNET_NO_PROGRESS', '1')

@pytest.fixture(scope='module')
def toy(toy_root):
    root = toy_root({'train': 26, 'val': 11}, n_classes=5)
    return root, root / 'stats.pt'

def collect(ld, epoch, start_step=0):
    "{sample index: (x, y)} of one epoch (x cloned: the loader reuses its buffers)."
    ld.set_epoch(epoch, start_step)
    out = {}
    for x, y, idx in ld:
        for j, i in enumerate(idx.tolist()):
            assert i not in out, f'sample {i} twice in one epoch'
            out[i] = (x[j].clone(), int(y[j]))
    return out

def test_draws_independent_of_workers_batch_rank_resume(toy):
    root, stats = toy
    kw = dict(root=root, split='train', stats=stats, train=True, seed=7, return_index=True)
    ref = collect(Loader(batch_size=6, workers=0, **kw), 2)
    assert len(ref) == 24                                             # 26 samples, 4 steps of 6, drop_last
    variants = [Loader(batch_size=6, workers=2, **kw)]
    for r in range(2): variants.append(Loader(batch_size=6, workers=1, rank=r, world_size=2, **kw))
    for r in range(3): variants.append(Loader(batch_size=6, workers=0, rank=r, world_size=3, **kw))
    for ld in variants:
        got = collect(ld, 2)
        for i, (x, y) in got.items():
            assert torch.equal(x, ref[i][0]), (ld, i)
            assert y == ref[i][1]
        ld.close()
    other = Loader(batch_size=4, workers=0, **kw)                     # another batch size: other composition, same draws
    got = collect(other, 2); other.close()
    assert set(got) == set(ref)                                       # 6 steps of 4 = 4 steps of 6: the same 24 samples
    for i in got: assert torch.equal(got[i][0], ref[i][0])
    # shards of two ranks are disjoint and together equal one process's samples at every step
    one = Loader(batch_size=6, workers=0, **kw)
    one.set_epoch(2)
    for k in range(len(one)):
        parts = [Loader(batch_size=6, workers=0, rank=r, world_size=2, **kw).step_indices(k, 2) for r in range(2)]
        assert not set(parts[0]) & set(parts[1])
        np.testing.assert_array_equal(np.concatenate(parts), one.step_indices(k))

def test_epochs_differ_and_resume(toy, tmp_path):
    root, stats = toy
    ld = Loader(root, 'train', stats, batch_size=6, train=True, seed=7, workers=2, return_index=True)
    e0, e1 = collect(ld, 0), collect(ld, 1)
    assert not np.array_equal(ld.permutation(0), ld.permutation(1))
    common = set(e0) & set(e1)
    assert sum(not torch.equal(e0[i][0], e1[i][0]) for i in common) == len(common)   # new draws every epoch
    again = collect(ld, 0)                                            # same epoch again: same everything
    assert all(torch.equal(again[i][0], e0[i][0]) for i in e0)
    ld.close()
    # resume at step 2 in a copy of the root whose skipped samples are deleted: they must not be read
    root2 = tmp_path / 'root'; shutil.copytree(root, root2)
    ld2 = Loader(root2, 'train', stats, batch_size=6, train=True, seed=7, workers=2, return_index=True)
    skipped = np.concatenate([ld2.step_indices(k, 0) for k in range(2)])
    for i in skipped: os.remove(ld2.files[i])
    ld2.set_epoch(0, start_step=2)
    steps = [idx.tolist() for _, _, idx in ld2]
    assert steps == [ld2.step_indices(k, 0).tolist() for k in (2, 3)]
    res = collect(ld2, 0, start_step=2)
    assert set(res) == set(e0) - set(skipped.tolist())
    assert all(torch.equal(res[i][0], e0[i][0]) for i in res)       # same draws as the uninterrupted epoch
    assert len(ld2) == 4
    ld2.close()

def test_persistent_workers(toy):
    root, stats = toy
    ld = Loader(root, 'train', stats, batch_size=6, train=True, workers=2)
    ld.set_epoch(0); list(ld)
    it = ld._dl._iterator; pids = [w.pid for w in it._workers]
    ld.set_epoch(1); list(ld)
    assert ld._dl._iterator is it and [w.pid for w in it._workers] == pids and all(w.is_alive() for w in it._workers)
    ld.close()

def test_evaluation_covers_every_sample_once(toy):
    root, stats = toy
    S = load_stats(stats)
    for ws in (1, 2, 4):                                              # 11 val samples, global batch 4
        seen, steps = [], []
        for r in range(ws):
            ld = Loader(root, 'val', stats, batch_size=4, train=False, rank=r, world_size=ws, workers=2 if ws == 2 else 0, return_index=True)
            assert ld.drop_last is False and len(ld) == 3
            got = [(x.clone(), y.clone(), i.tolist()) for x, y, i in ld]; ld.close()
            steps.append(len(got)); seen += sum((g[2] for g in got), [])
            for x, y, idx in got:
                assert x.shape == (len(idx), 3, 224, 224) and y.shape == (len(idx),)
        assert steps == [3] * ws
        assert sorted(seen) == list(range(11))
    # evaluation never augments: two epochs give the same tensors, equal to the centre patch reference
    ld = Loader(root, 'val', stats, batch_size=4, train=False, workers=1, return_index=True)
    a, b = collect(ld, 0), collect(ld, 1); ld.close()
    for i in a:
        assert torch.equal(a[i][0], b[i][0])
        im = decode_jpeg((root / ld.table.output[i]).read_bytes())
        assert torch.equal(a[i][0], augment_one(im, S['mean_image'], 16, 16, False))
    # ten crops: [b, 10, 3, 224, 224] in the documented order
    ld = Loader(root, 'val', stats, batch_size=4, train=False, workers=1, ten_crop=True, return_index=True)
    x, y, idx = next(iter(ld)); ld.close()
    assert x.shape == (4, 10, 3, 224, 224)
    im = decode_jpeg((root / ld.table.output[int(idx[3])]).read_bytes())
    for k, (dy, dx, f) in enumerate(ten_crop_offsets()):
        assert torch.equal(x[3, k], augment_one(im, S['mean_image'], dy, dx, f))

def test_training_batch_equals_reference(toy):
    root, stats = toy
    S = load_stats(stats)
    for method in ('slice', 'index'):
        ld = Loader(root, 'train', stats, batch_size=6, train=True, seed=3, workers=1, method=method, return_index=True)
        ld.set_epoch(5)
        x, y, idx = next(iter(ld)); ld.close()
        d = draw(3, 5, idx.numpy())
        sh = pca_shift(d.alpha, S['eigvals'], S['eigvecs'])
        for j, i in enumerate(idx.tolist()):
            im = decode_jpeg((root / ld.table.output[i]).read_bytes())
            assert torch.equal(x[j], augment_one(im, S['mean_image'], d.dy[j], d.dx[j], d.flip[j], sh[j]))
            assert y[j] == ld.targets[i]

def test_labels_and_manifest(toy):
    root, stats = toy
    ld = Loader(root, 'train', stats, batch_size=26, train=False, workers=0, return_index=True)
    assert ld.num_samples == 26 and all('broken' not in f for f in ld.files)   # the failed row is skipped
    x, y, idx = next(iter(ld))
    assert y.tolist() == [int(v) for v in ld.table.label[idx.numpy()]]
    perm = np.random.default_rng(0).permutation(ld.targets)
    ld2 = Loader(root, 'train', stats, batch_size=26, train=False, workers=0, labels=perm, return_index=True)
    x, y, idx = next(iter(ld2))
    assert y.tolist() == perm[idx.numpy()].tolist()
    with pytest.raises(ValueError, match=r'shape \(26,\)'):
        Loader(root, 'train', stats, batch_size=4, train=True, labels=perm[:3])
    with pytest.raises(ValueError, match='divisible'):
        Loader(root, 'train', stats, batch_size=5, train=True, world_size=2)

def test_errors_name_the_file(toy, tmp_path):
    root, stats = toy
    root2 = tmp_path / 'root'; shutil.copytree(root, root2)
    ld = Loader(root2, 'val', stats, batch_size=4, train=False, workers=0)
    bad = ld.files[1]
    Image.new('RGB', (300, 200)).save(bad)
    with pytest.raises(CorruptImage, match=r'not 256x256') as e:
        list(ld)
    assert os.path.basename(bad) in str(e.value)
    with pytest.raises(FileNotFoundError, match='alexnet_preprocess'):
        Loader(tmp_path, 'val', stats, batch_size=4, train=False)
    m = (root2 / 'manifest.csv').read_text().splitlines()              # a manifest without its label column
    (root2 / 'manifest.csv').write_text('\n'.join(','.join(r.split(',')[:4] + r.split(',')[5:]) for r in m) + '\n')
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['label'\]") as e:
        Loader(root2, 'val', stats, batch_size=4, train=False)
    assert str(root2 / 'manifest.csv') in str(e.value)
    with pytest.raises(ValueError, match="lack 'eigvecs'"):
        s = torch.load(stats, weights_only=True); del s['eigvecs']
        Loader(root, 'val', s, batch_size=4, train=False)

def test_reads_the_stats_stage_output(toy, tmp_path):
    "The statistics file written by `alexnet_nb.stats` (when that stage is installed) drives the loader."
    stats_mod = pytest.importorskip('alexnet_nb.stats', reason='alexnet_nb.stats not built yet')
    root, _ = toy
    out = tmp_path / 'stats.pt'
    stats_mod.compute_stats(root, out, show_progress=False)
    S = load_stats(out)
    ld = Loader(root, 'train', out, batch_size=6, train=True, workers=0, return_index=True)
    x, y, idx = next(iter(ld))
    d = draw(0, 0, idx.numpy()); sh = pca_shift(d.alpha, S['eigvals'], S['eigvecs'])
    im = decode_jpeg((root / ld.table.output[int(idx[0])]).read_bytes())
    assert torch.equal(x[0], augment_one(im, S['mean_image'], d.dy[0], d.dx[0], d.flip[0], sh[0]))
    assert 0 < np.abs(sh).max() < 40                                   # a few levels of 255, not hundreds
