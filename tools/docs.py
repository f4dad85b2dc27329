#!/usr/bin/env python
"""Run every notebook once as a test and render the executed notebooks as the docs site (`make docs`).

Each notebook in nbs/ runs in its own process as `nbdev_test` runs it (execnb, working folder nbs/,
cells flagged with settings.ini's `tst_flags` skipped unless `--flags` names them) with nbdev's
show_doc cells added; a failing cell fails the run as it fails `nbdev_test`. The executed copies
go to build/executed/, nbdev's docs processors prepare them and nbconvert's HTMLExporter renders
them with the template in tools/docs/ into docs/: a sidebar in notebook order, KaTeX from Debian's
libjs-katex (served with the site), figures embedded. `--no-exec` renders the last executed copies.
On GitHub, `nbdev_docs` (Quarto) builds the published site instead.
Usage: python tools/docs.py [--flags slow] [--path nbs/04_model.ipynb] [--no-exec] [--out docs]
"""
import argparse, os, re, shutil, sys, time
from pathlib import Path
from execnb.nbio import read_nb, write_nb
from execnb.shell import CaptureShell
from fastcore.basics import str2bool
from fastcore.parallel import parallel
from fastcore.xtras import working_directory
from nbdev.config import get_config
from nbdev.doclinks import nbglob
from nbdev.frontmatter import FrontmatterProc
from nbdev.process import NBProcessor, extract_directives, nb_lang
from nbdev.processors import FilterDefaults, add_show_docs, exec_show_docs

TEMPLATES = Path(__file__).resolve().parent/'docs'
KATEX = Path(os.environ.get('KATEX_DIR', '/usr/share/javascript/katex'))      # Debian's libjs-katex
ATTRS = re.compile(r'(\]\([^)\s]*\))\{[^}\n]*\}|^(#{1,6} .*?)\s*\{[^}\n]*\}[ \t]*$|^:::.*$', re.M)  # pandoc attributes, ::: fences

def notebooks(cfg) -> list[Path]:
    "The notebooks nbdev documents: index first, then in file order."
    return sorted(nbglob(cfg.nbs_path, as_path=True), key=lambda p: (p.stem != 'index', p.as_posix()))

def page_of(fn:Path) -> str:
    "The page nbdev makes of notebook `fn` (its front matter's `output-file`)."
    return NBProcessor(fn, procs=FrontmatterProc, process=True).nb.frontmatter_.get('output-file', f'{fn.stem}.html')

def cell_options(c) -> dict:
    "A processed code cell's directives and Quarto options (`#| echo: false` -> {'echo': 'false'}), taken out of its source."
    return {k.rstrip(':'): ' '.join(v) for k, v in {**(c.get('directives_') or {}), **extract_directives(c)}.items()}

def skipped(flags:set):
    "nbdev_test's rule for the cells it does not run: not code, `nbdev_export()`, `#| eval: false`, a flag in `flags`."
    def no_eval(cell):
        if cell.cell_type != 'code' or 'nbdev_export' + '(' in cell.source: return True
        d = getattr(cell, 'directives_', {}) or {}
        return d.get('eval:', [''])[0].lower() == 'false' or bool(flags & d.keys())
    return no_eval

def execute(job:tuple, flags:set) -> tuple[bool, float]:
    "Run notebook `fn` (`job` is `(fn, out)`) as `nbdev_test` does, show_doc cells included; write it with outputs to `out`."
    (fn, out), _ = job, os.environ.update(IN_TEST='1')
    nb, t0 = read_nb(fn), time.time()
    NBProcessor(nb=nb, procs=[FrontmatterProc, add_show_docs], rm_directives=False).process()
    ok = True
    if not str2bool(nb.frontmatter_.get('skip_exec', False)) and nb_lang(nb) == 'python':
        k = CaptureShell(fn)
        k.run('from nbdev.showdoc import show_doc')
        try:
            with working_directory(fn.parent): k.run_all(nb, exc_stop=True, preproc=skipped(flags))
        except Exception: sys.stderr.write(k.prettytb(fname=fn) + '\n'); ok = False
    out.parent.mkdir(parents=True, exist_ok=True)
    write_nb(nb, out)
    return ok, time.time() - t0

def prepare(nb) -> dict:
    "nbdev's docs processing (less the show_doc steps, which ran with the notebook), then Quarto's cell options applied; returns the front matter."
    NBProcessor(nb=nb, procs=[p for p in FilterDefaults().procs() if p not in (add_show_docs, exec_show_docs)]).process()
    cells = []
    for c in nb.cells:
        if c.cell_type == 'markdown': c.source = ATTRS.sub(r'\1\2', c.source)
        if c.cell_type != 'code': cells += [c] if c.cell_type == 'markdown' else []; continue   # raw: the front matter
        d = cell_options(c)
        if d.get('include') == 'false': continue
        if d.get('echo') == 'false': c.metadata.setdefault('transient', {})['remove_source'] = True
        if d.get('output') == 'false': c.outputs = []
        for o in c.get('outputs', []):
            if d.get('output') == 'asis' and o.output_type == 'stream':        # printed markdown, as Quarto shows it
                o.update(output_type='display_data', data={'text/markdown': ''.join(o.pop('text'))}, metadata={}); o.pop('name', None)
            md = o.get('data', {}).get('text/markdown')
            if md: o.data['text/markdown'] = ATTRS.sub(r'\1\2', ''.join(md))
        cells.append(c)
    nb.cells = cells
    return nb.frontmatter_

def copy_katex(out:Path) -> bool:
    "KaTeX (js, css, auto-render, the woff2 fonts) into `out/katex`, from libjs-katex; False where it is missing."
    if not (KATEX/'katex.min.js').exists(): return False
    (out/'katex'/'fonts').mkdir(parents=True, exist_ok=True)
    for f in ['katex.min.js', 'contrib/auto-render.js', *(f'fonts/{p.name}' for p in (KATEX/'fonts').glob('*.woff2'))]:
        shutil.copyfile(KATEX/f, out/'katex'/Path(f).name if f.startswith('contrib') else out/'katex'/f)
    css = (KATEX/'katex.min.css').read_text()                                   # woff2 only: no request for a missing file
    (out/'katex'/'katex.min.css').write_text(re.sub(r',\s*url\([^)]+\.(?:woff|ttf)\)\s*format\("\w+"\)', '', css))
    return True

def render(cfg, executed:Path, out:Path) -> int:
    "Every (executed) notebook as a page of the site in `out`; returns the number of pages."
    from nbconvert import HTMLExporter
    pages = []
    for fn in notebooks(cfg):
        rel = fn.relative_to(cfg.nbs_path)
        nb = read_nb(executed/rel if (executed/rel).exists() else fn)
        fm = prepare(nb)
        pages.append(dict(nb=nb, rel=rel, href=(rel.parent/fm.get('output-file', f'{rel.stem}.html')).as_posix(),
                          title=str(fm.get('title', rel.stem)), description=str(fm.get('description', ''))))
    tmp = out.with_name(out.name + '.tmp')
    shutil.rmtree(tmp, ignore_errors=True); tmp.mkdir(parents=True)
    katex = copy_katex(tmp)
    if not katex: print('docs: WARNING: no libjs-katex (apt-get install libjs-katex): maths loads from a CDN', file=sys.stderr)
    for f in ('site.css', 'favicon.svg'): shutil.copyfile(TEMPLATES/f, tmp/f)
    ex = HTMLExporter(template_name='site', extra_template_basedirs=[str(TEMPLATES)], embed_images=True)
    site_url = (cfg.get('doc_host', '') + cfg.get('doc_baseurl', '')).rstrip('/') + '/'
    links = {p['rel'].name: p['href'] for p in pages}
    for p in pages:
        root = '../' * p['href'].count('/')
        title = p['title'] if p['title'] == cfg.get('title') else f"{p['title']} – {cfg.get('title', cfg.lib_name)}"
        res = dict(metadata=dict(name=title, path=str(cfg.nbs_path/p['rel'].parent)),
                   site=dict(title=cfg.get('title', cfg.lib_name), pages=pages, page=p, root=root, katex=katex,
                             git_url=cfg.get('git_url', ''), branch=cfg.get('branch', 'main')))
        html, _ = ex.from_notebook_node(p['nb'], resources=res)
        html = html.replace(f'href="{site_url}', f'href="{root}')                 # nbdev's doc links: to this copy
        html = re.sub(r'((?:id="|href="[^"#:]*#))([^"]+)"', lambda m: m[1] + m[2].lower() + '"', html)   # ids as pandoc's: lower case
        html = re.sub(r'href="([^":#]+\.ipynb)', lambda m: f'href="{root}{links.get(Path(m[1]).name, m[1])}', html)
        (tmp/p['href']).parent.mkdir(parents=True, exist_ok=True)
        (tmp/p['href']).write_text(html, encoding='utf-8')
    shutil.rmtree(out, ignore_errors=True); tmp.rename(out)
    return len(pages)

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0], epilog=__doc__.split('\n', 2)[2],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--flags', default='', help='space-separated tst_flags to run anyway, e.g. "slow"')
    ap.add_argument('--path', default=None, help='execute only these notebooks (a name or glob); the others are rendered as last executed')
    ap.add_argument('--no-exec', action='store_true', help='render the last executed copies (or nbs/ itself): to work on the look')
    ap.add_argument('--n-workers', type=int, default=None, help="notebooks run at once (default: nbdev_test's, min(cpus, 8))")
    ap.add_argument('--out', default=None, help='the site folder (default: doc_path in settings.ini)')
    a = ap.parse_args(argv)
    cfg, t0 = get_config(), time.time()
    executed = cfg.config_path/'build'/'executed'
    if not a.no_exec:
        files = [Path(f).resolve() for f in (sorted(nbglob(a.path, as_path=True)) if a.path else notebooks(cfg))]
        flags = set(cfg.tst_flags.split()) - set(a.flags.split())
        n = a.n_workers if a.n_workers is not None else (0 if len(files) == 1 else min(os.cpu_count() or 1, 8))
        outs = [executed/f.relative_to(cfg.nbs_path) for f in files]
        sys.path.insert(0, str(cfg.config_path))
        with working_directory(cfg.nbs_path):
            from docs import execute as run         # by its module's name: the worker processes unpickle it
            res = parallel(run, list(zip(files, outs)), flags=flags, n_workers=n)
        for f, (ok, dt) in zip(files, res): print(f'  {f.name:<28} {dt:6.1f} s{"" if ok else "  FAILED"}')
        failed = [f.name for f, (ok, _) in zip(files, res) if not ok]
        if failed: sys.exit('docs: these notebooks failed (as nbdev_test would): ' + ', '.join(failed))
    n = render(cfg, executed, Path(a.out).resolve() if a.out else cfg.doc_path)
    print(f'docs: {n} pages in {a.out or cfg.doc_path} ({time.time() - t0:.0f} s)')

if __name__ == '__main__': main()
