"""The `hpc/` job scripts on a real single-node SLURM (tests/slurm/start.sh starts it, stop.sh ends it).

- hpc/train.sbatch, unmodified (settings through environment variables only), trains a tiny net on
  the demo data with 2 CPU processes under srun + torchrun and writes checkpoint, log and metrics;
- `scancel --signal=USR1 --batch` mid-run: the batch shell passes USR1 to the trainers (not to
  torchrun), they checkpoint and exit 75, the script requeues the job (SLURM_RESTART_COUNT=1), and
  the rerun resumes and ends with the same weights as the uninterrupted run;
- hpc/submit_preprocess.sh: the preprocessing array job over 2 shards plus its dependent merge
  gives the same root as a single-shard run.

Skipped, with the reason, where SLURM is not installed (on Debian 12, as root:
`apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge`) or not root.
About 3 minutes on 2 cores."""
import os, subprocess, sys, time
from pathlib import Path
import pandas as pd, pytest, torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from slurm.harness import Slurm, missing_reason

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable
BIN = Path(PY).parent
pytestmark = [pytest.mark.slurm, pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason()))]


def run(*cmd, timeout=600, **kw):
    "Run a command, failing the test with its output if it fails."
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout,
                       env={**os.environ, 'ALEXNET_NO_PROGRESS': '1'}, **kw)
    assert p.returncode == 0, f"{' '.join(map(str, cmd))} failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    return p.stdout


@pytest.fixture(scope='module')
def cluster(tmp_path_factory):
    "A single-node SLURM for this module; its daemons are stopped (by PID) at the end."
    s = Slurm(tmp_path_factory.mktemp('slurm'))
    try: s.start()
    except RuntimeError as e: pytest.fail(f'could not start SLURM: {e}')
    yield s
    s.stop()


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    "A half-size demo ImageNet (2012 layout, 10 classes x 50 training images) and its single-shard preprocessed root."
    d = tmp_path_factory.mktemp('demo')
    run(BIN/'alexnet_demo_data', d/'raw', '--layout', '2012', '--n_train', '50', '--n_val', '10')
    run(BIN/'alexnet_preprocess', d/'raw', d/'pre')
    run(BIN/'alexnet_stats', d/'pre', '--out', d/'pre'/'stats.pt', '--no_progress')
    return d


# 498 usable training images, global batch 32 over 2 processes: 15 steps; a checkpoint every 4 steps.
TRAIN_ARGS = '--preset demo --epochs 1 --width 0.0625 --batch-size 32 --workers 0 --device cpu --ckpt-every-steps 4 --keep 20'


def submit_train(cluster, demo, run_dir):
    run_dir.mkdir(parents=True)
    env = dict(RUN_DIR=str(run_dir), NPROC_PER_NODE='2', VENV=sys.prefix, ALEXNET_REPO=str(REPO),
               TRAIN_ARGS=f"--data {demo/'pre'} {TRAIN_ARGS}")
    return cluster.sbatch(REPO/'hpc'/'train.sbatch', '--cpus-per-task=2', f'--output={run_dir}/slurm-%j.out', env=env, cwd=REPO)


def final_weights(run_dir):
    from alexnet_nb.train import list_checkpoints, load_checkpoint
    ck = load_checkpoint(list_checkpoints(run_dir)[-1])
    return ck['epoch'], ck['step'], ck['model']


@pytest.fixture(scope='module')
def uninterrupted(cluster, demo, tmp_path_factory):
    "hpc/train.sbatch run to the end without interruption."
    d = tmp_path_factory.mktemp('train') / 'run'
    job = submit_train(cluster, demo, d)
    info = cluster.wait(job, timeout=240)
    return d, info


def test_train_script_completes(uninterrupted):
    d, info = uninterrupted
    assert info['ExitCode'] == '0:0' and info['Restarts'] == '0'
    for f in ('config.json', 'log.csv', 'curves.png', 'metrics.json', 'checkpoints/best.pt'): assert (d/f).is_file(), f
    log = pd.read_csv(d/'log.csv')
    assert list(log.epoch) == [1] and 0 <= log.val_top1_err[0] <= 1
    import json
    m = json.loads((d/'metrics.json').read_text())
    assert m['status'] == 'done' and m['epochs_done'] == 1
    assert json.loads((d/'config.json').read_text())['world_size'] == 2   # 2 processes under torchrun
    out = next(d.glob('slurm-*.out')).read_text()
    assert '1 node(s)' in out and ': 2 process(es)' in out and 'finished with exit status 0' in out


def test_usr1_checkpoints_requeues_and_resumes(cluster, demo, uninterrupted, tmp_path):
    d = tmp_path/'run'
    job = submit_train(cluster, demo, d)
    first = d/'checkpoints'/'ckpt_e001_s000004.pt'
    t0 = time.time()
    while not first.exists():                                          # training is under way
        assert time.time() - t0 < 180, f'no checkpoint after 180 s:\n{cluster.output(cluster.job(job))}'
        assert cluster.job(job).get('JobState') in ('PENDING', 'RUNNING', 'CONFIGURING'), cluster.output(cluster.job(job))
        time.sleep(0.05)
    cluster.run('scancel', '--signal=USR1', '--batch', job)            # to the batch shell only, as SLURM does before the time limit
    t0 = time.time()
    while True:                                                        # the script requeues the job ...
        j = cluster.job(job)
        if j.get('Restarts') == '1' and j.get('JobState') == 'PENDING': break
        assert j.get('JobState') in ('RUNNING', 'COMPLETING', 'PENDING', 'REQUEUED'), f'{j.get("JobState")}:\n{cluster.output(j)}'
        assert time.time() - t0 < 120, f'not requeued after 120 s ({j.get("JobState")}):\n{cluster.output(j)}'
        time.sleep(0.2)
    cluster.start_now(job)                                             # ... which SLURM would otherwise hold for ~2 min
    info = cluster.wait(job, timeout=240)
    out = cluster.output(info)
    assert info['Restarts'] == '1' and info['ExitCode'] == '0:0'
    assert 'got USR1: passing it to the trainers' in out
    assert 'stopped by a signal; checkpoint' in out                    # the trainer wrote a preemption checkpoint ...
    assert 'preempted (exit 75): requeueing' in out and '(restart 1)' in out
    assert 'start: restart 1,' in out                                  # ... the rerun saw SLURM_RESTART_COUNT=1 ...
    assert 'resumed from' in out                                       # ... and resumed from it, mid-epoch
    e1, s1, w1 = final_weights(uninterrupted[0])
    e2, s2, w2 = final_weights(d)
    assert (e1, s1) == (e2, s2)
    for k in w1: assert torch.equal(w1[k], w2[k]), f'{k} differs after preemption and resume'


def test_preprocess_array_and_merge_equal_single_shard(cluster, demo, tmp_path):
    dst = tmp_path/'pre2'
    env = dict(SRC=str(demo/'raw'), DST=str(dst), SHARDS='2', VENV=sys.prefix, ALEXNET_REPO=str(REPO))
    out = subprocess.run([str(REPO/'hpc'/'submit_preprocess.sh'), '--cpus-per-task=1', f'--output={tmp_path}/slurm-%x-%A_%a.out'],
                         capture_output=True, text=True, env={**cluster.env, **env}, cwd=REPO, timeout=60)
    assert out.returncode == 0, out.stderr
    merge = out.stdout.strip().splitlines()[-1]
    array = out.stderr.split('array ')[1].split()[0]
    info = cluster.wait(merge, timeout=240)
    assert info['ExitCode'] == '0:0'
    tasks = cluster.jobs(array)
    assert sorted(t['ArrayTaskId'] for t in tasks) == ['0', '1'] and {t['JobState'] for t in tasks} == {'COMPLETED'}
    assert (dst/'.preprocess'/'manifest-shard-00001-of-00002.csv').is_file()   # written by two shards, then merged
    a = pd.read_csv(demo/'pre'/'manifest.csv', keep_default_na=False)
    b = pd.read_csv(dst/'manifest.csv', keep_default_na=False)
    pd.testing.assert_frame_equal(a, b)
    for o in a.output[a.output != '']:
        assert (demo/'pre'/o).read_bytes() == (dst/o).read_bytes(), o
    assert (demo/'pre'/'classes.csv').read_text() == (dst/'classes.csv').read_text()
