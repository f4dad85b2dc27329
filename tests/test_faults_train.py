"""Fault injection for `alexnet_train` and `alexnet_evaluate` (issue 11, items 2-4, 7; issue 13, item 6).

One table: each row breaks one thing (a torn or foreign checkpoint, changed settings on resume, statistics
of another data set, a pickle that would run code, a second trainer, a full disk, a missing GPU, ...), runs
the command, and checks what the user sees and that nothing was lost:
- the exit code (2 bad input, 1 runtime failure, 0 where the run must go on);
- exactly one line on stderr, naming the file, and no traceback;
- every file of the run that existed before is byte-identical afterwards (unless the row says otherwise).
Most rows run the command in this process (`main.run`), which is what the console script does after
parsing; the rows where a traceback or a signal could slip through run a real process. A tiny net
(width 1/8) on a toy root (16 training images, batch 8: two steps an epoch)."""
import builtins, contextlib, hashlib, io, json, os, resource, shutil, socket, subprocess, sys, time
from pathlib import Path
import pytest, torch

os.environ['ALEXNET_NO_PROGRESS'] = '1'
from alexnet_nb.core import toy_stats
from alexnet_nb.train import main as train_main, list_checkpoints, scan_checkpoints, load_checkpoint
from alexnet_nb.evaluate import main as eval_main

PY = sys.executable
BASE = ['--width', '0.125', '--batch-size', '8', '--workers', '0', '--device', 'cpu', '--ckpt-every-steps', '1', '--keep', '20']


def env():
    e = {**os.environ, 'ALEXNET_NO_PROGRESS': '1', 'PYTHONUNBUFFERED': '1', 'OMP_NUM_THREADS': '1'}
    for k in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'SLURM_PROCID', 'SLURM_NTASKS', 'MASTER_ADDR', 'MASTER_PORT', 'ALEXNET_DEBUG'): e.pop(k, None)
    return e


def in_process(main, argv):
    "Run a command in this process: (exit code, stdout, stderr)."
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err): rc = main.run([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()


def in_subprocess(module, argv, **kw):
    p = subprocess.run([PY, '-m', module, *map(str, argv)], env=env(), capture_output=True, text=True, timeout=300, **kw)
    return p.returncode, p.stdout, p.stderr


def snapshot(d):
    "{relative path: sha256} of every file under `d` (the lock file aside)."
    d = Path(d)
    return {str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.rglob('*')) if p.is_file() and p.name != '.lock'}


class Evil:
    "Unpickling this would create the file `mark`: a payload that must never run."
    def __init__(self, mark): self.mark = str(mark)
    def __reduce__(self): return (builtins.open, (self.mark, 'w'))


@pytest.fixture(scope='module')
def root(toy_root):
    return toy_root({'train': 16, 'val': 8}, n_classes=4)


@pytest.fixture(scope='module')
def base(root, tmp_path_factory):
    "One finished epoch: checkpoints after step 1 and step 2 (the epoch end), best.pt, log.csv, config.json."
    d = tmp_path_factory.mktemp('base') / 'run'
    rc, out, err = in_process(train_main, ['--data', root, '--run-dir', d, *BASE, '--epochs', '1'])
    assert rc == 0, err
    test_names = [p.name for p in list_checkpoints(d)]
    assert test_names == ['ckpt_e001_s000001.pt', 'ckpt_e001_s000002.pt'], test_names
    return d


# --- the rows ---------------------------------------------------------------------------------------
# Each setup gets a context `c` (root, base, a fresh copy of the base run at c.run, a scratch folder c.tmp)
# and returns (command, argv); the row's expectations follow.

def _train(c, *extra, run=None): return ['--data', c.root, '--run-dir', run or c.run, *BASE, *extra]

def truncate(p, n=1000): p.write_bytes(p.read_bytes()[:n])

def other_stats(c):
    st = toy_stats(c.root, 'val'); p = c.tmp / 'other_stats.pt'; torch.save(st, p); return p

def other_classes(c):
    p = c.tmp / 'classes.csv'; p.write_text((c.root / 'classes.csv').read_text().replace('class 0', 'class zero')); return p

def foreign_stats(c):
    p = c.tmp / 'foreign.pt'; torch.save({'weights': torch.zeros(3)}, p); return p

def stats_of_other_data(c):
    st = toy_stats(c.root); st['manifest_sha256'] = '0' * 64; p = c.tmp / 'stats_other_data.pt'; torch.save(st, p); return p

def evil(c, name):
    p = c.tmp / name; torch.save({'model': Evil(c.tmp / 'PWNED')}, p); return p

def torn_copy(c, name):
    p = c.tmp / name; p.write_bytes(load_bytes(c.base / 'checkpoints' / 'ckpt_e001_s000002.pt')[:1000]); return p

def load_bytes(p): return Path(p).read_bytes()


def r_truncated_sorts_last(c):
    "A torn checkpoint that sorts last, then --keep 1: the good ones must not be pruned by it, nor it deleted."
    bad = c.run / 'checkpoints' / 'ckpt_e005_s000003.pt'; bad.write_bytes(load_bytes(c.run / 'checkpoints' / 'ckpt_e001_s000002.pt')[:1000])
    return train_main, _train(c, '--epochs', '2', '--keep', '1')

def r_all_unreadable(c):
    for p in list_checkpoints(c.run): truncate(p)
    return train_main, _train(c, '--epochs', '2')

def r_log_without_checkpoints(c):
    shutil.rmtree(c.run / 'checkpoints')
    return train_main, _train(c, '--epochs', '2')

def r_resume_never_on_a_run(c): return train_main, _train(c, '--epochs', '2', '--resume', 'never')

def r_dropout(c): return train_main, _train(c, '--epochs', '1', '--dropout', '0.3')
def r_lrn_alpha(c): return train_main, _train(c, '--epochs', '1', '--lrn-alpha', '2e-4')
def r_lrn_alpha_on(c): return train_main, _train(c, '--epochs', '1', '--lrn-alpha-on', 'mean')
def r_classes(c): return train_main, _train(c, '--epochs', '1', '--classes', other_classes(c))
def r_stats(c): return train_main, _train(c, '--epochs', '1', '--stats', other_stats(c))
def r_stats_allowed(c): return train_main, _train(c, '--epochs', '1', '--stats', other_stats(c), '--allow-changes')
def r_dropout_allowed(c): return train_main, _train(c, '--epochs', '1', '--dropout', '0.3', '--allow-changes')
def r_width(c): return train_main, _train(c, '--epochs', '1', '--width', '0.25')
def r_width_allowed(c): return train_main, _train(c, '--epochs', '1', '--width', '0.25', '--allow-changes')
def r_stats_other_data(c): return train_main, _train(c, '--epochs', '1', '--stats', stats_of_other_data(c), run=c.tmp / 'new')
def r_evil_stats(c): return train_main, _train(c, '--epochs', '1', '--stats', evil(c, 'evil_stats.pt'))
def r_evil_ckpt(c): return train_main, _train(c, '--epochs', '1', '--resume', evil(c, 'evil_ckpt.pt'))
def r_torn_stats(c):
    p = c.tmp / 'torn_stats.pt'; p.write_bytes(load_bytes(c.root / 'stats.pt')[:500])
    return train_main, _train(c, '--epochs', '1', '--stats', p)
def r_foreign_stats(c): return train_main, _train(c, '--epochs', '1', '--stats', foreign_stats(c))
def r_torn_resume(c): return train_main, _train(c, '--epochs', '1', '--resume', torn_copy(c, 'torn.pt'))
def r_foreign_resume(c): return train_main, _train(c, '--epochs', '1', '--resume', foreign_stats(c))
def r_device_cuda(c): return train_main, _train(c, '--epochs', '1', '--device', 'cuda')
def r_run_dir_not_dir(c):
    f = c.tmp / 'a_file'; f.write_text('x'); return train_main, _train(c, '--epochs', '1', run=f / 'run')
def r_out_of_range(c): return train_main, _train(c, '--epochs', '1', '--dropout', '1.5')
def r_eval_torn(c): return eval_main, [torn_copy(c, 'torn.pt'), '--device', 'cpu', '--workers', '0']
def r_eval_foreign(c): return eval_main, [foreign_stats(c), '--device', 'cpu', '--workers', '0']
def r_eval_evil(c): return eval_main, [evil(c, 'evil_ckpt.pt'), '--device', 'cpu', '--workers', '0']
def r_eval_torn_stats(c):
    p = c.tmp / 'torn_stats.pt'; p.write_bytes(load_bytes(c.root / 'stats.pt')[:500])
    return eval_main, [c.run / 'checkpoints' / 'best.pt', '--stats', p, '--device', 'cpu', '--workers', '0', '--out', c.tmp / 'eval']
def r_eval_evil_stats(c):
    return eval_main, [c.run / 'checkpoints' / 'best.pt', '--stats', evil(c, 'evil_stats.pt'), '--device', 'cpu', '--workers', '0', '--out', c.tmp / 'eval']
def r_eval_cuda(c): return eval_main, [c.run / 'checkpoints' / 'best.pt', '--device', 'cuda', '--workers', '0']


# id, setup, exit code, what the one stderr line must hold ('{x}' filled from the context), run files unchanged?
ROWS = [
    ('truncated-sorts-last-keep-1', r_truncated_sorts_last, 0, None, False),
    ('all-checkpoints-unreadable', r_all_unreadable, 1, ['none of the 2 checkpoints can be read', '{run}/checkpoints', '--restart'], True),
    ('log-without-checkpoints', r_log_without_checkpoints, 2, ['has a log but no checkpoint', '({run})', '--restart'], True),
    ('resume-never-on-a-run', r_resume_never_on_a_run, 2, ['already holds a run', '({run})'], True),
    ('resume-other-dropout', r_dropout, 2, ['differs from the checkpoint', 'dropout 0.5 -> 0.3', 'ckpt_e001_s000002.pt', '--allow-changes'], True),
    ('resume-other-lrn-alpha', r_lrn_alpha, 2, ['lrn_alpha 0.0001 -> 0.0002', 'ckpt_e001_s000002.pt'], True),
    ('resume-other-lrn-alpha-on', r_lrn_alpha_on, 2, ["lrn_alpha_on 'sum' -> 'mean'", 'ckpt_e001_s000002.pt'], True),
    ('resume-other-class-table', r_classes, 2, ['classes file', '{tmp}/classes.csv', 'ckpt_e001_s000002.pt'], True),
    ('resume-other-stats', r_stats, 2, ['stats file', '{tmp}/other_stats.pt', 'ckpt_e001_s000002.pt'], True),
    ('resume-other-width', r_width, 2, ['width 0.125 -> 0.25', 'ckpt_e001_s000002.pt'], True),
    ('resume-other-width-allowed', r_width_allowed, 2, ["weights do not fit this model", 'ckpt_e001_s000002.pt'], True),
    ('stats-of-other-data', r_stats_other_data, 2, ['another manifest', '{tmp}/stats_other_data.pt', '--allow-stats-mismatch'], True),
    ('evil-pickle-stats', r_evil_stats, 2, ['cannot read the statistics file', 'weights_only=True', '{tmp}/evil_stats.pt'], True),
    ('evil-pickle-checkpoint', r_evil_ckpt, 2, ['cannot read the checkpoint', 'weights_only=True', '{tmp}/evil_ckpt.pt'], True),
    ('truncated-stats', r_torn_stats, 2, ['cannot read the statistics file', '{tmp}/torn_stats.pt'], True),
    ('foreign-stats', r_foreign_stats, 2, ["the statistics lack 'mean_image'", '{tmp}/foreign.pt'], True),
    ('truncated-checkpoint-resume', r_torn_resume, 2, ['cannot read the checkpoint', '{tmp}/torn.pt'], True),
    ('foreign-checkpoint-resume', r_foreign_resume, 2, ['not an alexnet_train checkpoint', '{tmp}/foreign.pt'], True),
    ('device-cuda-without-gpu', r_device_cuda, 2, ['--device cuda asks for a GPU'], True),
    ('run-dir-not-a-directory', r_run_dir_not_dir, 2, ['cannot make the run directory', '{tmp}/a_file/run'], True),
    ('setting-out-of-range', r_out_of_range, 2, ['--dropout 1.5 is out of range', '[0, 1)'], True),
    ('evaluate-truncated-checkpoint', r_eval_torn, 2, ['cannot read the checkpoint', '{tmp}/torn.pt'], True),
    ('evaluate-foreign-checkpoint', r_eval_foreign, 2, ['not an alexnet_train checkpoint', '{tmp}/foreign.pt'], True),
    ('evaluate-evil-pickle-checkpoint', r_eval_evil, 2, ['cannot read the checkpoint', '{tmp}/evil_ckpt.pt'], True),
    ('evaluate-truncated-stats', r_eval_torn_stats, 2, ['cannot read the statistics file', '{tmp}/torn_stats.pt'], True),
    ('evaluate-evil-pickle-stats', r_eval_evil_stats, 2, ['cannot read the statistics file', '{tmp}/evil_stats.pt'], True),
    ('evaluate-device-cuda-without-gpu', r_eval_cuda, 2, ['--device cuda asks for a GPU'], True),
]


class Ctx:
    def __init__(self, root, base, tmp):
        self.root, self.base, self.tmp, self.run = root, base, tmp, tmp / 'run'
        shutil.copytree(base, self.run, copy_function=shutil.copy2)     # best.pt becomes a copy: the rows may truncate files


def one_error_line(prog, rc, out, err, code, must):
    lines = [l for l in err.splitlines() if l.strip()]
    assert rc == code, (rc, err[-3000:])
    assert 'Traceback' not in out + err, err
    assert len(lines) == 1, f'expected one line on stderr, got {len(lines)}:\n{err}'
    assert lines[0].startswith(f'{prog}: error: '), lines[0]
    for m in must: assert m in lines[0], f'{m!r} not in {lines[0]!r}'
    return lines[0]


@pytest.mark.parametrize('rid,setup,code,must,unchanged', ROWS, ids=[r[0] for r in ROWS])
def test_fault(rid, setup, code, must, unchanged, root, base, tmp_path):
    if 'cuda' in rid and torch.cuda.is_available(): pytest.skip('a GPU is visible')
    c = Ctx(root, base, tmp_path)
    cmd, argv = setup(c)
    before = snapshot(c.run)
    if isinstance(cmd, str): rc, out, err = in_subprocess(cmd, argv)
    else: rc, out, err = in_process(cmd, argv)
    prog = 'alexnet_evaluate' if cmd is eval_main else 'alexnet_train'
    assert not (tmp_path / 'PWNED').exists(), 'a pickled payload ran'
    if must is not None:
        must = [m.format(run=c.run, tmp=c.tmp) for m in must]
        line = one_error_line(prog, rc, out, err, code, must)
        print(f'{rid}: exit {rc}: {line}')
    if unchanged: assert snapshot(c.run) == before, 'files of the run changed'
    if rid == 'truncated-sorts-last-keep-1':
        assert rc == 0, err
        bad = c.run / 'checkpoints' / 'ckpt_e005_s000003.pt'
        assert bad.is_file() and snapshot(c.run)['checkpoints/ckpt_e005_s000003.pt'] == before['checkpoints/ckpt_e005_s000003.pt']
        good, unreadable = scan_checkpoints(c.run)
        assert [p.name for p in good] == ['ckpt_e002_s000002.pt'] and unreadable == [bad]      # --keep 1 kept the newest good one
        warn = [l for l in err.splitlines() if 'warning' in l]
        assert len(warn) == 1 and str(bad) in warn[0] and 'Traceback' not in err, err
        assert json.loads((c.run / 'metrics.json').read_text())['latest_checkpoint'] == str(good[-1])
        assert load_checkpoint(c.run / 'checkpoints' / 'best.pt')['epoch'] in (1, 2)
        print(f'{rid}: exit {rc}: {warn[0]}')


@pytest.mark.parametrize('rid,setup,word', [('stats', r_stats_allowed, 'stats file'), ('dropout', r_dropout_allowed, 'dropout 0.5 -> 0.3')])
def test_allowed_change_is_recorded(rid, setup, word, root, base, tmp_path):
    "With --allow-changes the run continues, and config.json's history says what changed and from which checkpoint."
    c = Ctx(root, base, tmp_path)
    rc, out, err = in_process(*setup(c))
    assert rc == 0, err
    h = json.loads((c.run / 'config.json').read_text())['history']
    assert len(h) == 2 and h[0]['start'] == 'new' and h[1]['start'] == 'resumed'
    assert h[1]['checkpoint'].endswith('ckpt_e001_s000002.pt') and any(word in ch for ch in h[1]['changes']), h[1]
    assert 'with changes' in out
    ck = load_checkpoint(c.run / 'checkpoints' / 'ckpt_e001_s000002.pt')          # the old checkpoint keeps its own record
    assert ck['config']['model']['dropout'] == 0.5 and ck['stats']['sha256'] == ck['config']['inputs']['stats']['sha256']


def test_restart_moves_the_old_run_aside(root, base, tmp_path):
    c = Ctx(root, base, tmp_path)
    shutil.rmtree(c.run / 'checkpoints'); before = snapshot(c.run)
    rc, out, err = in_process(train_main, _train(c, '--epochs', '1', '--restart'))
    assert rc == 0, err
    old = [p for p in c.run.iterdir() if p.name.startswith('old-')]
    assert len(old) == 1 and snapshot(old[0]) == before                          # moved, byte-identical, never deleted
    assert [p.name for p in list_checkpoints(c.run)] == ['ckpt_e001_s000001.pt', 'ckpt_e001_s000002.pt']


def test_second_trainer_exits_2_naming_the_holder(root, base, tmp_path):
    c = Ctx(root, base, tmp_path)
    holder = subprocess.Popen([PY, '-c', 'import sys, time\nfrom alexnet_nb.utils import run_lock\nwith run_lock(sys.argv[1]):\n'
                               '    print("locked", flush=True); time.sleep(120)', str(c.run)], env=env(), stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == 'locked'
        before = snapshot(c.run)
        rc, out, err = in_process(train_main, _train(c, '--epochs', '2'))
        line = one_error_line('alexnet_train', rc, out, err, 2, ['in use by', f'pid {holder.pid}', socket.gethostname(), str(c.run)])
        print(f'second-trainer: exit {rc}: {line}')
        assert snapshot(c.run) == before
    finally:
        holder.kill(); holder.wait()


def test_disk_full_while_writing_a_checkpoint(root, base, tmp_path):
    "RLIMIT_FSIZE below a checkpoint's size: the write fails (EFBIG), exit 1, one line, earlier files intact, no temporary left."
    c = Ctx(root, base, tmp_path)
    size = (c.run / 'checkpoints' / 'ckpt_e001_s000002.pt').stat().st_size
    limit = size // 2
    assert limit > 64_000                                                        # config.json, log.csv and the lock still fit
    before = snapshot(c.run)
    rc, out, err = in_subprocess('alexnet_nb.train', _train(c, '--epochs', '2'),
                                 preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)))
    line = one_error_line('alexnet_train', rc, out, err, 1, ['could not write the checkpoint', 'File too large',
                                                              str(c.run / 'checkpoints' / 'ckpt_e002_s000001.pt'), 'ckpt_e001_s000002.pt'])
    print(f'disk-full: exit {rc}: {line}')
    after = snapshot(c.run)
    assert {k: v for k, v in after.items() if k != 'config.json'} == {k: v for k, v in before.items() if k != 'config.json'}
    assert not list((c.run / 'checkpoints').glob('.*.tmp'))
    assert load_checkpoint(c.run / 'checkpoints' / 'ckpt_e001_s000002.pt')['epoch'] == 1
