"Process-level tests of `alexnet_nb.stats` and the `alexnet_stats` CLI: exactness, shards, workers, kill/resume, errors."
import os, shutil, signal, subprocess, sys, time
from pathlib import Path
import numpy as np, pytest, torch
from PIL import Image
from alexnet_nb.core import read_manifest, load_stats, IMAGENET_EIGVECS, root_from_photos
from alexnet_nb.stats import accumulate, compute_stats, covariances, decode, merge_sums, pca, standardised_cov, angle_deg
from alexnet_nb.utils import sha256_file, shared_dir

_exe = shutil.which('alexnet_stats', path=str(Path(sys.executable).parent)) or shutil.which('alexnet_stats')
CLI = [_exe] if _exe else [sys.executable, '-m', 'alexnet_nb.stats']   # the console script users run
ENV = {**os.environ, 'ALEXNET_NO_PROGRESS': '1'}

def images(root):
    "The training images of a root, in manifest order."
    return [root/o for o in read_manifest(root, 'train').output]

@pytest.fixture(scope='session')
def root(toy_root): return toy_root({'train': 8}, n_classes=3, stats=False)

@pytest.fixture(scope='session')
def big(toy_root): return toy_root({'train': 120}, n_classes=3, seed=1, stats=False)

@pytest.fixture(scope='session')
def single(root): return compute_stats(root, show_progress=False)

def pixels(root):
    "All training pixels as float64 [N, H, W, 3], decoded by the same decoder."
    return np.stack([decode(p).permute(1, 2, 0).numpy() for p in images(root)]).astype(np.float64)

def same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], torch.Tensor): assert torch.equal(a[k], b[k]), k
        else: assert a[k] == b[k], k

def test_equals_numpy(root, single):
    X = pixels(root); flat = X.reshape(-1, 3)
    rel = lambda a, b: float(np.max(np.abs(np.asarray(a) - b)/np.abs(b)))
    assert single['n_images'] == 8 and single['n_pixels'] == flat.shape[0]
    assert rel(single['mean_image'], X.mean(0)) < 1e-10
    assert rel(single['channel_mean'], flat.mean(0)) < 1e-10
    assert rel(single['channel_std'], flat.std(0)) < 1e-10
    assert rel(single['cov_raw'], np.cov(flat.T, bias=True)) < 1e-10
    assert rel(single['cov_mean_subtracted'], np.cov((X - X.mean(0)).reshape(-1, 3).T, bias=True)) < 1e-10
    w, v = np.linalg.eigh(np.cov(flat.T, bias=True)/255**2)
    assert rel(single['eigvals'], w[::-1]) < 1e-10
    assert np.abs(np.abs(single['eigvecs'].numpy().T @ v[:, ::-1]) - np.eye(3)).max() < 1e-10
    assert (single['eigvecs'][0] > 0).all()                       # sign convention: red component positive

def test_contract_file(root, single, tmp_path):
    out = tmp_path/'stats.pt'
    r = subprocess.run(CLI + [str(root), '--out', str(out)], capture_output=True, text=True, env=ENV)
    assert r.returncode == 0, r.stderr
    st = torch.load(out, weights_only=True)
    for k, shape in [('mean_image', (256, 256, 3)), ('channel_mean', (3,)), ('channel_std', (3,)), ('cov', (3, 3)),
                     ('eigvals', (3,)), ('eigvecs', (3, 3))]:
        assert st[k].dtype == torch.float64 and tuple(st[k].shape) == shape, k
    assert st['pixel_scale'] == '0..1' and st['cov_kind'] == 'raw'
    assert (st['eigvals'][:-1] >= st['eigvals'][1:]).all()
    assert st['manifest_sha256'] == sha256_file(root/'manifest.csv')
    assert isinstance(st['n_images'], int) and isinstance(st['n_pixels'], int)
    same(st, single)
    assert not (tmp_path/'stats.pt.parts').exists()               # parts and their folder removed after the merge

def test_cov_kind(root, single):
    ms = compute_stats(root, cov_kind='mean_subtracted', show_progress=False)
    assert torch.equal(ms['cov'], single['cov_mean_subtracted'])
    assert torch.equal(ms['mean_image'], single['mean_image'])
    with pytest.raises(ValueError, match='cov_kind'): compute_stats(root, cov_kind='whitened')

def test_merge_equals_single(root, single):
    paths = images(root)
    parts = [accumulate(paths[i:i+3]) for i in range(0, len(paths), 3)]
    merged = merge_sums(parts[::-1])                               # any order
    whole = accumulate(paths)
    for k in whole: assert torch.equal(merged[k], whole[k]) if isinstance(whole[k], torch.Tensor) else merged[k] == whole[k]

def test_slurm_shards_equal_single(root, single, tmp_path):
    out = tmp_path/'s.pt'
    for i in range(2):                                              # tasks 0 and 1 of an array of 3 (chunks of 2 images)
        assert compute_stats(root, out, chunk_size=2, shard=i, num_shards=3, show_progress=False) is None
        assert not out.exists()                                     # parts of task 2 are missing: no merge yet
    r = subprocess.run(CLI + [str(root), '--out', str(out), '--chunk_size', '2', '--shard', '2', '--num_shards', '3'],
                       capture_output=True, text=True, env=ENV)     # the last task, through the CLI, merges
    assert r.returncode == 0, r.stderr
    same(load_stats(out), single)

def test_workers_equal_single(root, single, tmp_path):
    same(compute_stats(root, tmp_path/'w.pt', workers=2, chunk_size=3, show_progress=False), single)

def test_killed_run_resumes(big, tmp_path, capsys):
    ref = compute_stats(big, show_progress=False)
    out = tmp_path/'k.pt'; parts = tmp_path/'k.pt.parts'
    p = subprocess.Popen(CLI + [str(big), '--out', str(out), '--chunk_size', '2'],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    t0 = time.time()
    while len(list(parts.rglob('part_*.pt'))) < 3 and p.poll() is None and time.time() - t0 < 120: time.sleep(0.005)
    p.send_signal(signal.SIGKILL); p.wait()
    done = {f: f.stat().st_mtime_ns for f in parts.rglob('part_*.pt')}
    assert not out.exists() and len(done) >= 3, 'the run finished before it could be killed'
    compute_stats(big, out, chunk_size=2, keep_parts=True, show_progress=False)   # the same command again
    assert f'{len(done)} of 60 parts already done' in capsys.readouterr().out
    assert all(f.stat().st_mtime_ns == m for f, m in done.items())  # finished parts were not recomputed
    same(load_stats(out), ref)

def test_ipca_agreement(root, single):
    from sklearn.decomposition import IncrementalPCA
    X = pixels(root); m, sd = X.mean(0), single['channel_std'].numpy()
    ipca = IncrementalPCA(n_components=3)
    for img in X: ipca.partial_fit(((img - m)/sd).reshape(-1, 3))  # the earlier replication: one image at a time
    vals, vecs = pca(standardised_cov(single), scale=1)
    assert np.abs(np.abs(ipca.components_ @ vecs.numpy()) - np.eye(3)).max() < 1e-4
    n = single['n_pixels']
    np.testing.assert_allclose(ipca.explained_variance_*(n - 1)/n, vals.numpy(), rtol=1e-6)

def test_exact_at_extremes(toy_root):
    "All-white images: the largest Gram entries; uint8 products would overflow, these sums must not."
    d = toy_root({'train': 2}, stats=False)
    for p in images(d): Image.fromarray(np.full((256, 256, 3), 255, np.uint8)).save(p, quality=100)
    s = accumulate(images(d))
    assert (s['gram'] == 2*256*256*255*255).all() and (s['sum_image'] == 2*255).all()
    c = covariances(s); assert torch.equal(c['cov_raw'], torch.zeros(3, 3, dtype=torch.float64))

def test_errors_name_the_file(tmp_path, toy_root):
    d = toy_root({'train': 4}, stats=False)
    victim = images(d)[2]
    victim.write_bytes(victim.read_bytes()[:2000])                  # truncated: corrupted
    r = subprocess.run(CLI + [str(d), '--out', str(tmp_path/'e.pt')], capture_output=True, text=True, env=ENV)
    assert r.returncode == 1 and victim.name in r.stderr and 'cannot decode' in r.stderr and 'Traceback' not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    victim.unlink()
    with pytest.raises(FileNotFoundError, match=f'{victim.name} is listed in the manifest but missing'): compute_stats(d, show_progress=False)
    with pytest.raises(FileNotFoundError, match='manifest.csv not found'): compute_stats(tmp_path/'nowhere')
    Image.fromarray(np.zeros((128, 256, 3), np.uint8)).save(victim)  # wrong size
    with pytest.raises(ValueError, match=f'{victim.name} is 128x256'): compute_stats(d, show_progress=False)
    assert not (tmp_path/'e.pt').exists()

@pytest.mark.skipif(shared_dir('data', 'ilsvrc2010-sample') is None, reason='../shared/data/ilsvrc2010-sample not found')
def test_real_sample(tmp_path):
    "The 500 real images (resized here with PIL; the stats, not the preprocessing, are under test) against the known values."
    src = shared_dir('data', 'ilsvrc2010-sample')
    root_from_photos(sorted(src.glob('train/*/*.JPEG'))[::10], tmp_path, resample=Image.BILINEAR)   # 50 images keep the test short
    st = compute_stats(tmp_path, show_progress=False)
    assert st['n_images'] == 50
    assert angle_deg(st['eigvecs'][:, 0], IMAGENET_EIGVECS[:, 0]) < 5    # the brightness direction
    assert 0.1 < st['eigvals'][0] < 0.4 and st['eigvals'][2] < 0.02
    ref = shared_dir('data', 'seed-reference', 'mean_activity_of_all_training_images.pt')
    if ref is not None:
        assert (st['channel_mean'] - torch.load(ref, weights_only=True).mean((0, 1))).abs().max() < 15
