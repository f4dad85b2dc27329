"""No walls (issue 15): in every notebook no cell is over 60 lines and no exported function is over 60 lines; the check reads the notebooks as JSON (no execution, < 1 s)."""
import ast, json
from pathlib import Path
import pytest

NBS = Path(__file__).resolve().parent.parent/'nbs'
WALL_FREE = sorted(p.name for p in NBS.glob('*.ipynb'))
LIMIT = 60

def walls(nb:Path)->list[str]:
    "Cells over LIMIT lines and exported functions over LIMIT lines, as 'what (lines)'."
    out = []
    for i, c in enumerate(json.loads(nb.read_text())['cells']):
        src = ''.join(c['source']); lines = src.splitlines()
        if len(lines) > LIMIT: out.append(f'cell {i} ({len(lines)} lines)')
        if c['cell_type'] == 'code' and '#| export' in src:
            tree = ast.parse('\n'.join(l for l in lines if not l.startswith(('#|', '%', '!'))))
            out += [f'{n.name} ({n.end_lineno - n.lineno + 1} lines)' for n in ast.walk(tree)
                    if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno + 1 > LIMIT]
    return out

@pytest.mark.parametrize('name', WALL_FREE)
def test_no_walls(name):
    assert walls(NBS/name) == [], f'{name}: split these (at most {LIMIT} lines each)'
