"""`alexnet_train` with its dropout masks recorded, replaced or replayed (used by tests/test_train.py).

Run it like `python -m alexnet_nb.train` (same arguments), alone or under torchrun / SLURM variables, with
`ALEXNET_TEST_MASKS` set to one of:
- `record:DIR`: train normally and save this rank's masks, one (fc6, fc7) pair per step, to DIR/masks_rank{R}.pt;
- `forced`: every rank takes its rows of ONE global mask per step, drawn from a generator seeded with the step,
  so one process with batch B and W processes with B/W each drop exactly the same units of the same images;
- `replay:DIR`: one process uses, at each step, the masks recorded in DIR by the ranks, stacked in rank order
  (rank r holds rows r*B/W..(r+1)*B/W-1 of the global batch).
"""
import os, sys
from pathlib import Path
import torch
import alexnet_nb.train as T

MODE, _, DIR = os.environ['ALEXNET_TEST_MASKS'].partition(':')
real, calls = T.dropout_masks, []


def rank_world():
    import torch.distributed as dist
    return (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)


def recorded(model, batch, gen, device):
    m = real(model, batch, gen, device)
    calls.append(tuple(t.detach().cpu().clone() for t in m))
    return m


def forced(model, batch, gen, device):
    r, w = rank_world(); p, f = model.config.dropout, model.fc6.out_features
    g = torch.Generator().manual_seed(len(calls)); calls.append(None)
    full = [torch.empty(batch * w, f).bernoulli_(1 - p, generator=g).div_(1 - p) for _ in range(2)]
    return tuple(m[r * batch:(r + 1) * batch].to(device) for m in full)


def replayed(model, batch, gen, device):
    ranks = replayed.ranks
    i = len(calls); calls.append(None)
    out = tuple(torch.cat([rk[i][j] for rk in ranks]).to(device) for j in range(2))
    assert len(out[0]) == batch, (len(out[0]), batch)
    return out


if MODE == 'replay':
    files = sorted(Path(DIR).glob('masks_rank*.pt'))
    replayed.ranks = [torch.load(f, weights_only=True) for f in files]
T.dropout_masks = {'record': recorded, 'forced': forced, 'replay': replayed}[MODE]
sys.argv[0] = 'alexnet_train'
rank = int(os.environ.get('RANK', os.environ.get('SLURM_PROCID', 0)))
try: rc = T.main()
finally:
    if MODE == 'record': torch.save(calls, Path(DIR)/f'masks_rank{rank}.pt')
sys.exit(rc)
