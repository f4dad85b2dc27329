#!/usr/bin/env python
"""Turn a percent-format script (`# %%` code cells, `# %% [markdown]` markdown cells) into a notebook.

An authoring aid only: the notebook in `nbs/` is the source of truth once written.
Usage: python tools/py2nb.py draft.py nbs/01_preprocess.ipynb
"""
import re, sys, nbformat

def py2nb(src:str):
    "Split percent-format text into a list of notebook cells."
    cells, kind, buf = [], None, []
    def flush():
        if kind is None: return
        text = '\n'.join(buf).strip('\n')
        if kind == 'markdown':
            text = '\n'.join(re.sub(r'^# ?', '', l) for l in text.split('\n'))
            cells.append(nbformat.v4.new_markdown_cell(text))
        elif text.strip(): cells.append(nbformat.v4.new_code_cell(text))
    for line in src.split('\n'):
        m = re.match(r'^# %%( \[markdown\])?\s*$', line)
        if m:
            flush(); kind, buf = ('markdown' if m.group(1) else 'code'), []
        else: buf.append(line)
    flush()
    return cells

if __name__ == '__main__':
    src, dst = sys.argv[1], sys.argv[2]
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"display_name": "python3", "language": "python", "name": "python3"}}
    nb.cells = py2nb(open(src).read())
    nbformat.write(nb, dst)
    print(f"wrote {dst}: {len(nb.cells)} cells")
