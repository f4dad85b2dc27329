"""Process-level tests of `alexnet_preprocess`: the three demo layouts end to end through the CLI, a real
SIGKILL half way followed by a rerun, sharding plus merge, and the unknown-source error."""
import os, signal, subprocess, sys, time
from pathlib import Path
import pandas as pd, pytest
from PIL import Image
from alexnet_nb.demo_data import make_demo, demo_plan
from alexnet_nb.core import read_manifest
from alexnet_nb.preprocess import preprocess, merge_manifests, main
from alexnet_nb.utils import AlexnetError

ENV = {**os.environ, 'ALEXNET_NO_PROGRESS': '1'}
STATUS = {'': 'ok', 'grayscale': 'converted_grayscale', 'cmyk': 'converted_cmyk', 'png': 'decoded_by_content',
          'truncated': 'failed', 'empty': 'failed'}
SMALL = dict(n_classes=5, n_train=7, n_val=2, n_test=2)      # smallest sizes that hold every planted defect

def cli(*args, check=True):
    "Run the console script (as `python -m`-free entry point) and return the completed process."
    r = subprocess.run(['alexnet_preprocess', *map(str, args)], capture_output=True, text=True, env=ENV, timeout=300)
    if check: assert r.returncode == 0, r.stderr + r.stdout
    return r

def files(root:Path)->dict:
    "Every file below `root` (hidden ones too, except the run's own state folder) -> bytes."
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob('*'))
            if p.is_file() and '.preprocess' not in p.parts}

@pytest.mark.parametrize('layout', ['2012', '2010', 'kaggle'])
def test_demo_layouts_end_to_end(tmp_path, layout):
    src = make_demo(tmp_path/'raw', layout, quiet=True, **SMALL)
    before = files(src)
    r = cli(src, tmp_path/'out', '--workers', 2)
    m = read_manifest(tmp_path/'out'/'manifest.csv')
    plan = demo_plan(layout, **SMALL)
    if layout == 'kaggle': plan = plan[plan.split != 'test']                # Kaggle's test images have no labels
    m['name'] = m.source.str.split('/').str[-1]
    test = m.set_index('name').join(plan.set_index('name')[['defect', 'patched', 'label']], rsuffix='_plan')
    assert len(m) == len(plan) and test.defect.notna().all()
    want = test.apply(lambda r: 'replaced_by_patch' if r.patched else STATUS[r.defect], axis=1)
    assert (test.status == want).all(), test[test.status != want][['status', 'defect', 'patched']]
    assert (test.label == test.label_plan).all()                         # sorted-WNID index, via the labels module
    failed = m[m.status == 'failed']
    assert set(plan[plan.defect.isin(['truncated', 'empty'])].name) == set(failed.name)
    assert (failed.output == '').all() and (failed.reason != '').all()
    for s in failed.source: assert s in r.stdout                          # listed in the summary
    assert 'empty file' in r.stdout and 'truncated' in r.stdout
    ok = m[m.status != 'failed']
    assert all(o == f'{s}/{w}/{Path(n).stem}.JPEG' for o, s, w, n in zip(ok.output, ok.split, ok.wnid, ok.name))
    for o in ok.output:
        im = Image.open(tmp_path/'out'/o); assert (im.size, im.mode, im.format) == ((256, 256), 'RGB', 'JPEG')
    assert list(m.columns[:11]) == ['split', 'source', 'output', 'wnid', 'label', 'width', 'height', 'mode', 'format', 'status', 'reason']
    assert m[['split', 'output', 'source']].values.tolist() == sorted(m[['split', 'output', 'source']].values.tolist())
    classes = pd.read_csv(tmp_path/'out'/'classes.csv')
    assert list(classes.wnid) == sorted(classes.wnid) and len(classes) == SMALL['n_classes']
    assert files(src) == before                                           # sources never modified
    splits = {'2012': {'train', 'val'}, '2010': {'train', 'val', 'test'}, 'kaggle': {'train', 'val'}}[layout]
    assert set(m.split) == splits

@pytest.fixture(scope='module')
def demo12(tmp_path_factory):
    "A 2012 demo large enough to kill half way, and one clean single run of it."
    d = tmp_path_factory.mktemp('p')
    src = make_demo(d/'raw', '2012', n_classes=10, n_train=20, n_val=2, quiet=True)
    preprocess(src, d/'clean', workers=2, quiet=True)
    return src, d/'clean'

def test_kill_half_way_and_rerun(tmp_path, demo12, capsys):
    src, clean = demo12
    n = len(read_manifest(clean/'manifest.csv'))
    dst = tmp_path/'out'
    p = subprocess.Popen(['alexnet_preprocess', str(src), str(dst), '--workers', '1'], env=ENV, start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline, rows = time.time() + 120, 0
    while time.time() < deadline and p.poll() is None:
        rows = sum(j.read_text().count('\n') for j in (dst/'.preprocess').glob('journal-*.jsonl')) if (dst/'.preprocess').exists() else 0
        if rows >= n//4: break
        time.sleep(0.005)
    assert p.poll() is None, 'the run finished before it could be killed'
    os.killpg(p.pid, signal.SIGKILL); p.wait()
    assert n//4 <= rows < n and not (dst/'manifest.csv').exists()
    r = cli(src, dst, '--workers', 2)
    assert 'already done' in r.stdout
    assert files(dst) == files(clean)                                     # outputs, manifest.csv, classes.csv: identical
    preprocess(src, dst, workers=2)                    # a third run only retries the 2 failed files (truncated, empty)
    assert f'{n - 2} already done, 2 to do' in capsys.readouterr().out
    assert files(dst) == files(clean)

def test_shards_and_merge(tmp_path, demo12):
    src, clean = demo12
    dst = tmp_path/'out'
    cli(src, dst, '--shard', 1, '--num_shards', 3, '--workers', 1)         # as a SLURM array task would
    with pytest.raises(AlexnetError, match=r'shards \[0, 2\] of 3 have not finished'): merge_manifests(dst)
    preprocess(src, dst, shard=0, num_shards=3, workers=1, quiet=True)
    assert not (dst/'manifest.csv').exists()
    preprocess(src, dst, shard=2, num_shards=3, workers=1, quiet=True)    # the last shard to finish merges
    assert (dst/'manifest.csv').read_bytes() == (clean/'manifest.csv').read_bytes()
    (dst/'manifest.csv').unlink()
    r = cli(dst, '--merge')                                              # the explicit merge step
    assert 'merged 3 shards' in r.stdout
    assert files(dst) == files(clean)

def test_unknown_source_and_help(tmp_path):
    (tmp_path/'src').mkdir(); (tmp_path/'src'/'images.zip').write_bytes(b'')
    r = cli(tmp_path/'src', tmp_path/'out', check=False)
    assert r.returncode == 2 and "Found: ['images.zip']" in r.stderr and 'ILSVRC2012_img_train.tar' in r.stderr
    h = main.parser().format_help()
    assert '--num-shards' in h and '--merge' in h and '--verify' in h and '--quality' in h and '{bicubic,bilinear}' in h
