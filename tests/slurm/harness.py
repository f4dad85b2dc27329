"A single-node SLURM for tests: start it with `tests/slurm/start.sh`, submit jobs, watch them, stop it."
from __future__ import annotations
import os, shutil, subprocess, time
from pathlib import Path

HERE = Path(__file__).resolve().parent
APT = 'apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge'
BINARIES = ('munged', 'slurmctld', 'slurmd', 'sbatch', 'scontrol', 'squeue', 'scancel', 'sinfo')

def missing_reason()->str|None:
    "Why a SLURM cannot be started here (None if it can)."
    path = os.environ.get('PATH', '') + ':/usr/sbin:/sbin'
    miss = [b for b in BINARIES if shutil.which(b, path=path) is None]
    if miss: return f"SLURM is not installed ({', '.join(miss)} missing): on Debian 12, as root: {APT}"
    if os.geteuid() != 0: return "the test SLURM runs its daemons as root (SlurmUser=root); run the SLURM tests as root"
    return None

NEVER = ('BadConstraints', 'PartitionConfig', 'PartitionNodeLimit', 'PartitionTimeLimit', 'DependencyNeverSatisfied', 'InvalidAccount', 'InvalidQOS')

class Slurm:
    "A running single-node cluster under `root`; `env` holds SLURM_CONF for client commands."
    def __init__(self, root:str|Path):
        self.root = Path(root); self.root.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, 'PATH': os.environ.get('PATH', '') + ':/usr/sbin:/sbin', 'SLURM_CONF': str(self.root/'slurm.conf')}

    def start(self):
        r = subprocess.run([str(HERE/'start.sh'), str(self.root)], capture_output=True, text=True, env=self.env, timeout=120)
        if r.returncode: raise RuntimeError(f"tests/slurm/start.sh failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
        return self

    def stop(self):
        subprocess.run([str(HERE/'stop.sh'), str(self.root)], capture_output=True, text=True, env=self.env, timeout=120)

    def __enter__(self): return self.start()
    def __exit__(self, *a): self.stop()

    def run(self, *cmd, check=True, **kw)->str:
        "Run a SLURM client command against this cluster; returns stdout."
        r = subprocess.run(list(cmd), capture_output=True, text=True, env={**self.env, **kw.pop('env', {})}, timeout=60, **kw)
        if check and r.returncode: raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr}{r.stdout}")
        return r.stdout

    def sbatch(self, script, *opts, env:dict|None=None, cwd=None)->str:
        "Submit `script` with sbatch options `opts` and extra environment `env`; returns the job id."
        out = self.run('sbatch', '--parsable', *opts, str(script), env=env or {}, cwd=cwd)
        return out.strip().split(';')[0]

    def job(self, jobid:str)->dict:
        "`scontrol show job` as a dict (for an array, its first task); {} once SLURM has forgotten the job."
        out = self.run('scontrol', '-o', 'show', 'job', str(jobid), check=False)
        line = out.strip().splitlines()[0] if out.strip() else ''
        d = {}
        for tok in line.split():
            k, _, v = tok.partition('=')
            if k and k not in d: d[k] = v
        return d

    def jobs(self, jobid:str)->list:
        "Every task of an array job (or the job) as dicts."
        out = self.run('scontrol', '-o', 'show', 'job', str(jobid), check=False)
        return [dict(t.partition('=')[::2] for t in l.split()) for l in out.strip().splitlines() if l.strip()]

    def wait(self, jobid:str, states=('COMPLETED',), timeout:float=180, poll:float=0.5, fail=('FAILED', 'CANCELLED', 'TIMEOUT', 'NODE_FAIL', 'OUT_OF_MEMORY', 'BOOT_FAIL', 'DEADLINE'))->dict:
        "Wait until every task of `jobid` is in one of `states`; raise on a failure state or timeout (with the log)."
        t0, last = time.time(), []
        while time.time() - t0 < timeout:
            last = self.jobs(jobid)
            st = [j.get('JobState') for j in last]
            if last and all(s in states for s in st): return last[0]
            bad = [j for j in last if j.get('JobState') in fail and j.get('JobState') not in states]
            bad += [j for j in last if j.get('JobState') == 'PENDING' and j.get('Reason') in NEVER]
            if bad: raise RuntimeError(f"job {jobid}: {bad[0].get('JobState')} ({bad[0].get('Reason')}, exit {bad[0].get('ExitCode')}):\n{self.output(bad[0])}")
            time.sleep(poll)
        raise TimeoutError(f"job {jobid} not {states} after {timeout:.0f} s: {[j.get('JobState') for j in last]}\n" +
                           '\n'.join(self.output(j) for j in last[:1]))

    def wait_idle(self, timeout:float=60):
        "Wait until the node is idle: no job running and the last one's steps and epilog are done."
        t0 = time.time()
        while time.time() - t0 < timeout:
            if self.run('sinfo', '-h', '-N', '-o', '%t', check=False).strip().startswith('idle'): return
            time.sleep(0.2)
        raise TimeoutError(f"node not idle after {timeout:.0f} s:\n{self.run('sinfo', '-N', check=False)}")

    def start_now(self, jobid:str):
        "Start a requeued job at once (SLURM holds it for about 2 minutes), once its old run has been cleaned up."
        self.wait_idle(); time.sleep(1)   # a relaunch while the old steps finish gets "Job credential revoked"
        self.run('scontrol', 'update', f'JobId={jobid}', 'StartTime=now')

    def output(self, job:dict)->str:
        "The tail of a job's output file."
        p = Path(job.get('StdOut', ''))
        return p.read_text(errors='replace')[-6000:] if p.is_file() else f'(no output file {p})'

    def logs(self)->str:
        "The tails of the daemons' logs (for failure messages)."
        return '\n'.join(f'--- {p.name}\n' + p.read_text(errors='replace')[-2000:] for p in sorted((self.root/'log').glob('*')) if p.is_file())


class Slurm2(Slurm):
    """A two-node cluster in network namespaces (tests/slurm/start2.sh): node1 and node2, partitions
    `low` (default, preemptible) and `high`. Client commands run in the controller's namespace (`prefix`)."""
    def __init__(self, root:str|Path):
        super().__init__(root); self.prefix = []

    def start(self):
        r = subprocess.run([str(HERE/'start2.sh'), str(self.root)], capture_output=True, text=True, env=self.env, timeout=120)
        if r.returncode == 3: raise Unavailable(r.stderr.strip())
        if r.returncode: self.stop(); raise RuntimeError(f"tests/slurm/start2.sh failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
        ns = dict(l.split(' ', 1)[1].split('=', 1) for l in r.stdout.splitlines() if l.startswith('export '))['ALEXNET_TEST_NETNS']
        self.prefix = ['nsenter', f'--net=/run/netns/{ns}']
        return self

    def run(self, *cmd, check=True, **kw)->str:
        return super().run(*self.prefix, *cmd, check=check, **kw)

    def wait_idle(self, timeout:float=60):
        "Wait until both nodes are idle."
        t0 = time.time()
        while time.time() - t0 < timeout:
            st = set(self.run('sinfo', '-h', '-N', '-p', 'low', '-o', '%t', check=False).split())
            if st == {'idle'}: return
            time.sleep(0.2)
        raise TimeoutError(f"nodes not idle after {timeout:.0f} s:\n{self.run('sinfo', '-N', check=False)}")


class Unavailable(RuntimeError):
    "What the machine lacks for a test cluster (network namespaces, root, SLURM)."
