"""`benchmarks/gpu_check.sh --dry-run`: every step of the one-shot GPU check runs at tiny size on the CPU
and the summary JSON has every step with its result (issue 16). The GPU run itself needs a GPU."""
import json, os, subprocess, sys
from pathlib import Path
import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / 'benchmarks'))


def test_gpu_check_dry_run(tmp_path):
    import gpu_check
    env = {**os.environ, 'GPU_CHECK_TMP': str(tmp_path), 'OMP_NUM_THREADS': '2'}
    p = subprocess.run(['bash', str(REPO / 'benchmarks' / 'gpu_check.sh'), '--dry-run', '--out', str(tmp_path / 'out')],
                       capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    res = json.loads((tmp_path / 'out' / 'gpu_check.json').read_text())
    assert res['dry_run'] is True and res['ok'] is True
    assert set(res['steps']) == set(gpu_check.STEPS)
    for k in gpu_check.STEPS: assert res['steps'][k]['status'] == 'ok', (k, res['steps'][k])
    s = {k: v['result'] for k, v in res['steps'].items()}
    assert s['nbtest_cuda']['cuda_cells_in_nbs'] >= 1
    assert {'fp32', 'bf16 + channels_last'} <= set(s['gpu_train']['synthetic'])
    assert any('GPU decode' in k for k in s['gpu_train']['pipeline']) and any('CPU decode' in k for k in s['gpu_train']['pipeline'])
    assert s['loader_decode']['gpu_decode']['images_per_s'] > 0 and s['loader_decode']['cpu_decode']['images_per_s'] > 0
    assert s['two_tower']['max_abs_diff_eval_fp32'] < 1e-4 and s['two_tower']['two_tower_images_per_s'] > 0
    assert s['evaluate']['fp32']['images_per_s'] > 0
    md = (tmp_path / 'out' / 'gpu_check.md').read_text()
    assert res['machine']['gpu'] in md and all(f'| {k} | ok |' in md for k in gpu_check.STEPS)
    assert not list(tmp_path.glob('tmp*')), 'the work folder was not removed'


def test_gpu_check_refuses_without_cuda(tmp_path):
    import torch
    if torch.cuda.is_available(): pytest.skip('a GPU is present')
    p = subprocess.run(['bash', str(REPO / 'benchmarks' / 'gpu_check.sh'), '--out', str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and p.stderr.strip().startswith('gpu_check.sh: error: CUDA is not available')


def test_scaling_small(tmp_path):
    "`benchmarks/scaling.py` end to end at tiny sizes: every part runs, the record and the tables hold each part's figures."
    md = tmp_path / 'scaling.md'
    p = subprocess.run([sys.executable, str(REPO / 'benchmarks' / 'scaling.py'), '--sizes', '24,48', '--rows', '4000', '--workers', '1',
                        '--out', str(tmp_path / 'out'), '--md', str(md)], capture_output=True, text=True, timeout=600,
                       env={**os.environ, 'OMP_NUM_THREADS': '2'})
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    res = json.loads(md.with_suffix('.json').read_text())
    assert res == json.loads((tmp_path / 'out' / 'scaling.json').read_text())
    ld, mg = res['loader'], res['merge']
    assert ld['rows'] == 4000 and ld['construct_s'] > 0 and all(w['rss_mb'] >= w['private_mb'] > 0 for w in ld['worker_mem'])
    assert mg['rows'] == 4000 and mg['manifest_merge_s'] > 0
    text = md.read_text()
    assert '## Loader at 4,000 rows' in text and '## Merges at 4,000 rows' in text
    if res['sizes']:                                   # needs ../shared/data (skipped cleanly without it)
        assert set(res['sizes']) == {'fixed', '24', '48'} and res['sizes']['24']['preprocess_cpu_rel'] == 1
        assert '| 48 |' in text
    assert (tmp_path / 'out' / 'scaling.png').stat().st_size > 10_000
