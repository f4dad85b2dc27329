"Process-level tests of the `alexnet_demo_data` CLI: each layout, written by the real command, checked on disk."
import hashlib, io, shutil, subprocess, sys, tarfile
from pathlib import Path

import pandas as pd
import pytest
import scipy.io
from PIL import Image

from alexnet_nb.demo_data import demo_plan, layout_files, TRAIN_DEFECTS
from alexnet_nb.labels import classes_from, read_ground_truth, read_kaggle_val, devkit_member

SMALL = dict(n_classes=3, n_train=7, n_val=3, n_test=2, seed=0)
ARGS = ['--n_classes', '3', '--n_train', '7', '--n_val', '3', '--n_test', '2', '--seed', '0']


CLI = shutil.which('alexnet_demo_data', path=str(Path(sys.executable).parent)) or shutil.which('alexnet_demo_data')


def run_cli(*args):
    "Run the installed console script, as a user would."
    assert CLI, 'alexnet_demo_data is not installed (pip install -e .)'
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=300)


def kind(b: bytes) -> str:
    "What a file's bytes are, as the demo plan names defects."
    if not b: return 'empty'
    if b.startswith(b'\x89PNG'): return 'png'
    try:
        im = Image.open(io.BytesIO(b)); im.load()
    except OSError:
        return 'truncated'
    return {'L': 'grayscale', 'CMYK': 'cmyk', 'RGB': ''}[im.mode]


def images(root: Path, layout: str) -> dict:
    "{basename: bytes} of every picture a layout holds (train, val, test), read without unpacking."
    out = {}
    if layout == 'kaggle':
        for p in (root / 'ILSVRC').rglob('*.JPEG'): out[p.name] = p.read_bytes()
        return out
    train, *others = [f for f in layout_files(layout) if f.endswith('.tar') and 'patch' not in f]
    with tarfile.open(root / train) as t:
        for m in t:
            with tarfile.open(fileobj=t.extractfile(m)) as inner:
                for x in inner: out[x.name] = inner.extractfile(x).read()
    for f in others:
        with tarfile.open(root / f) as t:
            for x in t: out[Path(x.name).name] = t.extractfile(x).read()
    return out


def digest(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob('*')) if p.is_file()}


@pytest.mark.parametrize('layout', ['2012', '2010', 'kaggle'])
def test_cli_layout(tmp_path, layout):
    r = run_cli(str(tmp_path / 'a'), '--layout', layout, *ARGS)
    assert r.returncode == 0, r.stderr
    assert 'planted defects' in r.stdout
    root = tmp_path / 'a'
    assert sorted(p.name for p in root.iterdir() if not p.name.startswith('.')) == sorted(layout_files(layout))
    plan = demo_plan(layout, **SMALL)
    # every planned picture is there, with its planted defect (patched 2010 files: damaged in the main archive)
    got = images(root, layout)
    assert set(got) == set(plan.name)
    for row in plan.itertuples():
        assert kind(got[row.name]) == row.defect, row.name
    assert sorted(plan.defect[plan.defect != '']) == sorted(TRAIN_DEFECTS + ['grayscale'])
    # labels: the class table and the ground truth agree with the plan
    classes = classes_from(root)
    assert classes.wnid.tolist() == sorted(plan.wnid.unique())
    val = plan[plan.split == 'val']
    if layout == 'kaggle':
        assert read_kaggle_val(root / 'LOC_val_solution.csv') == {Path(n).stem: w for n, w in zip(val.name, val.wnid)}
    else:
        dk = root / layout_files(layout)[-1 if layout == '2012' else 3]
        gt = devkit_member(dk, f'data/ILSVRC{layout}_validation_ground_truth.txt')
        assert read_ground_truth(gt, dk, n_images=len(val)) == val.wnid.tolist()
        synsets = scipy.io.loadmat(io.BytesIO(devkit_member(dk, 'data/meta.mat')), squeeze_me=True)['synsets']
        assert synsets.dtype.names == (f'ILSVRC{layout}_ID', 'WNID', 'words', 'gloss', 'num_children', 'children',
                                       'wordnet_height', 'num_train_images')
        assert (synsets['num_children'] > 0).any()
    if layout == '2010':
        with tarfile.open(root / 'patch_images.tar') as t: patched = {Path(n).name: n.split('/')[-2] for n in t.getnames()}
        assert patched == {r.name: r.split for r in plan[plan.patched].itertuples()}
        test = plan[plan.split == 'test']
        assert read_ground_truth(root / 'ILSVRC2010_test_ground_truth.txt', dk, len(test)) == test.wnid.tolist()
    # the same seed gives byte-identical files; a rerun in place is a no-op
    r = run_cli(str(tmp_path / 'b'), '--layout', layout, *ARGS)
    assert r.returncode == 0, r.stderr
    assert digest(tmp_path / 'a') == digest(tmp_path / 'b')
    assert run_cli(str(root), '--layout', layout, *ARGS).returncode == 0
    assert digest(tmp_path / 'a') == digest(tmp_path / 'b')


def test_cli_refuses_foreign_files(tmp_path):
    (tmp_path / 'ILSVRC2012_img_val.tar').write_bytes(b'real data')
    r = run_cli(str(tmp_path), *ARGS)
    assert r.returncode != 0 and 'may be real data' in r.stderr
    assert (tmp_path / 'ILSVRC2012_img_val.tar').read_bytes() == b'real data'


def test_cli_bad_arguments(tmp_path):
    r = run_cli(str(tmp_path), '--layout', '2011')
    assert r.returncode == 2 and "invalid choice: '2011'" in r.stderr
    assert not any(tmp_path.iterdir())
