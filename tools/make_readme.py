#!/usr/bin/env python
"""Write README.md from the index notebook (`nbs/index.ipynb`), without Quarto (`make readme`).

nbdev makes the README with Quarto (`nbdev_readme`); Quarto cannot be installed everywhere, so
this does the same from nbdev's processed notebook: the front matter becomes a `# title` heading
and a `> description` line, directives and hidden or exported cells are dropped (nbdev's own
processors), markdown cells are copied as they are (less Quarto's `::: {.content-visible
when-format="html"}` blocks, which are for the docs only), code cells that are shown become ```python
blocks, and links to pages of the site (`preprocess.html`) point at the published docs. Outputs
are not executed: notebooks are committed without outputs, so the README stays the same on every
machine.

`--check` writes nothing: it exits with status 1 and a diff when README.md is out of date (CI).
Usage: python tools/make_readme.py [--check] [--nb nbs/index.ipynb] [--out README.md]
"""
from __future__ import annotations
import argparse, difflib, re, sys, warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_docs import get_cfg, fix_frontmatter, frontmatter, cell_options, src_text, _falsy   # noqa: E402

def readme_procs():
    "nbdev's docs processors minus the ones that make the README depend on the whole package: doc links, show_doc runs."
    from nbdev.processors import FilterDefaults, add_links, exec_show_docs
    return [p for p in FilterDefaults().procs() if p not in (add_links, exec_show_docs)]

def _link(url:str, site:str, nbs_rel:str, nb_pages:dict) -> str:
    "A relative link as it must read on GitHub: site pages on the published docs, files under nbs/."
    if re.match(r'^[a-z]+:|^#|^/', url): return url
    path, frag = (url.split('#', 1) + [''])[:2]
    frag = f'#{frag}' if frag else ''
    if path.endswith('.ipynb') and path in nb_pages: path = nb_pages[path]
    if path.endswith('.html'): return f'{site}/{path}{frag}' if site else f'{nbs_rel}/{path}{frag}'
    return f'{nbs_rel}/{path}{frag}'

def rewrite_links(md:str, site:str, nbs_rel:str, nb_pages:dict) -> str:
    "Rewrite markdown and HTML links outside code blocks and code spans."
    def fix(text):
        text = re.sub(r'(\]\()([^)\s]+)(\))', lambda m: m.group(1) + _link(m.group(2), site, nbs_rel, nb_pages) + m.group(3), text)
        text = re.sub(r'((?:href|src)=")([^"]+)(")', lambda m: m.group(1) + _link(m.group(2), site, nbs_rel, nb_pages) + m.group(3), text)
        return re.sub(r'(\]\([^)\s]+\))\{[^}\n]*\}', r'\1', text)         # pandoc attributes GitHub would show
    out, fenced = [], False
    for line in md.split('\n'):
        if re.match(r'^\s*(```|~~~)', line): fenced = not fenced; out.append(line); continue
        if fenced: out.append(line); continue
        parts = re.split(r'(`+[^`]*`+)', line)                             # leave code spans alone
        out.append(''.join(p if i % 2 else fix(p) for i, p in enumerate(parts)))
    return '\n'.join(out)

def conditional_content(md:str) -> str:
    "Quarto's `::: {.content-visible when-format=\"html\"}` blocks (docs only) left out, callouts as GitHub alerts, other `:::` unwrapped."
    from build_docs import FENCE_RE, format_visible
    out, stack = [], []
    for line in md.split('\n'):
        m = FENCE_RE.match(line)
        if m and m.group(2): stack.append((m.group(2), out)); out = []
        elif m and stack:
            spec, outer = stack.pop()
            kind = re.search(r'\.callout-(note|tip|important|warning|caution)\b', spec)
            if kind: out = [f'> [!{kind.group(1).upper()}]'] + [f'> {l}'.rstrip() for l in out]   # GitHub's alerts
            out = outer + (out if format_visible(spec, 'markdown') else [])
        else: out.append(line)
    while stack: spec, outer = stack.pop(); out = outer + out
    return '\n'.join(out)

def output_md(o) -> str:
    "A stored cell output as markdown (text only; images are left out of the README)."
    if o.get('output_type') == 'stream': return f"```\n{src_text(o.get('text')).rstrip()}\n```"
    data = o.get('data', {})
    if 'text/markdown' in data: return src_text(data['text/markdown']).strip()
    if 'text/plain' in data and not any(k.startswith('image/') for k in data):
        return f"```\n{src_text(data['text/plain']).rstrip()}\n```"
    return ''

def make_readme(nb_path:Path|None=None) -> str:
    "The README text for the index notebook."
    from execnb.nbio import read_nb
    from nbdev.process import NBProcessor
    from nbdev.doclinks import _nbpath2html
    cfg = get_cfg()
    nb_path = Path(nb_path or cfg.nbs_path/cfg.get('readme_nb', 'index.ipynb'))
    if not nb_path.exists(): sys.exit(f'make_readme: {nb_path} not found: the README is made from it')
    nb = read_nb(nb_path)
    fix_frontmatter(nb)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        NBProcessor(nb=nb, procs=readme_procs()).process()
    fm = frontmatter(nb)
    site = (cfg.get('doc_host', '') + cfg.get('doc_baseurl', '')).rstrip('/')
    nbs_rel = cfg.nbs_path.relative_to(cfg.config_path).as_posix()
    nb_pages = {p.name: _nbpath2html(p).name for p in cfg.nbs_path.glob('*.ipynb')}
    rel = nb_path.resolve().relative_to(cfg.config_path).as_posix()
    blocks = [f"# {fm.get('title') or cfg.get('title') or cfg.lib_name}",
              f'<!-- WARNING: THIS FILE WAS AUTOGENERATED from {rel} by tools/make_readme.py! DO NOT EDIT! -->']
    if fm.get('description'): blocks.append(f"> {fm['description']}")
    for c in nb.cells:
        s = src_text(c.get('source'))
        if c.cell_type == 'raw' or not s.strip(): continue
        if c.cell_type == 'markdown':
            if s.strip().startswith('<!-- WARNING: THIS FILE WAS AUTOGENERATED'): continue
            s = conditional_content(s).strip()
            if s: blocks.append(s)
            continue
        opts, code = cell_options(s)
        if _falsy(opts.get('include', 'true')): continue
        if code.strip() and not _falsy(opts.get('echo', 'true')): blocks.append(f'```python\n{code}\n```')
        if not _falsy(opts.get('output', 'true')):
            blocks += [t for t in (output_md(o) for o in c.get('outputs', [])) if t]
    text = rewrite_links('\n\n'.join(blocks), site, nbs_rel, nb_pages)
    return re.sub(r'\n{3,}', '\n\n', text).strip() + '\n'

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split('\n', 2)[2])
    ap.add_argument('--check', action='store_true', help='exit 1 with a diff if README.md is out of date; write nothing')
    ap.add_argument('--nb', default=None, help='the notebook (default: readme_nb from settings.ini, else nbs/index.ipynb)')
    ap.add_argument('--out', default=None, help='the README file (default: README.md beside settings.ini)')
    a = ap.parse_args(argv)
    cfg = get_cfg()
    out = Path(a.out) if a.out else cfg.config_path/'README.md'
    new = make_readme(a.nb)
    old = out.read_text(encoding='utf-8') if out.exists() else ''
    if a.check:
        if new == old: print(f'{out.name} is in sync with the index notebook'); return 0
        sys.stdout.writelines(difflib.unified_diff(old.splitlines(True), new.splitlines(True),
                                                   f'{out.name} (committed)', f'{out.name} (from the notebook)'))
        print(f'\n{out} is out of date: run `make readme` (python tools/make_readme.py) and commit it.', file=sys.stderr)
        return 1
    if new != old:
        tmp = out.with_name(f'.{out.name}.tmp'); tmp.write_text(new, encoding='utf-8'); tmp.replace(out)
        print(f'wrote {out}')
    else: print(f'{out} unchanged')
    return 0

if __name__ == '__main__': sys.exit(main())
