"""SIGTERM to the whole process group, as SLURM sends it (scancel, time limit, PreemptMode=REQUEUE),
while the trainer runs with DataLoader workers: the workers ignore it (the trainer owns shutdown),
the trainer writes a checkpoint and exits 75, and the resumed run ends with the same weights as an
uninterrupted one. Also SIGINT (Ctrl-C in a terminal reaches the whole foreground group): the
trainer, not a worker, reports it. Plain processes, no SLURM; about a minute on 2 cores."""
import os, signal, subprocess, sys, time
from pathlib import Path
import pytest, torch

from alexnet_nb.train import EXIT_PREEMPTED, list_checkpoints, load_checkpoint

PY = sys.executable
# 48 training images, global batch 8: 6 steps an epoch, a checkpoint every 2 steps, 2 workers.
BASE = ['--width', '0.125', '--batch-size', '8', '--workers', '2', '--epochs', '2', '--ckpt-every-steps', '2',
        '--keep', '20', '--device', 'cpu']


def env():
    e = {**os.environ, 'ALEXNET_NO_PROGRESS': '1', 'PYTHONUNBUFFERED': '1', 'OMP_NUM_THREADS': '1'}
    for k in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_LOCALID', 'MASTER_ADDR', 'MASTER_PORT'):
        e.pop(k, None)
    return e


def cmd(root, run_dir): return [PY, '-m', 'alexnet_nb.train', '--data', str(root), '--run-dir', str(run_dir), *BASE]


def start(root, run_dir):
    "The trainer as the leader of a new process group (its workers join it), like a SLURM step's tasks."
    return subprocess.Popen(cmd(root, run_dir), env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def final_model(run_dir): return load_checkpoint(list_checkpoints(run_dir)[-1])['model']


def workers_of(pid):
    "PIDs of the processes whose parent is `pid` (the DataLoader workers)."
    out = []
    for f in Path('/proc').glob('[0-9]*/stat'):
        try: s = f.read_text()
        except OSError: continue
        if int(s.rsplit(')', 1)[1].split()[1]) == pid: out.append(int(f.parent.name))
    return out


def signal_group_mid_epoch(root, run_dir, sig):
    "Start a run, wait until epoch 1's first checkpoint is written and the workers are up, signal the whole group."
    p = start(root, run_dir)
    first, t0 = run_dir/'checkpoints'/'ckpt_e001_s000002.pt', time.time()
    while not (first.exists() and len(workers_of(p.pid)) >= 2):
        if p.poll() is not None: pytest.fail(f'trainer ended ({p.returncode}) before its first checkpoint:\n{p.stderr.read()}')
        if time.time() - t0 > 240: p.kill(); pytest.fail('no checkpoint after 240 s')
        time.sleep(0.02)
    os.killpg(p.pid, sig)                       # every process of the group: trainer and workers
    out, err = p.communicate(timeout=180)
    return p.returncode, out, err


@pytest.fixture(scope='module')
def root(toy_root):
    "A tiny preprocessed root and its statistics file."
    return toy_root({'train': 48, 'val': 16}, n_classes=4)


@pytest.fixture(scope='module')
def reference(root, tmp_path_factory):
    "An uninterrupted two-epoch run with 2 workers."
    d = tmp_path_factory.mktemp('ref')/'run'
    p = subprocess.run(cmd(root, d), env=env(), capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    return d


def test_sigterm_to_group_with_workers_checkpoints_75_and_resumes_equal(root, reference, tmp_path):
    d = tmp_path/'run'
    rc, out, err = signal_group_mid_epoch(root, d, signal.SIGTERM)
    assert rc == EXIT_PREEMPTED, f'exit {rc}, expected 75 (preempted with a checkpoint):\n{err[-3000:]}'
    assert 'DataLoader worker' not in err, err[-3000:]
    import json
    mark = json.loads((d/'PREEMPTED').read_text())
    assert mark['signal'] == signal.SIGTERM and Path(mark['checkpoint']) == list_checkpoints(d)[-1]
    q = subprocess.run(cmd(root, d), env=env(), capture_output=True, text=True, timeout=600)
    assert q.returncode == 0, q.stderr
    assert 'resumed from' in q.stdout
    a, b = final_model(d), final_model(reference)
    assert a.keys() == b.keys()
    for k in a: assert torch.equal(a[k], b[k]), f'{k} differs after SIGTERM and resume'


def test_sigint_to_group_with_workers_is_reported_by_the_trainer(root, tmp_path):
    rc, out, err = signal_group_mid_epoch(root, tmp_path/'run', signal.SIGINT)
    assert rc in (130, -signal.SIGINT), f'exit {rc}:\n{err[-3000:]}'
    assert 'DataLoader worker' not in err, err[-3000:]


def test_process_leaving_workers_running_exits(root):
    "A process that leaves a Loader's workers running still exits: they ignore SIGTERM, so multiprocessing's exit-time terminate() alone would wait forever."
    code = (f"from alexnet_nb.augment import Loader\n"
            f"ld = Loader({str(root)!r}, 'val', {str(root/'stats.pt')!r}, 4, train=False, workers=2)\n"
            f"next(iter(ld)); print('ok')")
    p = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120, env=env())
    assert p.returncode == 0 and 'ok' in p.stdout, p.stderr[-2000:]
