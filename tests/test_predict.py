"""Process-level tests of `alexnet_predict`: a photo classified by the command gets exactly the
probabilities the evaluation pipeline (alexnet_preprocess, then the loader's patches and
`softmax_average`) gives the same file; bad photos and bad checkpoints give one-line errors and
exit 2. The checkpoint comes from a one-epoch run of alexnet_train on a toy root (a tiny net)."""
import json, os, subprocess, sys
from pathlib import Path
import numpy as np, pandas as pd, pytest, torch
from PIL import Image

PY = sys.executable


def env():
    e = {**os.environ, 'ALEXNET_NO_PROGRESS': '1', 'PYTHONUNBUFFERED': '1', 'OMP_NUM_THREADS': '1'}
    for k in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT'): e.pop(k, None)
    return e


def run(*cmd, ok=True, timeout=300):
    p = subprocess.run([str(c) for c in cmd], env=env(), capture_output=True, text=True, timeout=timeout)
    if ok: assert p.returncode == 0, f"{' '.join(map(str, cmd))} failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    return p


def predict(*args, ok=True): return run(PY, '-m', 'alexnet_nb.predict', *args, ok=ok)


@pytest.fixture(scope='module')
def trained(toy_root):
    "best.pt of a one-epoch run on a toy root (4 classes, 16 training images, a 1/8-width net with the demo's init)."
    root = toy_root({'train': 16, 'val': 4}, n_classes=4); d = root.parent
    run(PY, '-m', 'alexnet_nb.train', '--data', root, '--run-dir', d/'run', '--width', '0.125', '--batch-size', '8',
        '--workers', '0', '--epochs', '1', '--device', 'cpu', '--lr', '0.02',
        # the demo preset's init: with §5's N(0, 0.01) a 1/8-width net's outputs hardly depend on the input,
        # and a wrong resize or a skipped JPEG round trip would go unnoticed
        '--init', 'kaiming', '--input-scale', '0.015625', '--hidden-bias', '0')
    return d/'run'/'checkpoints'/'best.pt', root/'stats.pt'


@pytest.fixture(scope='module')
def photos(tmp_path_factory):
    "Real photos (scikit-learn's) in the formats people have, in a class-folder layout alexnet_preprocess reads."
    from sklearn.datasets import load_sample_images
    china, flower = load_sample_images().images                      # uint8 [427, 640, 3]
    src = tmp_path_factory.mktemp('photos')
    v = src/'val'/'n00000000'; v.mkdir(parents=True)
    for k in range(4):                                               # the class table of the layout
        (src/'train'/f'n{k:08d}').mkdir(parents=True)
        Image.fromarray(flower[:300, :300]).save(src/'train'/f'n{k:08d}'/'t.jpg')
    ex = Image.Exif(); ex[0x0112] = 6                                # EXIF orientation: rotate 90 degrees
    Image.fromarray(china).save(v/'china.jpg', quality=92, exif=ex.tobytes())
    Image.fromarray(flower).save(v/'flower.png')
    Image.fromarray(flower[:, 100:380]).save(v/'flower_tall.webp', quality=90)
    Image.fromarray(china).convert('CMYK').save(v/'china_cmyk.jpg', quality=90)
    Image.fromarray(china[50:400]).convert('L').save(v/'china_gray.jpg', quality=90)
    return src, sorted(v.iterdir())


@pytest.fixture(scope='module')
def evaluation(trained, photos, tmp_path_factory):
    "The evaluation pipeline's probabilities for the photos: alexnet_preprocess, the Loader's patches, softmax_average."
    from alexnet_nb.augment import Loader
    from alexnet_nb.evaluate import load_model, softmax_average
    ck, stats = trained
    src, _ = photos
    dst = tmp_path_factory.mktemp('pre')/'root'
    run(PY, '-c', 'import sys; from alexnet_nb.preprocess import main; sys.exit(main())', src, dst)   # alexnet_preprocess SRC DST
    model, _ = load_model(ck)
    res = {}
    for ten in (False, True):
        dl = Loader(dst, 'val', stats, 3, train=False, ten_crop=ten, workers=0)
        ps = []
        with torch.no_grad():
            for x, _ in dl:
                x = x if ten else x[:, None]                                           # [b, P, 3, 224, 224]
                ps.append(softmax_average(model(x.flatten(0, 1)).view(len(x), x.shape[1], -1)))
        names = [Path(s).name for s in dl.table.source]
        res[ten] = dict(zip(names, torch.cat(ps).numpy()))
    return res


@pytest.mark.parametrize('ten', [False, True], ids=['centre', 'ten-crop'])
def test_same_probabilities_as_evaluation(trained, photos, evaluation, ten):
    "Every photo (JPEG with EXIF rotation, PNG, WebP, CMYK, grayscale) gets the evaluation pipeline's probabilities."
    ck, _ = trained
    _, files = photos
    p = predict(ck, *files, '--json', '--top', '4', '--batch-size', '2', *(['--ten-crop'] if ten else []))
    out = json.loads(p.stdout)
    assert [Path(r['file']).name for r in out] == [f.name for f in files]
    for r in out:
        want = evaluation[ten][Path(r['file']).name]                                    # [4]
        got = np.zeros(4)
        for t in r['top']: got[int(t['wnid'][1:])] = t['p']
        assert [t['p'] for t in r['top']] == sorted((t['p'] for t in r['top']), reverse=True)
        np.testing.assert_allclose(got, want, atol=2e-6, err_msg=r['file'])


def test_lines_and_top_k(trained, photos):
    "Without --json: one line per photo, `FILE: p% words | ...` with --top classes."
    ck, _ = trained
    _, files = photos
    p = predict(ck, *files[:2], '--top', '3')
    lines = p.stdout.splitlines()
    assert len(lines) == 2 and not p.stderr.strip()
    for f, line in zip(files, lines):
        assert line.startswith(f'{f}: ') and line.count('% class ') == 3


def test_bad_photos_one_line_each(trained, photos, tmp_path):
    "Unreadable, empty, truncated and missing files: one error line each on stderr, exit 2, the others still classified."
    ck, _ = trained
    _, files = photos
    (tmp_path/'empty.jpg').write_bytes(b'')
    (tmp_path/'notes.jpg').write_text('not an image\n')
    (tmp_path/'cut.jpg').write_bytes(files[0].read_bytes()[:2000])
    bad = [tmp_path/'empty.jpg', tmp_path/'notes.jpg', tmp_path/'cut.jpg', tmp_path/'missing.png']
    p = predict(ck, bad[0], files[0], *bad[1:], ok=False)
    assert p.returncode == 2
    err = p.stderr.strip().splitlines()
    assert len(err) == 4 and all(l.startswith('alexnet_predict: error: ') for l in err), p.stderr
    for b, l in zip(bad, err): assert f'({b})' in l, l
    assert len(p.stdout.splitlines()) == 1 and p.stdout.startswith(f'{files[0]}: ')


def test_bad_checkpoint(trained, photos, tmp_path):
    "A missing checkpoint, a file that is not one, a class table that does not fit fc8, a missing stats file: one line, exit 2."
    ck, _ = trained
    _, files = photos
    c = torch.load(ck, weights_only=True)
    torch.save(dict(c, classes=dict(wnid=['n1', 'n2'], words=['a', 'b'])), tmp_path/'mismatch.pt')
    torch.save(dict(c, stats=dict(path=str(tmp_path/'gone.pt'), sha256='0' * 64), config=dict(c['config'], data=str(tmp_path))),
               tmp_path/'nostats.pt')
    (tmp_path/'junk.pt').write_bytes(b'junk')
    for args, want in [((tmp_path/'nope.pt',), 'not found'), ((tmp_path/'mismatch.pt',), 'class table has 2 classes'),
                       ((tmp_path/'nostats.pt',), 'no statistics file'), ((ck, '--top', '0'), '--top must be at least 1')]:
        p = predict(*args, files[0], ok=False)
        assert p.returncode == 2, (args, p.stderr)
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith('alexnet_predict: error: ') and want in lines[0], (args, p.stderr)
        assert p.stdout == ''
    p = predict(tmp_path/'junk.pt', files[0], ok=False)
    assert p.returncode in (1, 2) and len(p.stderr.strip().splitlines()) == 1, p.stderr


def test_model_card(trained):
    "The model card reads the checkpoint and the metrics: epochs, classes, settings, the results row, use and limits."
    from alexnet_nb.predict import model_card
    ck, _ = trained
    m = dict(split='val', n_images=4, data_name='pre', checkpoint_name='best.pt', date='2026-01-01', device='cpu', benchmark=None,
             centre=dict(top1_err=0.75, top5_err=0.0, nll=1.4), ten=dict(top1_err=0.5, top5_err=0.0, nll=1.3))
    card = model_card(ck, m)
    for s in ('Model card: best.pt', '1 epoch of', '4 classes', 'batch_size 8', 'lr 0.02', '| 50.00 |', 'Intended use', 'Limits'):
        assert s in card, (s, card)
