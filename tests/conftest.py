"""Shared pytest fixtures. `toy_root` makes the small preprocessed roots the tests run on, with the contract's one
toy-root maker (`alexnet_nb.core.make_toy_root`: 256x256 JPEGs, manifest.csv with a failed row, classes.csv and,
by default, stats.pt computed by the real statistics pass)."""
import pytest
from alexnet_nb.core import make_toy_root


@pytest.fixture(scope='session')
def toy_root(tmp_path_factory):
    "Factory: `toy_root({'train': 16, 'val': 8}, n_classes=4, seed=0, stats=True)` -> a fresh root `<tmp>/pre`."
    def make(n=None, n_classes=4, **kw): return make_toy_root(tmp_path_factory.mktemp('toy') / 'pre', n, n_classes, **kw)
    return make
