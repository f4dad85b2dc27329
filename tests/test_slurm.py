"""The `hpc/` job scripts on real SLURM clusters started by the tests, and their logic with stand-ins.

Single node (tests/slurm/start.sh; stop.sh ends it):
- hpc/train.sbatch, unmodified (settings through environment variables only), trains a tiny net on
  the demo data with 2 CPU processes under srun + torchrun and writes checkpoint, log and metrics;
- `scancel --signal=USR1 --batch` mid-run: checkpoint, exit 75, requeue, resume, same weights;
- hpc/submit_preprocess.sh: the preprocessing array over 2 shards plus its merge = one shard.

Two nodes on one machine (tests/slurm/start2.sh: network namespaces joined by a bridge, one
slurmd per namespace under its own host name, node names that do not resolve; gloo over the veths):
- 2 nodes x 2 processes (inside a stand-in container) = 1 node x 4, bit for bit; both PID files;
- USR1 with the forward to the other node broken: the all-reduce stops both; resume equal;
- real preemption (preempt/partition_prio, PreemptMode=REQUEUE) with 2 data workers per trainer:
  SIGTERM to everything, checkpoint, requeue, resume equal;
- `scontrol requeue` refused: the job FAILS (75) and the afterok evaluation is cancelled unstarted;
- an array task rerun alone (--array=1 of NUM_SHARDS=2), then the merge = one clean run;
- hpc/submit_all.sh end to end = the same commands run directly.

Without SLURM (stand-ins for srun, scontrol, sbatch, torchrun on PATH; run everywhere): signal
order and the step's status, refused requeue, quoting and the container prefix, per-node sizing and
rendezvous options, shard numbering, the dependency chain, and the training headers.

The cluster tests skip, with the reason, where SLURM is not installed (Debian 12, as root:
`apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge`), without root, or
(two nodes) where network namespaces or a bridge cannot be made."""
import os, re, signal, subprocess, sys, time
from types import SimpleNamespace
from pathlib import Path
import shutil
import pandas as pd, pytest, torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from slurm.harness import Slurm, missing_reason

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable
BIN = Path(PY).parent
pytestmark = pytest.mark.slurm
needs_slurm = pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason()))


def run(*cmd, timeout=600, env=None, **kw):
    "Run a command, failing the test with its output if it fails."
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout,
                       env={**os.environ, 'ALEXNET_NO_PROGRESS': '1', **(env or {})}, **kw)
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
    run(BIN/'alexnet_demo_data', d/'raw', '--layout', '2012', '--n-train', '50', '--n-val', '10')
    run(BIN/'alexnet_preprocess', d/'raw', d/'pre')
    run(BIN/'alexnet_stats', d/'pre', '--out', d/'pre'/'stats.pt', '--quiet')
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


@needs_slurm
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


@needs_slurm
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


@needs_slurm
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


# ------------------------------------------------------------------------------------------------
# The job scripts' own logic, with stand-ins for srun, scontrol, sbatch, torchrun and the CLIs on
# PATH: no SLURM needed, a few seconds each, so these run everywhere (also without root).

FAKE_SRUN = r'''#!/usr/bin/env bash
# stand-in srun: records its arguments; --overlap calls run the command (node_address.sh: a fixed address),
# or hang when FAKE_REMOTE=hang; a step launch records a PID file like torchrun_node.sh and exits
# FAKE_STEP_RC, or 75 soon after USR1/TERM.
printf '%s\n' "$@" > "$FAKE_DIR/srun.$$.args"
case " $* " in
  *node_address.sh*) echo 10.9.8.7; exit 0;;
  *" --overlap "*) if [ "${FAKE_REMOTE:-}" = hang ]; then exec sleep 600; fi; exit 0;;
esac
mkdir -p "$ALEXNET_PID_DIR"; echo $$ > "$ALEXNET_PID_DIR/$(hostname -s).pid"
got=
trap 'got=1' USR1 TERM
for _ in $(seq 300); do [ -n "$got" ] && exit 75; sleep 0.05; done
exit "${FAKE_STEP_RC:-0}"
'''
FAKE_SCONTROL = r'''#!/usr/bin/env bash
# stand-in scontrol: `show hostnames` lists node1..N; `requeue` is logged, and refused when FAKE_REQUEUE=refuse
case "$1" in
  show) for i in $(seq "${SLURM_NNODES:-1}"); do echo "node$i"; done;;
  requeue) echo "requeue $2" >> "$FAKE_DIR/scontrol.log"
           if [ "${FAKE_REQUEUE:-}" = refuse ]; then echo "scontrol: error: Access/permission denied" >&2; exit 1; fi;;
esac
'''
FAKE_RECORD = r'''#!/usr/bin/env bash
# stand-in that records its arguments, one a line, and prints an id (for sbatch --parsable)
n=$(ls "$FAKE_DIR" | grep -c "^${0##*/}\.") ; printf '%s\n' "$@" > "$FAKE_DIR/${0##*/}.$n.args"; echo "$((100 + n))"
'''


@pytest.fixture
def fake(tmp_path):
    "A bin folder of stand-ins (first on PATH) and the environment to run a job script with them."
    b, logs = tmp_path/'bin', tmp_path/'log'
    b.mkdir(); logs.mkdir()
    for name, text in [('srun', FAKE_SRUN), ('scontrol', FAKE_SCONTROL), ('sbatch', FAKE_RECORD), ('torchrun', FAKE_RECORD),
                       ('alexnet_preprocess', FAKE_RECORD), ('alexnet_stats', FAKE_RECORD)]:
        (b/name).write_text(text); (b/name).chmod(0o755)
    venv = tmp_path/'venv'; (venv/'bin').mkdir(parents=True); (venv/'bin'/'activate').write_text(':\n')   # PATH stays ours
    env = {k: v for k, v in os.environ.items() if not k.startswith(('SLURM_', 'MASTER_', 'NUM_SHARDS', 'TRAIN_', 'CONTAINER'))}
    env.update(PATH=f"{b}:{Path(PY).parent}:{os.environ['PATH']}", FAKE_DIR=str(logs), VENV=str(venv), ALEXNET_REPO=str(REPO),
               SLURM_JOB_ID='42', SLURM_JOB_NAME='t', SLURM_JOB_NODELIST='node[1-2]')
    return SimpleNamespace(bin=b, logs=logs, env=env, tmp=tmp_path)


def fake_args(fake, name):
    "The recorded argument lists of stand-in `name`, oldest first."
    fs = sorted(fake.logs.glob(f'{name}.*.args'), key=lambda p: (p.stat().st_mtime_ns, p.name))
    return [f.read_text().splitlines() for f in fs]


def run_batch(fake, script, *args, signal_after_pid=None, **env):
    "Run a job script as SLURM's batch shell would (bash SCRIPT); optionally send it USR1 once the step is up."
    e = {**fake.env, **env}
    p = subprocess.Popen(['bash', str(REPO/'hpc'/script), *args], env=e, cwd=fake.tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if signal_after_pid:
        t0 = time.time()
        while not list(Path(e['RUN_DIR']).glob('.slurm/*/*.pid')):
            assert p.poll() is None and time.time() - t0 < 60, p.communicate()[0]
            time.sleep(0.05)
        p.send_signal(signal_after_pid)
    out = p.communicate(timeout=120)[0]
    return p.returncode, out


def test_fake_usr1_local_first_remote_bounded_and_step_status_kept(fake):
    "Defects 2 and 4: the remote forward hangs; this node is signalled first, the step ends (75) while the trap still runs, and the job is requeued."
    rc, out = run_batch(fake, 'train.sbatch', signal_after_pid=signal.SIGUSR1, RUN_DIR=str(fake.tmp/'run'), SLURM_NNODES='2',
                        FAKE_REMOTE='hang', FORWARD_TIMEOUT='3')
    assert 'could not pass USR1 to the other nodes' in out, out           # the remote forward hung and was cut off ...
    assert 'preempted (exit 75): requeueing' in out, out                  # ... after the step had ended with 75 (not 138)
    assert rc == 0 and (fake.logs/'scontrol.log').read_text() == 'requeue 42\n', out
    assert 'rendezvous 10.9.8.7:10042' in out                             # head address asked of the node; port 10000 + id % 10000


def test_fake_refused_requeue_fails_the_job(fake):
    "Defect 1: when `scontrol requeue` is refused the job exits non-zero (75), so afterok dependents never run."
    rc, out = run_batch(fake, 'train.sbatch', signal_after_pid=signal.SIGUSR1, RUN_DIR=str(fake.tmp/'run'), SLURM_NNODES='1', FAKE_REQUEUE='refuse')
    assert 'scontrol requeue failed' in out, out
    assert rc == 75, out


def test_fake_train_command_is_quoted_and_containerised(fake):
    "Defects 7 and 9: CONTAINER comes before torchrun_node.sh (so torchrun and python run inside it); settings are split like a command line, never globbed."
    (fake.tmp/'GLOBBED').write_text('')
    rc, out = run_batch(fake, 'train.sbatch', '--x', 'a b', RUN_DIR=str(fake.tmp/'run dir'), SLURM_NNODES='1',
                        CONTAINER="fakebox exec --bind '/a b' img.sif", TRAIN_ARGS="--data '/data/my set' --note *")
    assert rc == 0, out
    a = fake_args(fake, 'srun')[-1]
    i = a.index('fakebox')
    assert a[i:] == ['fakebox', 'exec', '--bind', '/a b', 'img.sif', str(REPO/'hpc'/'lib'/'torchrun_node.sh'), 'python', '-m', 'alexnet_nb.train',
                     '--data', '/data/my set', '--note', '*', '--x', 'a b', '--run-dir', str(fake.tmp/'run dir')], a


def test_fake_per_node_sizing_and_rendezvous(fake):
    "Defects 5 and 8: each node sizes itself (GPUs and CPUs SLURM gave it); the first node hosts the store, found by address."
    e = {**fake.env, 'SLURM_GPUS_ON_NODE': '3', 'SLURM_CPUS_PER_TASK': '13', 'ALEXNET_SIZE_WORKERS': '1', 'SLURM_NNODES': '2',
         'MASTER_ADDR': '10.9.8.7', 'MASTER_PORT': '10042', 'NUMA_BINDING': 'node'}
    node = str(REPO/'hpc'/'lib'/'torchrun_node.sh')
    for nodeid, host in (('0', 'true'), ('1', 'false')):
        p = subprocess.run([node, 'python', 'train.py'], env={**e, 'SLURM_NODEID': nodeid}, capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        a = fake_args(fake, 'torchrun')[-1]
        assert '--nproc-per-node=3' in a and a[-2:] == ['--workers', '3'], a   # 13 CPUs / 3 processes - 1
        assert f'--rdzv-conf=is_host={host}' in a and '--rdzv-endpoint=10.9.8.7:10042' in a and '--numa-binding=node' in a, a
        assert any(x.startswith('--local-addr=') and len(x) > len('--local-addr=') for x in a), a
    p = subprocess.run([node, 'python', 'train.py', '--workers', '0'], env={**e, 'SLURM_NNODES': '1', 'SLURM_GPUS_ON_NODE': '2'},
                       capture_output=True, text=True, timeout=60)
    a = fake_args(fake, 'torchrun')[-1]
    assert '--nproc-per-node=2' in a and a.count('--workers') == 1 and '--standalone' in a, a   # the user's --workers wins


def test_fake_array_shards_need_the_total(fake):
    "Defect 6: shard index from SLURM_ARRAY_TASK_ID, total from NUM_SHARDS; a rerun of one task (--array=7) keeps the total."
    base = dict(SRC='/src', DST='/dst', SLURM_ARRAY_TASK_ID='7', SLURM_ARRAY_TASK_COUNT='1', SLURM_ARRAY_TASK_MIN='7', SLURM_ARRAY_TASK_MAX='7')
    rc, out = run_batch(fake, 'preprocess.sbatch', **base, NUM_SHARDS='16')
    assert rc == 0, out
    a = fake_args(fake, 'alexnet_preprocess')[-1]
    assert a[a.index('--shard') + 1] == '7' and a[a.index('--num-shards') + 1] == '16', a
    rc, out = run_batch(fake, 'preprocess.sbatch', **base)
    assert rc == 2 and 'set NUM_SHARDS' in out, out
    rc, out = run_batch(fake, 'stats.sbatch', DATA='/dst', **{**base, 'SLURM_ARRAY_TASK_ID': '0'}, NUM_SHARDS='8')
    a = fake_args(fake, 'alexnet_stats')[-1]
    assert rc == 0 and a[a.index('--shard') + 1] == '0' and a[a.index('--num-shards') + 1] == '8', out
    rc, out = run_batch(fake, 'stats.sbatch', DATA='/dst', **base, NUM_SHARDS='4')
    assert rc == 2 and 'not a shard' in out, out


def test_fake_submit_all_chains_afterok_and_kills_on_invalid_dependency(fake):
    "Defect 6: every dependent job is afterok with --kill-on-invalid-dep=yes; the arrays get NUM_SHARDS; paths with spaces survive."
    p = subprocess.run([str(REPO/'hpc'/'submit_all.sh')], env={**fake.env, 'SRC': '/raw', 'DST': '/pre set', 'RUN_DIR': str(fake.tmp/'run'),
                       'PRE_SHARDS': '3', 'STATS_SHARDS': '2', 'TRAIN_ARGS': '--epochs 2'}, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    subs = fake_args(fake, 'sbatch')
    assert len(subs) == 6, subs                                            # 2 arrays, 2 merges, train, evaluate
    assert '--array=0-2' in subs[0] and '--array=0-1' in subs[2]
    for a in subs[1:]:
        assert any(x.startswith('--dependency=afterok:') for x in a) and '--kill-on-invalid-dep=yes' in a, a


def test_training_headers_ask_for_signal_requeue_and_append():
    "Every training script's header: --signal=B:USR1@..., --requeue, --open-mode=append."
    scripts = [p for p in (REPO/'hpc').glob('*.sbatch') if 'train' in p.name]
    assert len(scripts) >= 2
    for p in scripts:
        head = [l.split(None, 1)[1].strip() for l in p.read_text().splitlines() if l.startswith('#SBATCH ')]
        assert any(re.fullmatch(r'--signal=B:USR1@\d+', h) for h in head), (p.name, head)
        assert '--requeue' in head and '--open-mode=append' in head, (p.name, head)


# ------------------------------------------------------------------------------------------------
# Two nodes on one machine (tests/slurm/start2.sh: network namespaces, a bridge, one slurmd per
# namespace under its own host name), gloo on CPU, a small demo set in a folder whose name has a
# space and a `*`. The trainers talk over the namespaces' veth pairs (GLOO_SOCKET_IFNAME=eth0).

# 160 training images, global batch 32: 5 steps an epoch, 10 in all; a checkpoint every 2 steps.
TRAIN2 = ['--preset', 'demo', '--epochs', '2', '--width', '0.0625', '--batch-size', '32', '--device', 'cpu',
          '--ckpt-every-steps', '2', '--keep', '30']


@pytest.fixture(scope='module')
def cluster2(tmp_path_factory):
    "The two-node SLURM for this module; daemons stopped and namespaces removed at the end (also on failure)."
    from slurm.harness import Slurm2, Unavailable
    if missing_reason(): pytest.skip(f'two-node SLURM: {missing_reason()}')
    s = Slurm2(tmp_path_factory.mktemp('slurm2'))
    try: s.start()
    except Unavailable as e: pytest.skip(f'two-node SLURM needs network namespaces and a bridge: {e}')
    except RuntimeError as e: s.stop(); pytest.fail(f'could not start the two-node SLURM: {e}')
    try: yield s
    finally: s.stop()


@pytest.fixture(scope='module')
def small(tmp_path_factory):
    "A small demo ImageNet (10 classes x 16 training, 4 validation images), preprocessed, with statistics; the path has a space and a `*`."
    d = tmp_path_factory.mktemp('small') / 'demo set*'
    run(BIN/'alexnet_demo_data', d/'raw', '--layout', '2012', '--n-train', '16', '--n-val', '4')
    run(BIN/'alexnet_preprocess', d/'raw', d/'pre')
    run(BIN/'alexnet_stats', d/'pre', '--out', d/'pre'/'stats.pt', '--quiet', '--chunk-size', '64')
    return d


def q(s): return "'" + str(s).replace("'", "'\\''") + "'"


def submit2(cluster, small, run_dir, nodes, nproc, *opts, workers=0, env=None, script='train.sbatch'):
    "Submit a training job of `nodes` x `nproc` processes on the small set."
    run_dir.mkdir(parents=True, exist_ok=True)
    e = dict(RUN_DIR=str(run_dir), NPROC_PER_NODE=str(nproc), VENV=sys.prefix, ALEXNET_REPO=str(REPO), GLOO_SOCKET_IFNAME='eth0',
             OMP_NUM_THREADS='1', TRAIN_ARGS=' '.join(['--data', q(small/'pre'), *TRAIN2, '--workers', str(workers)]), **(env or {}))
    return cluster.sbatch(REPO/'hpc'/script, f'--nodes={nodes}', *opts, f'--output={run_dir}/slurm-%j.out', env=e, cwd=REPO)


def wait_for_pid_files(cluster, job, run_dir, hosts, timeout=300):
    "Wait until torchrun_node.sh has recorded its PID on each of `hosts` (the trainers are starting)."
    t0 = time.time()
    while True:
        have = {p.stem for p in run_dir.glob('.slurm/*/*.pid')}
        if set(hosts) <= have: return have
        j = cluster.job(job)
        assert j.get('JobState') in ('PENDING', 'RUNNING', 'CONFIGURING'), f"{j.get('JobState')}:\n{cluster.output(j)}"
        assert time.time() - t0 < timeout, f'no PID files for {hosts} after {timeout} s (have {have}):\n{cluster.output(j)}'
        time.sleep(0.05)


def wait_for_file(cluster, job, path, timeout=300):
    t0 = time.time()
    while not path.exists():
        j = cluster.job(job)
        assert j.get('JobState') in ('PENDING', 'RUNNING', 'CONFIGURING'), f"{j.get('JobState')}:\n{cluster.output(j)}"
        assert time.time() - t0 < timeout, f'no {path.name} after {timeout} s:\n{cluster.output(j)}'
        time.sleep(0.05)


def wait_requeued(cluster, job, timeout=180):
    "Wait until `job` is back in the queue after its first run (Restarts=1, PENDING)."
    t0 = time.time()
    while True:
        j = cluster.job(job)
        if j.get('Restarts') == '1' and j.get('JobState') == 'PENDING': return j
        assert j.get('JobState') in ('RUNNING', 'COMPLETING', 'PENDING', 'REQUEUED', 'PREEMPTED', 'CONFIGURING'), f'{j.get("JobState")}:\n{cluster.output(j)}'
        assert time.time() - t0 < timeout, f'not requeued after {timeout} s ({j.get("JobState")}):\n{cluster.output(j)}'
        time.sleep(0.2)


def full_output(info)->str:
    "A job's whole output file (cluster.output keeps only the tail, which torchrun's shutdown noise can fill)."
    p = Path(info.get('StdOut', ''))
    return p.read_text(errors='replace') if p.is_file() else f'(no output file {p})'


def assert_same_checkpoint(a_dir, b_dir, name):
    "Checkpoint `name` of two runs holds the same weights, bit for bit (written before any interruption)."
    w1, w2 = (torch.load(d/'checkpoints'/name, weights_only=True)['model'] for d in (a_dir, b_dir))
    for k in w1: assert torch.equal(w1[k], w2[k]), f'{name}: {k} differs'


def assert_equal_weights(a_dir, b_dir, atol=0.0):
    e1, s1, w1 = final_weights(a_dir)
    e2, s2, w2 = final_weights(b_dir)
    assert (e1, s1) == (e2, s2)
    for k in w1:
        if atol == 0: assert torch.equal(w1[k], w2[k]), f'{k} differs: max {(w1[k] - w2[k]).abs().max()}'
        else: torch.testing.assert_close(w1[k], w2[k], atol=atol, rtol=0, msg=lambda m: f'{k}: {m}')


# Resumed 4-process runs agree with the uninterrupted one to float rounding, not bit for bit: the
# first step after a restart runs with DDP's initial gradient buckets (DDP rebuilds them after its
# first step, in gradient-ready order), so a ring all-reduce over 4 ranks adds some elements in
# another order. With 2 ranks the order cannot matter (a + b == b + a): the single-node test is
# bit-exact. Differences seen: about 3e-8; a lost momentum buffer or dropout state gives 1e-4 and more.
RESUME_ATOL_4 = 1e-6


BOX = r'''#!/usr/bin/env bash
# a stand-in container runtime: records where it ran, puts its own python and torchrun first on PATH
[ "$1" = "--opt with space" ] || { echo "box: quoting lost: $1" >&2; exit 9; }
shift
echo "$(hostname -s) ${1##*/}" >> "$BOX_LOG/box.log"
export PATH="$BOX_BIN:$PATH"
exec "$@"
'''
SHIM = '#!/usr/bin/env bash\necho "$(hostname -s) {name}" >> "$BOX_LOG/inside.log"\nexec {real} "$@"\n'


@pytest.fixture(scope='module')
def two_by_two(cluster2, small, tmp_path_factory):
    "train_multinode.sbatch, 2 nodes x 2 processes, inside a stand-in container; and train.sbatch, 1 node x 4 processes; same global batch."
    t = tmp_path_factory.mktemp('2x2')
    box_bin, box_log = t/'box-bin', t/'box-log'; box_bin.mkdir(); box_log.mkdir()
    (t/'box').write_text(BOX); (t/'box').chmod(0o755)
    for name, real in (('python', PY), ('torchrun', BIN/'torchrun')):
        (box_bin/name).write_text(SHIM.format(name=name, real=real)); (box_bin/name).chmod(0o755)
    a, b = t/'2x2', t/'1x4'
    ja = submit2(cluster2, small, a, 2, 2, '--cpus-per-task=1', script='train_multinode.sbatch',
                 env=dict(CONTAINER=f"{t/'box'} '--opt with space'", BOX_BIN=str(box_bin), BOX_LOG=str(box_log)))
    jb = submit2(cluster2, small, b, 1, 4, '--cpus-per-task=2')
    pids = wait_for_pid_files(cluster2, ja, a, ['node1', 'node2'])
    ia, ib = cluster2.wait(ja, timeout=600), cluster2.wait(jb, timeout=600)
    return SimpleNamespace(a=a, b=b, ia=ia, ib=ib, pids=pids, box_log=box_log)


def test_two_nodes_2x2_equals_one_node_1x4(two_by_two, cluster2):
    r = two_by_two
    assert r.ia['ExitCode'] == '0:0' and r.ib['ExitCode'] == '0:0'
    assert {'node1', 'node2'} <= r.pids                                   # both nodes' torchrun_node.sh recorded their PIDs
    out = full_output(r.ia)
    assert 'node1: 2 process(es)' in out and 'node2: 2 process(es)' in out and 'rendezvous 10.77.0.11:1' in out, out
    import json
    assert json.loads((r.a/'config.json').read_text())['world_size'] == 4 == json.loads((r.b/'config.json').read_text())['world_size']
    assert_equal_weights(r.a, r.b)                                        # gloo all-reduce over 4 ranks either way: bit-identical
    box = (r.box_log/'box.log').read_text().split('\n')
    inside = (r.box_log/'inside.log').read_text().splitlines()
    assert {l.split()[0] for l in box if l} == {'node1', 'node2'}, box   # the container ran on both nodes ...
    assert sorted(set(inside)) == ['node1 python', 'node1 torchrun', 'node2 python', 'node2 torchrun'], inside   # ... torchrun and python inside it
    assert inside.count('node1 python') == 2 and inside.count('node2 python') == 2


def test_usr1_with_broken_remote_forward_stops_both_nodes(two_by_two, cluster2, small, tmp_path):
    "Forwarding USR1 to the other node hangs (an srun stand-in); the local trainers' all-reduce stops both nodes."
    wrap = tmp_path/'bin'; wrap.mkdir()
    real = shutil.which('srun', path=cluster2.env['PATH'])
    (wrap/'srun').write_text(f'#!/usr/bin/env bash\ncase " $* " in *" --overlap "*forward_signal.sh*) exec sleep 600;; esac\nexec {real} "$@"\n')
    (wrap/'srun').chmod(0o755)
    d = tmp_path/'run'
    job = submit2(cluster2, small, d, 2, 2, '--cpus-per-task=1', env=dict(PATH=f"{wrap}:{os.environ['PATH']}", FORWARD_TIMEOUT='5'))
    wait_for_pid_files(cluster2, job, d, ['node1', 'node2'])
    wait_for_file(cluster2, job, d/'checkpoints'/'ckpt_e001_s000002.pt')
    cluster2.run('scancel', '--signal=USR1', '--batch', job)
    wait_requeued(cluster2, job)
    cluster2.start_now(job)
    info = cluster2.wait(job, timeout=600)
    out = full_output(info)
    assert info['Restarts'] == '1' and info['ExitCode'] == '0:0', out
    assert 'could not pass USR1 to the other nodes' in out and 'stopped by a signal; checkpoint' in out, out
    assert 'preempted (exit 75): requeueing' in out and 'resumed from' in out, out
    assert_same_checkpoint(d, two_by_two.a, 'ckpt_e001_s000002.pt')
    assert_equal_weights(d, two_by_two.a, atol=RESUME_ATOL_4)


def test_real_preemption_requeues_and_resumes_with_workers(two_by_two, cluster2, small, tmp_path):
    "partition_prio preemption with PreemptMode=REQUEUE: SIGTERM to every process (2 data workers per trainer), checkpoint, requeue, resume, equal."
    d = tmp_path/'run'
    job = submit2(cluster2, small, d, 2, 2, '--cpus-per-task=1', workers=2)
    wait_for_file(cluster2, job, d/'checkpoints'/'ckpt_e001_s000002.pt')
    hi = cluster2.run('sbatch', '--parsable', '-p', 'high', '-N', '2', '--exclusive', f'--output={tmp_path}/high-%j.out',
                      '--wrap', 'sleep 3').strip().split(';')[0]                  # needs both whole nodes: preempts the training job
    wait_requeued(cluster2, job, timeout=300)
    cluster2.wait(hi, timeout=300)
    cluster2.start_now(job)
    info = cluster2.wait(job, timeout=600)
    out = full_output(info)
    assert info['Restarts'] == '1' and info['ExitCode'] == '0:0', out
    assert 'got TERM' in out and 'stopped by a signal; checkpoint' in out, out   # the trainers saved on SIGTERM ...
    assert 'DataLoader worker' not in out and 'resumed from' in out, out         # ... their workers did not die first
    assert_same_checkpoint(d, two_by_two.a, 'ckpt_e001_s000002.pt')
    assert_equal_weights(d, two_by_two.a, atol=RESUME_ATOL_4)


def test_refused_requeue_fails_job_and_dependent_evaluation_never_starts(cluster2, small, tmp_path):
    wrap = tmp_path/'bin'; wrap.mkdir()
    real = shutil.which('scontrol', path=cluster2.env['PATH'])
    (wrap/'scontrol').write_text(f'#!/usr/bin/env bash\n[ "$1" = requeue ] && {{ echo "scontrol: error: Access/permission denied" >&2; exit 1; }}\nexec {real} "$@"\n')
    (wrap/'scontrol').chmod(0o755)
    d = tmp_path/'run'
    job = submit2(cluster2, small, d, 1, 1, '--cpus-per-task=1', env=dict(PATH=f"{wrap}:{os.environ['PATH']}"))
    ev = cluster2.sbatch(REPO/'hpc'/'evaluate.sbatch', f'--dependency=afterok:{job}', '--kill-on-invalid-dep=yes', f'--output={tmp_path}/eval-%j.out',
                         env=dict(CHECKPOINT=str(d/'checkpoints'/'best.pt'), VENV=sys.prefix, ALEXNET_REPO=str(REPO), EVAL_ARGS='--device cpu --workers 0'), cwd=REPO)
    wait_for_file(cluster2, job, d/'checkpoints'/'ckpt_e001_s000002.pt')
    cluster2.run('scancel', '--signal=USR1', '--batch', job)
    info = cluster2.wait(job, states=('FAILED',), fail=('COMPLETED', 'CANCELLED'), timeout=300)
    out = full_output(info)
    assert info['ExitCode'] == '75:0' and 'scontrol requeue failed' in out, out
    e = cluster2.wait(ev, states=('CANCELLED',), fail=('COMPLETED', 'FAILED', 'RUNNING'), timeout=60)
    assert e.get('Reason') == 'DependencyNeverSatisfied' and not list(tmp_path.glob('eval-*.out')), e


def test_array_task_rerun_alone_then_merge_equals_clean(cluster2, small, tmp_path):
    "NUM_SHARDS=2: task 0, then task 1 submitted alone (--array=1, as a rerun of a failed task), then the merge: equal to one clean run."
    dst = tmp_path/'pre'
    env = dict(SRC=str(small/'raw'), DST=str(dst), NUM_SHARDS='2', VENV=sys.prefix, ALEXNET_REPO=str(REPO))
    out = f'--output={tmp_path}/slurm-%x-%A_%a.out'
    t0 = cluster2.sbatch(REPO/'hpc'/'preprocess.sbatch', '--array=0', '--cpus-per-task=1', out, env=env, cwd=REPO)
    t1 = cluster2.sbatch(REPO/'hpc'/'preprocess.sbatch', '--array=1', '--cpus-per-task=1', out, env=env, cwd=REPO)
    m = cluster2.sbatch(REPO/'hpc'/'preprocess_merge.sbatch', f'--dependency=afterok:{t0}:{t1}', '--kill-on-invalid-dep=yes',
                        f'--output={tmp_path}/merge-%j.out', env=env, cwd=REPO)
    cluster2.wait(m, timeout=300)
    assert 'shard 1 of 2' in next(tmp_path.glob(f'slurm-*_1.out')).read_text()
    a = pd.read_csv(small/'pre'/'manifest.csv', keep_default_na=False)
    b = pd.read_csv(dst/'manifest.csv', keep_default_na=False)
    pd.testing.assert_frame_equal(a, b)
    for o in a.output[a.output != '']: assert (small/'pre'/o).read_bytes() == (dst/o).read_bytes(), o


def test_submit_all_end_to_end_equals_local_pipeline(cluster2, small, tmp_path):
    "hpc/submit_all.sh: preprocessing array -> merge -> statistics array -> merge -> training -> evaluation, all afterok; equal to the same commands run directly."
    dst, rd = tmp_path/'pre set', tmp_path/'run dir'
    train_args = ['--preset', 'demo', '--epochs', '1', '--width', '0.0625', '--batch-size', '32', '--device', 'cpu', '--workers', '0']
    env = dict(SRC=str(small/'raw'), DST=str(dst), RUN_DIR=str(rd), PRE_SHARDS='2', STATS_SHARDS='2', CHUNK='64', NPROC_PER_NODE='1',
               PRE_SBATCH='--cpus-per-task=1', STATS_SBATCH='--cpus-per-task=1', TRAIN_SBATCH='--cpus-per-task=1', EVAL_SBATCH='--cpus-per-task=1',
               TRAIN_ARGS=' '.join(train_args), EVAL_ARGS=f"--out {q(rd/'eval')} --device cpu --workers 0 --no-figures",
               VENV=sys.prefix, ALEXNET_REPO=str(REPO), OMP_NUM_THREADS='1')
    p = subprocess.run([*cluster2.prefix, str(REPO/'hpc'/'submit_all.sh')], capture_output=True, text=True, env={**cluster2.env, **env}, cwd=REPO, timeout=60)
    assert p.returncode == 0, p.stderr
    ev = p.stdout.strip().split('evaluation ')[1].split()[0]
    # the same stages run directly, meanwhile (the demo pipeline's commands)
    ref, one = tmp_path/'ref', {'OMP_NUM_THREADS': '1'}                    # one thread, as torchrun gives each process
    run(PY, '-m', 'alexnet_nb.train', '--data', small/'pre', '--run-dir', ref/'run', *train_args, timeout=900, env=one)
    run(BIN/'alexnet_evaluate', ref/'run'/'checkpoints'/'best.pt', '--out', ref/'eval', '--device', 'cpu', '--workers', '0', '--no-figures', timeout=900, env=one)
    info = cluster2.wait(ev, timeout=900)
    assert info['ExitCode'] == '0:0'
    pd.testing.assert_frame_equal(pd.read_csv(small/'pre'/'manifest.csv', keep_default_na=False), pd.read_csv(dst/'manifest.csv', keep_default_na=False))
    s1, s2 = torch.load(small/'pre'/'stats.pt', weights_only=True), torch.load(dst/'stats.pt', weights_only=True)
    for k in ('mean_image', 'eigvals', 'eigvecs'): assert torch.equal(s1[k], s2[k]), k
    assert_equal_weights(rd, ref/'run')
    import json
    m1, m2 = json.loads((rd/'eval'/'metrics.json').read_text()), json.loads((ref/'eval'/'metrics.json').read_text())
    for mode in ('centre', 'ten'): assert m1[mode] == m2[mode], (mode, m1[mode], m2[mode])
