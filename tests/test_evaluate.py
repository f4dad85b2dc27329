"""Process-level tests of `alexnet_evaluate`: it reproduces the training run's centre-crop figures,
gives the same result with one process and with two under torchrun (gloo), writes the per-class CSV,
results table, metrics and the figures, and fails clearly on bad input. A tiny net (`--width 0.125`)
trained for one epoch on a tiny preprocessed root of 8 classes (so that top-5 can miss); the top-k errors
and per-class accuracies are checked against a brute-force numpy count from the net's saved logits.
About a minute on 2 cores."""
import json, os, subprocess, sys
from pathlib import Path
import numpy as np, pandas as pd, pytest, torch

PY = sys.executable
K = 8                                   # classes of the toy root: more than 5, so top-5 is not always right
TORCHRUN = str(Path(PY).with_name('torchrun'))


def env():
    e = {**os.environ, 'ALEXNET_NO_PROGRESS': '1', 'PYTHONUNBUFFERED': '1', 'OMP_NUM_THREADS': '1'}
    for k in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'SLURM_PROCID', 'SLURM_NTASKS', 'MASTER_ADDR', 'MASTER_PORT'): e.pop(k, None)
    return e


def run(*cmd, ok=True, timeout=300):
    p = subprocess.run([str(c) for c in cmd], env=env(), capture_output=True, text=True, timeout=timeout)
    if ok: assert p.returncode == 0, f"{' '.join(map(str, cmd))} failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    return p


@pytest.fixture(scope='module')
def trained(toy_root):
    "A one-epoch run of alexnet_train on a toy root (8 classes, 48 training and 22 validation images)."
    root = toy_root({'train': 48, 'val': 22}, n_classes=K); d = root.parent
    run(PY, '-m', 'alexnet_nb.train', '--data', root, '--run-dir', d/'run', '--width', '0.125', '--batch-size', '8',
        '--workers', '0', '--epochs', '1', '--device', 'cpu', '--lr', '0.02')
    return d


@pytest.fixture(scope='module')
def single(trained):
    "alexnet_evaluate in one process, with figures."
    out = trained/'eval1'
    p = run(PY, '-m', 'alexnet_nb.evaluate', trained/'run'/'checkpoints'/'best.pt', '--out', out, '--device', 'cpu',
            '--workers', '0', '--batch-size', '6', '--nn-pool', '20')
    return out, p.stdout


def test_reproduces_training_centre_crop(trained, single):
    out, stdout = single
    m = json.loads((out/'metrics.json').read_text())
    log = pd.read_csv(trained/'run'/'log.csv')
    assert m['n_images'] == 22 and m['split'] == 'val' and m['epoch'] == 1
    assert m['centre']['top1_err'] == pytest.approx(log.val_top1_err.iloc[-1], abs=1e-5)
    assert m['centre']['top5_err'] == pytest.approx(log.val_top5_err.iloc[-1], abs=1e-5)
    assert m['centre']['nll'] == pytest.approx(log.val_loss.iloc[-1], rel=1e-3)
    assert 0 <= m['ten']['top1_err'] <= 1 and m['images_per_s'] > 0
    assert 'ten patches (softmax)' in stdout and 'images/s' in stdout


@pytest.fixture(scope='module')
def logits(trained):
    "The checkpoint's logits on the ten patches of every validation image [N, 10, K] and the labels [N], saved to a file."
    from alexnet_nb.augment import Loader
    from alexnet_nb.model import AlexNet
    ck = torch.load(trained/'run'/'checkpoints'/'best.pt', map_location='cpu', weights_only=True)
    net = AlexNet(**ck['config']['model']); net.load_state_dict(ck['model']); net.eval()
    root = trained/'pre'
    dl = Loader(root, 'val', root/'stats.pt', 5, train=False, ten_crop=True, workers=0)
    dl.set_epoch(0); L, Y = [], []
    with torch.no_grad():
        for x, y in dl: L.append(net(x.flatten(0, 1)).view(len(y), 10, -1)); Y.append(y)
    np.savez(trained/'logits.npz', logits=torch.cat(L).double().numpy(), labels=torch.cat(Y).numpy())
    f = np.load(trained/'logits.npz')
    return f['logits'], f['labels']


def brute_force(L, Y):
    "{mode: {'hits': {k: bool [N]}, 'nll': [N]}} from logits [N, 10, K] by plain numpy, one image at a time."
    from alexnet_nb.augment import ten_crop_offsets
    c = ten_crop_offsets().index((16, 16, False))                  # the centre patch: offset (256 - 224) / 2, unreflected
    out = {}
    for mode in ('centre', 'ten'):
        hits, nll = {1: [], 5: []}, []
        for l, y in zip(L, Y):
            if mode == 'centre': p = np.exp(l[c] - l[c].max()); p = p / p.sum()
            else: p = np.mean([np.exp(q - q.max()) / np.exp(q - q.max()).sum() for q in l], 0)   # §4.1: mean of the softmaxes
            beaten_by = sum(p[j] > p[y] for j in range(len(p)))          # classes scored above the label
            for k in hits: hits[k].append(beaten_by < k)
            nll.append(-np.log(p[y]))
        out[mode] = dict(hits={k: np.array(v) for k, v in hits.items()}, nll=np.array(nll))
    return out


def test_topk_and_per_class_against_brute_force(trained, single, logits):
    out, _ = single
    L, Y = logits
    assert L.shape == (22, 10, K) and sorted(set(Y.tolist())) == list(range(K))
    m, pc = json.loads((out/'metrics.json').read_text()), pd.read_csv(out/'per_class.csv')
    bf = brute_force(L, Y)
    assert 0 < bf['centre']['hits'][5].mean() < 1                # top-5 can fail here: the check below means something
    for mode in ('centre', 'ten'):
        for k in (1, 5):
            assert m[mode][f'top{k}_err'] == pytest.approx(1 - bf[mode]['hits'][k].mean(), abs=1e-9), (mode, k)
            for c in range(K):                                    # per class: an independent count over that class's images
                acc = bf[mode]['hits'][k][Y == c].mean()
                assert pc[f'{mode}_top{k}_acc'][c] == pytest.approx(acc, abs=1e-9), (mode, k, c)
        assert m[mode]['nll'] == pytest.approx(bf[mode]['nll'].mean(), rel=1e-4), mode
    assert list(pc.n) == [int((Y == c).sum()) for c in range(K)]


def test_tally_against_brute_force_on_spread_logits():
    "The same counts on random logits whose ten patches disagree (a trained net's patches often agree, hiding e.g. logit averaging)."
    from alexnet_nb.evaluate import Tally
    g = np.random.default_rng(0)
    L, Y = g.normal(0, 3, (40, 10, K)).astype(np.float32), g.integers(0, K, 40)
    t = Tally(K)
    for i in range(0, 40, 7): t.add(torch.from_numpy(L[i:i + 7]), torch.from_numpy(Y[i:i + 7]))   # uneven batches
    e, pc, bf = t.errors(), t.per_class(), brute_force(L.astype(np.float64), Y)
    for mode in ('centre', 'ten'):
        for k in (1, 5):
            assert e[mode][f'top{k}_err'] == pytest.approx(1 - bf[mode]['hits'][k].mean(), abs=1e-9), (mode, k)
            acc = [bf[mode]['hits'][k][Y == c].mean() for c in range(K)]
            np.testing.assert_allclose(pc[f'{mode}_top{k}_acc'].to_numpy(), acc, atol=1e-9, err_msg=f'{mode} top-{k}')
        assert e[mode]['nll'] == pytest.approx(bf[mode]['nll'].mean(), rel=1e-5), mode
    assert 0 < bf['centre']['hits'][5].mean() < 1 and list(pc.n) == np.bincount(Y, minlength=K).tolist()


def test_outputs_and_figures(trained, single):
    out, _ = single
    pc = pd.read_csv(out/'per_class.csv')
    assert list(pc.columns) == ['index', 'wnid', 'words', 'n', 'centre_top1_acc', 'centre_top5_acc', 'ten_top1_acc', 'ten_top5_acc']
    assert pc.n.sum() == 22 and list(pc.wnid) == [f'n{i:08d}' for i in range(K)]
    m = json.loads((out/'metrics.json').read_text())
    md = (out/'results.md').read_text()
    assert '| 37.5 | 17.0 |' in md and '| 40.25 | 19.68 |' in md and 'not yet measured' in md
    assert f"{100 * m['ten']['top1_err']:.2f}" in md
    from PIL import Image
    for f in ('fig3_conv1', 'fig4_top5', 'fig4_neighbours', 'confused_pairs', 'curves'):
        im = Image.open(out/f'{f}.png'); assert im.format == 'PNG' and min(im.size) > 100, f


def test_torchrun_two_processes_same_result(trained, single):
    out = trained/'eval2'
    run(TORCHRUN, '--standalone', '--nproc-per-node=2', '-m', 'alexnet_nb.evaluate', trained/'run'/'checkpoints'/'best.pt',
        '--out', out, '--device', 'cpu', '--workers', '0', '--batch-size', '6', '--no-figures')
    a, b = (json.loads((d/'metrics.json').read_text()) for d in (single[0], out))
    assert b['world_size'] == 2 and a['world_size'] == 1
    for k in ('n_images', 'centre', 'ten'):
        if k == 'n_images': assert a[k] == b[k]
        else:
            assert a[k]['top1_err'] == b[k]['top1_err'] and a[k]['top5_err'] == b[k]['top5_err']
            assert a[k]['nll'] == pytest.approx(b[k]['nll'], rel=1e-5)
    pd.testing.assert_frame_equal(pd.read_csv(single[0]/'per_class.csv'), pd.read_csv(out/'per_class.csv'))
    assert torch.equal(torch.load(single[0]/'confusion.pt', weights_only=True), torch.load(out/'confusion.pt', weights_only=True))


def test_bad_input_is_explained(trained, tmp_path, capsys):
    p = run(PY, '-m', 'alexnet_nb.evaluate', tmp_path/'missing.pt', '--device', 'cpu', ok=False)   # the real command line
    assert p.returncode == 2 and 'not found' in p.stderr
    from alexnet_nb.evaluate import main                                                          # the rest in this process
    torch.save({'weights': torch.zeros(1)}, tmp_path/'other.pt')
    assert main.run([tmp_path/'other.pt', '--device', 'cpu']) == 2
    assert 'not an alexnet_train checkpoint' in capsys.readouterr().err
    assert main.run([trained/'run'/'checkpoints'/'best.pt', '--data', tmp_path, '--device', 'cpu']) == 2
    assert 'manifest.csv not found' in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:                                                          # argparse refuses a value not among the choices
        main.run([trained/'run'/'checkpoints'/'best.pt', '--batch-size', '6', '--device', 'cpu', '--workers', '0', '--benchmark', 'imagenet-2013'])
    assert e.value.code == 2 and 'benchmark' in capsys.readouterr().err
