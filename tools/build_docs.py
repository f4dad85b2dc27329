#!/usr/bin/env python
"""Build the documentation site into `docs/` (`make docs`).

The notebooks in `nbs/` are committed without outputs, so the build first EXECUTES a copy of each
one with nbdev's executor (execnb), into `build/docs_nbs/`; `nbs/` itself is never written. As in
`nbdev_test`, cells flagged with a `tst_flags` directive (`#| slow`, `#| cuda`, `#| notest`) are
not run unless `--flags` names them; they are shown with a note saying so. Each notebook runs in
its own process with `nbs/` as its working folder, exactly as `nbdev_test` runs it.

nbdev's `show_doc` cells are added to each copy before it runs (where `nbdev_proc_nbs` would add
them), so they run in the notebook's own session: plain nbdev re-runs every cell holding an import
in a fresh shell, which fails for a cell that also uses earlier results. A front matter cell
written as markdown (or as invalid YAML) is made a raw YAML cell in the copy, with a warning.

nbdev then processes the executed copies into `_proc/` (links, hidden and exported cells, front
matter, directives), and the site is rendered:

- with Quarto where a real `quarto` is on PATH: the steps of `nbdev_docs` (its `_quarto.yml`,
  `nbdev.yml` and sidebar, then `quarto render`), pointed at the executed copies. `nbdev_docs`
  itself is not called because it would render the un-executed `nbs/`, write `nbs/_quarto.yml`
  and overwrite README.md (README.md comes from `tools/make_readme.py`);
- otherwise with a Quarto-free renderer: static HTML pages with a navigation bar linking every
  page, KaTeX math (copied into `docs/` from Debian's `libjs-katex` or npm's `katex`, so the site
  works offline), pygments-highlighted code, the `show_doc` tables and embedded figures.

Usage: python tools/build_docs.py [--flags slow] [--renderer auto|quarto|html] [--allow-errors]
A cell that raises stops the build (as `nbdev_test` fails) unless --allow-errors is given.
"""
from __future__ import annotations
import argparse, base64, html, os, re, shutil, subprocess, sys, time, warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ASSETS = HERE/'docs'                                  # page template, CSS, JS, favicon
KATEX_VERSION = '0.16'                                # npm fallback; Debian bookworm ships 0.16.4
FM_RE = re.compile(r'^\s*---\s*\n(.*?\S.*?)\n---\s*$', re.DOTALL)
DIRECTIVE_RE = re.compile(r'^\s*#\s*\|')

# ---------------------------------------------------------------------------------------------
# Notebooks: which, in what order, and their front matter
# ---------------------------------------------------------------------------------------------
def get_cfg():
    "nbdev's config for the project that holds the current folder."
    from nbdev.config import get_config
    return get_config()

def nb_order(rel:Path):
    "Sort key: `index` first, then by path (so 01..08 then 90)."
    return (0 if rel.stem == 'index' else 1, rel.as_posix())

def list_notebooks(nbs:Path) -> list[Path]:
    "The notebooks nbdev would render, relative to `nbs`, in site order."
    from nbdev.doclinks import nbglob
    files = [Path(p).relative_to(nbs) for p in nbglob(nbs, skip_folder_re=r'(?:^[_.]|^www$)')]
    return sorted(files, key=nb_order)

def src_text(x) -> str: return ''.join(x) if isinstance(x, list) else (x or '')

def parse_fm(text:str) -> tuple[dict|None, bool]:
    "The front matter in `text` (`---` YAML `---`) and whether it was valid YAML; `(None, False)` if none."
    import yaml
    m = FM_RE.match(text)
    if not m: return None, False
    try:
        d = yaml.safe_load(m.group(1))
        if isinstance(d, dict): return d, True
    except yaml.YAMLError: pass
    # not YAML, e.g. an unquoted value holding ': ': read it as one `key: value` per line
    d = {}
    for line in m.group(1).split('\n'):
        kv = re.match(r'^([\w-]+):\s*(.*?)\s*$', line)
        if not kv: return None, False
        try: v = yaml.safe_load(kv.group(2))
        except yaml.YAMLError: v = kv.group(2)
        d[kv.group(1)] = v if isinstance(v, (str, int, float, bool)) or v is None else kv.group(2)
    return (d or None), False

def _fm_cell(nb):
    "The first non-empty cell if it holds front matter (raw, or a markdown cell that is only front matter)."
    for c in nb['cells']:
        if not src_text(c.get('source')).strip(): continue
        return c if c['cell_type'] in ('raw', 'markdown') and parse_fm(src_text(c['source']))[0] else None
    return None

def frontmatter(nb) -> dict:
    "The front matter of a notebook as a dict ({} if it has none)."
    c = _fm_cell(nb)
    return parse_fm(src_text(c['source']))[0] if c else {}

def fix_frontmatter(nb) -> str:
    "Make the front matter a raw cell of valid YAML, which nbdev and Quarto read; returns what was wrong ('' if nothing)."
    import yaml
    c = _fm_cell(nb)
    if not c: return ''
    d, valid = parse_fm(src_text(c['source']))
    problems = []
    if c['cell_type'] == 'markdown':
        c['cell_type'] = 'raw'; c.pop('attachments', None); c.pop('outputs', None); c.pop('execution_count', None)
    if not valid:
        c['source'] = '---\n' + yaml.safe_dump(d, allow_unicode=True, sort_keys=False, width=1000) + '---'
        problems.append("the front matter is not valid YAML (quote a value that contains ': ')")
    return '; '.join(problems)

def page_name(rel:Path, fm:dict) -> str:
    "The page a notebook becomes: its `output-file`, else nbdev's name (`01_preprocess` -> `preprocess.html`)."
    from nbdev.doclinks import _nbpath2html
    if fm.get('output-file'): return (rel.parent/fm['output-file']).as_posix()
    return _nbpath2html(rel).as_posix()

# ---------------------------------------------------------------------------------------------
# Step 1: execute a copy of each notebook
# ---------------------------------------------------------------------------------------------
def _exec_one(src:Path, dst:Path, flags:list[str], allow_errors:bool) -> int:
    "Execute notebook `src` (working folder: its own) and write it with outputs to `dst`; run in a child process."
    from execnb.nbio import read_nb, write_nb
    from execnb.shell import CaptureShell
    from nbdev.process import NBProcessor, nb_lang
    from fastcore.xtras import working_directory
    cfg = get_cfg()
    skip = set(cfg.get('tst_flags', '').split()) - set(flags)
    nb = read_nb(src)
    fix_frontmatter(nb)
    fm = frontmatter(nb)
    # nbdev's show_doc cells go in now (after each exported cell, as `nbdev_proc_nbs` would add them)
    # and run in the notebook's own session: nbdev would otherwise re-run every cell holding an
    # import in a fresh shell, which fails for cells that also use earlier results
    from nbdev.processors import add_show_docs
    NBProcessor(nb=nb, procs=[add_show_docs], rm_directives=False).process()
    skip_all = str(fm.get('skip_exec', False)).lower() in ('true', '1', 'yes') or nb_lang(nb) != 'python'
    def _no_eval(cell):
        if cell.cell_type != 'code': return True
        if 'nbdev_export' + '(' in cell.source: return True
        d = getattr(cell, 'directives_', {}) or {}
        if d.get('eval:', [''])[0].lower() == 'false': return True
        hit = sorted(skip & d.keys())
        if hit or skip_all:
            cell.metadata['docs_not_run'] = ' '.join(hit) or 'skip_exec'
            return True
        return False
    dst.parent.mkdir(parents=True, exist_ok=True)
    if skip_all:
        for c in nb.cells: _no_eval(c)
        write_nb(nb, dst); return 0
    k = CaptureShell(src)
    k.run('from nbdev.showdoc import show_doc')
    rc = 0
    try:
        with working_directory(src.parent): k.run_all(nb, exc_stop=not allow_errors, preproc=_no_eval)
    except BaseException:
        sys.stderr.write(k.prettytb(fname=src) + '\n'); rc = 1
    nb.metadata['docs_executed'] = True                   # its show_doc cells ran: nbdev need not run them again
    write_nb(nb, dst)
    return rc

def execute_notebooks(nbs:Path, rels:list[Path], dst:Path, flags, allow_errors, jobs, timeout) -> None:
    "Execute every notebook in `rels` into `dst`, `jobs` at a time, each in a fresh Python process."
    def run(rel):
        t = time.time()
        cmd = [sys.executable, str(Path(__file__).resolve()), '--_exec-one', str(nbs/rel), str(dst/rel),
               '--flags', *flags] + (['--allow-errors'] if allow_errors else [])
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
            return rel, p.returncode, p.stderr, time.time() - t
        except subprocess.TimeoutExpired:
            return rel, 124, f'timed out after {timeout} s (raise --timeout)', time.time() - t
    failed = []
    with ThreadPoolExecutor(max(1, jobs)) as ex:
        for rel, rc, err, dt in ex.map(run, rels):
            print(f'  executed {rel.as_posix():<28} {dt:6.1f} s' + ('' if rc == 0 else '  FAILED'), flush=True)
            if rc != 0: failed.append((rel, err))
    if failed:
        for rel, err in failed: print(f'\n--- {rel} ---\n{err.strip()[-6000:]}', file=sys.stderr)
        names = ', '.join(r.as_posix() for r, _ in failed)
        sys.exit(f'build_docs: {names} failed while executing for the docs. Fix the notebook '
                 f'(`nbdev_test --path {nbs.name}/{failed[0][0].as_posix()}` shows the same error) '
                 f'or pass --allow-errors to render the traceback.')

# ---------------------------------------------------------------------------------------------
# Step 2: nbdev's processing into _proc/
# ---------------------------------------------------------------------------------------------
def write_quarto_config(cfg, path:Path) -> None:
    "nbdev's `_quarto.yml`, `nbdev.yml` and `styles.css` in `path`, unless `nbs/` has its own."
    import nbdev.quarto as q
    vals = {k: cfg.get(k, '') for k in ['title', 'description', 'branch', 'git_url', 'doc_host', 'doc_baseurl']}
    vals['title'] = vals['title'] or cfg.lib_name
    vals['doc_path'] = cfg.doc_path.name
    if not (path/'nbdev.yml').exists(): (path/'nbdev.yml').write_text(q._nbdev_yml.format(**vals))
    if not (path/'_quarto.yml').exists(): (path/'_quarto.yml').write_text(q._quarto_yml)
    if not (path/'styles.css').exists(): (path/'styles.css').write_text((ASSETS/'quarto_styles.css').read_text())

class ExecutedProcs:
    "nbdev's processors for notebooks this script executed: their show_doc cells already ran in place."
    def __init__(self):
        from nbdev.processors import FilterDefaults, exec_show_docs
        self.fd, self.skip = FilterDefaults(), exec_show_docs
    def __call__(self, nb):
        from nbdev.process import NBProcessor
        return NBProcessor(nb=nb, procs=[p for p in self.fd.procs() if p is not self.skip]).process()

def process_notebooks(cfg, copy_dir:Path, quarto:bool, allow_errors:bool) -> Path:
    "nbdev's processing (what `nbdev_proc_nbs` does) of the notebooks in `copy_dir` into `_proc/`, one at a time."
    from execnb.nbio import read_nb, write_nb
    from nbdev.doclinks import nbglob
    from nbdev.processors import FilterDefaults, exec_show_docs
    from nbdev.serve import _proc_file
    if quarto:
        from nbdev.quarto import nbdev_sidebar
        write_quarto_config(cfg, copy_dir)
        nbdev_sidebar.__wrapped__(path=copy_dir)
    cache = cfg.config_path/'_proc'
    shutil.rmtree(cache, ignore_errors=True); cache.mkdir(parents=True)
    files = [Path(f) for f in nbglob(copy_dir, func=Path, file_glob='', file_re='')]
    files += [copy_dir/f for f in ('_quarto.yml', '_brand.yml') if (copy_dir/f).exists()]
    failed = []
    os.environ['IN_TEST'] = '1'                            # as nbdev_proc_nbs sets it
    try:
        for f in sorted(files):
            job = _proc_file(f, cache=cache, path=copy_dir)    # copies the other files; notebooks come back
            if not job: continue
            src, dst, _ = job
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')            # "Found cells containing imports and other code"
                try:
                    nb = read_nb(src)
                    (ExecutedProcs() if nb.metadata.get('docs_executed') else FilterDefaults())(nb)
                    write_nb(nb, dst)
                except Exception as e:
                    # nbdev's show_doc step re-runs, in a fresh shell, every cell that holds an import
                    msg = f'{src.name}: {str(e).strip()}\n  caused by: {e.__cause__!r}'
                    failed.append(msg)
                    if allow_errors:                      # render it without the show_doc step
                        class _NoShowDoc(FilterDefaults):
                            def base_procs(self): return [p for p in super().base_procs() if p is not exec_show_docs]
                        nb = read_nb(src); _NoShowDoc()(nb); write_nb(nb, dst)
    finally: os.environ.pop('IN_TEST', None)
    if failed:
        print('\n\n'.join(failed), file=sys.stderr)
        hint = ("nbdev's show_doc step runs every cell that contains an import in a fresh shell, without the "
                "cells before it (nbdev FAQ, 'Found cells containing imports and other code'): put that "
                "import in a cell of its own.")
        if not allow_errors: sys.exit(f'build_docs: nbdev could not process {len(failed)} notebook(s). {hint}')
        print(f'build_docs: WARNING: {len(failed)} notebook(s) rendered without show_doc output. {hint}', file=sys.stderr)
    return cache

# ---------------------------------------------------------------------------------------------
# Step 3a: Quarto
# ---------------------------------------------------------------------------------------------
def real_quarto() -> str|None:
    "Path of a `quarto` that answers `--version` with a version (unless ALEXNET_DOCS_NO_QUARTO=1), else None."
    q = shutil.which('quarto')
    if not q: return None
    try: out = subprocess.run([q, '--version'], capture_output=True, text=True, timeout=60).stdout.strip()
    except Exception: return None
    return q if re.match(r'^\d+\.\d+', out) and os.environ.get('ALEXNET_DOCS_NO_QUARTO') != '1' else None

def render_quarto(cfg, proc:Path, out:Path, quarto:str) -> bool:
    "`quarto render` in `_proc/` (as `nbdev_docs` does), then move the site to `out`; False if it made no site."
    site = proc/cfg.doc_path.name
    shutil.rmtree(site, ignore_errors=True)
    subprocess.run([quarto, 'render', '--no-cache'], cwd=proc, check=True)
    if not (site/'index.html').exists(): return False      # e.g. a stub `quarto` that only prints a version
    shutil.rmtree(out, ignore_errors=True)
    shutil.move(str(site), str(out))
    return True

# ---------------------------------------------------------------------------------------------
# Step 3b: the Quarto-free renderer
# ---------------------------------------------------------------------------------------------
def slugify(text:str) -> str:
    "A heading id as pandoc (and so Quarto and nbdev's doc links) makes it."
    s = re.sub(r'<[^>]+>', '', html.unescape(text)).strip().lower()
    s = re.sub(r'[^\w\s.-]', '', s)
    s = re.sub(r'\s+', '-', s)
    s = re.sub(r'^[^a-z_]+', '', s)
    return s or 'section'

class Ids:
    "Unique heading ids within one page."
    def __init__(self): self.seen = {}
    def __call__(self, text):
        base = slugify(text); n = self.seen.get(base, 0); self.seen[base] = n + 1
        return base if n == 0 else f'{base}-{n}'

LINK_ATTR_RE = re.compile(r'\[([^\]\n]+)\]\(([^)\s]+)\)\{([^}\n]*)\}')
HEADING_ATTR_RE = re.compile(r'^(#{1,6}\s.*?)\s*\{[^}\n]*\}\s*$', re.MULTILINE)
FENCE_RE = re.compile(r'^(:{3,})\s*(\{[^}]*\}|[\w-]+)?\s*$')

def format_visible(spec:str, fmt:str) -> bool:
    "Whether a Quarto `::: {.content-visible when-format=...}` (or `.content-hidden`) block shows in `fmt`."
    m = re.search(r'\.content-(visible|hidden)\b.*?(when|unless)-format="([^"]+)"', spec)
    if not m: return True
    kind, cond, f = m.groups()
    hit = f == fmt or (fmt == 'markdown' and f in ('md', 'gfm', 'commonmark'))
    shown = hit if cond == 'when' else not hit
    return shown if kind == 'visible' else not shown

def _attr_link(m):
    "A pandoc link with attributes (`[source](url){target=\"_blank\" ...}`) as an HTML link."
    text, url, attrs = m.groups()
    cls = 'source-link' if text.strip().lower() == 'source' else 'ext-link'
    tgt = ' target="_blank" rel="noopener"' if 'target' in attrs else ''
    return f'<a href="{html.escape(url)}" class="{cls}"{tgt}>{html.escape(text)}</a>'

def md2html(md:str) -> str:
    "Markdown (with pandoc/Quarto extras: link attributes, `:::` callouts) to HTML; math left for KaTeX."
    from nbconvert.filters.markdown_mistune import markdown2html_mistune
    md = LINK_ATTR_RE.sub(_attr_link, md)
    md = HEADING_ATTR_RE.sub(r'\1', md)
    # Quarto fenced divs (`::: {.callout-note}` ... `:::`): render inside, splice in afterwards
    blocks, out, stack = {}, [], []
    for line in md.split('\n'):
        m = FENCE_RE.match(line)
        if m and m.group(2):
            stack.append((m.group(2), out)); out = []
        elif m and stack:
            spec, outer = stack.pop()
            if not format_visible(spec, 'html'): out = outer; continue     # Quarto conditional content
            if re.search(r'content-(visible|hidden)', spec): out = outer + [''] + out + ['']; continue
            cls = ' '.join(c.lstrip('.') for c in re.findall(r'\.[\w-]+', spec)) or spec.strip('{}')
            kind = re.search(r'callout-(\w+)', cls)
            inner = '\n'.join(out)
            title = re.search(r'title="([^"]*)"', spec)
            head = f'<div class="callout-title">{html.escape(title.group(1))}</div>' if title else ''
            key = f'FENCEDDIV{len(blocks)}X'
            blocks[key] = f'<div class="{html.escape(cls)}{" callout" if kind else ""}">{head}{md2html(inner)}</div>'
            out = outer + ['', key, '']
        else: out.append(line)
    while stack: spec, outer = stack.pop(); out = outer + out
    res = markdown2html_mistune('\n'.join(out))
    for k, v in blocks.items(): res = res.replace(f'<p>{k}</p>', v).replace(k, v)
    return res

def highlight(code:str, lang:str='python') -> str:
    from pygments import highlight as hl
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound
    try: lexer = get_lexer_by_name(lang or 'python')
    except ClassNotFound: lexer = get_lexer_by_name('text')
    return hl(code, lexer, HtmlFormatter(cssclass='highlight'))

def cell_options(src:str) -> tuple[dict, str]:
    "Quarto cell options (`#| echo: false`) and the code without any `#|` line."
    opts, code = {}, []
    for line in src.split('\n'):
        if DIRECTIVE_RE.match(line):
            m = re.match(r'^\s*#\s*\|\s*([\w-]+)\s*:?\s*(.*?)\s*$', line)
            if m: opts[m.group(1)] = m.group(2).strip('"\'') or 'true'
        else: code.append(line)
    return opts, '\n'.join(code).strip('\n')

def _falsy(v): return str(v).lower() in ('false', 'no', '0')

def _stream_text(t:str) -> str:
    "Terminal text as it would look: a carriage return rewrites its line (progress bars)."
    lines = [l.split('\r')[-1] if '\r' in l.rstrip('\r') else l.rstrip('\r') for l in t.split('\n')]
    return '\n'.join(lines)

class Figures:
    "Writes a page's images beside it (`<page>_files/figure-N.png`) and gives their relative address."
    def __init__(self, out:Path, href:str): self.out, self.href, self.n = out, href, 0
    def __call__(self, mime:str, b64:str) -> str:
        self.n += 1
        ext = {'image/png': 'png', 'image/jpeg': 'jpg', 'image/gif': 'gif'}[mime]
        rel = f"{Path(self.href).stem}_files/figure-{self.n}.{ext}"
        dst = self.out/Path(self.href).parent/rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(base64.b64decode(b64))
        return rel

def render_output(o, opts:dict, showdoc:bool, figs:Figures) -> str:
    "One cell output as HTML."
    from nbconvert.filters.ansi import ansi2html
    ot = o.get('output_type')
    if ot == 'stream':
        text = _stream_text(src_text(o.get('text')))
        if not text.strip(): return ''
        return f'<pre class="output stream {o.get("name", "stdout")}">{ansi2html(text.rstrip())}</pre>'
    if ot == 'error':
        tb = '\n'.join(o.get('traceback') or [f"{o.get('ename')}: {o.get('evalue')}"])
        return f'<pre class="output error">{ansi2html(tb)}</pre>'
    data, meta = o.get('data', {}), o.get('metadata', {})
    for mime in ('text/html', 'image/svg+xml', 'image/png', 'image/jpeg', 'image/gif', 'text/markdown',
                 'text/latex', 'text/plain'):
        if mime not in data: continue
        v = src_text(data[mime])
        if mime == 'text/markdown' and mime != 'text/html':
            if showdoc: v = re.sub(r'^\s*---\s*\n', '', v)     # show_doc's leading rule; the card has a border
            return f'<div class="output markdown{" showdoc" if showdoc else ""}">{md2html(v)}</div>'
        if mime == 'text/html': return f'<div class="output html">{v}</div>'
        if mime == 'image/svg+xml': return f'<figure class="output image">{v}{_caption(opts)}</figure>'
        if mime.startswith('image/'):
            m = meta.get(mime, {}) if isinstance(meta.get(mime), dict) else {}
            size = ''.join(f' {k}="{int(m[k])}"' for k in ('width', 'height') if k in m)
            alt = html.escape(opts.get('fig-alt', opts.get('fig-cap', 'figure')))
            src = figs(mime, v.replace('\n', ''))
            return f'<figure class="output image"><img src="{src}"{size} alt="{alt}" loading="lazy">{_caption(opts)}</figure>'
        if mime == 'text/latex': return f'<div class="output latex">{html.escape(v)}</div>'
        return f'<pre class="output text">{html.escape(v)}</pre>'
    return ''

def _caption(opts): return f'<figcaption>{md2html(opts["fig-cap"])}</figcaption>' if opts.get('fig-cap') else ''

def render_cell(c, lang:str, figs:Figures) -> str:
    "One processed notebook cell as HTML ('' when nothing shows)."
    src = src_text(c.get('source'))
    ct = c.get('cell_type')
    if ct == 'markdown':
        if not src.strip(): return ''
        return f'<div class="cell markdown">{md2html(src)}</div>'
    if ct != 'code': return ''                                   # raw cells: front matter, already used
    opts, code = cell_options(src)
    if _falsy(opts.get('include', 'true')): return ''
    showdoc = bool(re.match(r'^\s*show_doc\(', code))
    parts = []
    if code.strip() and not _falsy(opts.get('echo', 'true')):
        body = highlight(code, c.get('metadata', {}).get('language', lang))
        fold = opts.get('code-fold', '').lower()
        if fold in ('true', 'show'):
            summary = html.escape(opts.get('code-summary', 'Code'))
            body = f'<details class="fold"{" open" if fold == "show" else ""}><summary>{summary}</summary>{body}</details>'
        parts.append(f'<div class="input">{body}</div>')
    not_run = c.get('metadata', {}).get('docs_not_run')
    if not_run and parts:
        parts.append(f'<div class="not-run">Not run for this build (<code>#| {html.escape(not_run)}</code>): '
                     f'no output shown.</div>')
    if not _falsy(opts.get('output', 'true')):
        merged = []                                              # consecutive stream chunks: one text
        for o in c.get('outputs', []):
            if o.get('output_type') == 'stream' and merged and merged[-1].get('output_type') == 'stream' \
               and merged[-1].get('name') == o.get('name'):
                merged[-1] = {**merged[-1], 'text': src_text(merged[-1].get('text')) + src_text(o.get('text'))}
            else: merged.append(o)
        outs = [render_output(o, opts, showdoc, figs) for o in merged]
        outs = [o for o in outs if o]
        if outs: parts.append(f'<div class="outputs">{"".join(outs)}</div>')
    if not parts: return ''
    return f'<div class="cell code{" showdoc-cell" if showdoc else ""}">{"".join(parts)}</div>'

HEADING_RE = re.compile(r'<h([1-6])(?:\s+id="[^"]*")?>(.*?)</h\1>', re.DOTALL)

def finish_html(body:str, ids:Ids, toc:list, site_url:str, nb_pages:dict) -> str:
    "Heading ids (pandoc style) and anchors, a table of contents, and links made local."
    def head(m):
        level, inner = int(m.group(1)), re.sub(r'<a class="anchor-link"[^>]*>.*?</a>', '', m.group(2))
        hid = ids(inner)
        if level in (2, 3): toc.append((level, hid, re.sub(r'<[^>]+>', '', inner).strip()))
        return f'<h{level} id="{hid}">{inner}<a class="anchor" href="#{hid}" aria-label="link to this section">#</a></h{level}>'
    body = HEADING_RE.sub(head, body)
    if site_url:                                                 # nbdev's doc links point at the published site
        body = re.sub(r'href="' + re.escape(site_url.rstrip('/')) + r'/([^"]*)"', r'href="\1"', body)
    def nblink(m):                                               # links to notebooks go to their pages
        target, frag = m.group(1), m.group(2) or ''
        return f'href="{nb_pages.get(target, target)}{frag}"'
    body = re.sub(r'href="([^":#]+\.ipynb)(#[^"]*)?"', nblink, body)
    return body

def find_katex(katex_dir:str|None, cache:Path, system=('/usr/share/javascript/katex', 'node_modules/katex/dist')) -> Path|None:
    "A KaTeX distribution folder (katex.min.js, katex.min.css, fonts/, contrib/auto-render): local first, then npm."
    cands = [katex_dir, os.environ.get('KATEX_DIR'), *system, str(cache/'package'/'dist')]
    for c in cands:
        if c and (Path(c)/'katex.min.js').exists() and (Path(c)/'fonts').exists(): return Path(c)
    if shutil.which('npm'):                                      # npm's registry is reachable where PyPI is
        cache.mkdir(parents=True, exist_ok=True)
        try:
            r = subprocess.run(['npm', 'pack', f'katex@{KATEX_VERSION}', '--silent'], cwd=cache,
                               capture_output=True, text=True, timeout=120)
            tgz = r.stdout.strip().splitlines()[-1] if r.returncode == 0 and r.stdout.strip() else ''
            if tgz and (cache/tgz).exists():
                import tarfile
                with tarfile.open(cache/tgz) as t: t.extractall(cache, filter='data')
                (cache/tgz).unlink()
                if (cache/'package'/'dist'/'katex.min.js').exists(): return cache/'package'/'dist'
        except Exception as e: print(f'  npm pack katex failed: {e}', file=sys.stderr)
    return None

def copy_katex(src:Path, dst:Path) -> None:
    "katex.min.js, katex.min.css, auto-render and the woff2 fonts (all modern browsers read woff2)."
    (dst/'fonts').mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src/'katex.min.js', dst/'katex.min.js')
    shutil.copyfile(src/'katex.min.css', dst/'katex.min.css')
    ar = next(p for p in [src/'contrib'/'auto-render.min.js', src/'contrib'/'auto-render.js'] if p.exists())
    shutil.copyfile(ar, dst/'auto-render.min.js')
    for f in sorted((src/'fonts').resolve().glob('*.woff2')): shutil.copyfile(f, dst/'fonts'/f.name)
    # the CSS lists woff2 first, then woff/ttf: drop those so no browser asks for a missing file
    css = (dst/'katex.min.css').read_text()
    css = re.sub(r',\s*url\(fonts/[^)]+\.(?:woff|ttf)\)\s*format\("(?:woff|truetype)"\)', '', css)
    (dst/'katex.min.css').write_text(css)

def render_html(cfg, proc:Path, rels:list[Path], out:Path, katex_dir:str|None, renderer_note:str) -> list[dict]:
    "The Quarto-free site: one page per processed notebook, plus assets. Returns the pages."
    import jinja2
    from execnb.nbio import read_nb
    from pygments.formatters import HtmlFormatter
    site_title = cfg.get('title') or cfg.lib_name
    site_url = (cfg.get('doc_host', '') + cfg.get('doc_baseurl', '')).rstrip('/')
    pages = []
    for rel in rels:
        nb = read_nb(proc/rel)
        fm = frontmatter(nb)
        pages.append(dict(rel=rel, nb=nb, fm=fm, href=page_name(rel, fm),
                          title=str(fm.get('title') or rel.stem), description=str(fm.get('description') or ''),
                          num=(re.match(r'^(\d+)[a-zA-Z0-9]*_', rel.name) or [None, ''])[1]))
    nb_pages = {p['rel'].as_posix(): p['href'] for p in pages}
    nb_pages.update({p['rel'].name: p['href'] for p in pages})
    out.mkdir(parents=True, exist_ok=True)
    for p in pages:
        ids, toc = Ids(), []
        lang = (p['nb'].get('metadata', {}).get('kernelspec', {}) or {}).get('language', 'python')
        figs = Figures(out, p['href'])
        body = ''.join(render_cell(c, lang, figs) for c in p['nb']['cells'])
        p['body'] = finish_html(body, ids, toc, site_url, nb_pages)
        d = md2html(p['description']).strip()                    # inline markdown (`code`) in the subtitle
        p['description_html'] = re.sub(r'^<p>(.*)</p>$', r'\1', d, flags=re.DOTALL)
        p['toc'] = toc
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(ASSETS), autoescape=jinja2.select_autoescape(['html']))
    tpl = env.get_template('page.html')
    kdir = find_katex(katex_dir, cfg.config_path/'build'/'katex')
    if kdir: copy_katex(kdir, out/'katex'); katex = 'local'
    else:
        katex = 'cdn'
        print('  WARNING: no local KaTeX (apt-get install libjs-katex, or npm): math loads from a CDN at view time',
              file=sys.stderr)
    for i, p in enumerate(pages):
        depth = p['href'].count('/')
        page = tpl.render(site_title=site_title, site_description=cfg.get('description', ''),
                          git_url=cfg.get('git_url', ''), pages=pages, page=p, root='../'*depth,
                          prev=pages[i-1] if i > 0 else None, next=pages[i+1] if i+1 < len(pages) else None,
                          katex=katex, renderer_note=renderer_note, lib_name=cfg.lib_name,
                          branch=cfg.get('branch', 'main'), nbs_rel=cfg.nbs_path.relative_to(cfg.config_path).as_posix())
        dst = out/p['href']; dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_text(page, encoding='utf-8')
    css = (ASSETS/'site.css').read_text() + '\n/* pygments */\n' + HtmlFormatter(style='friendly').get_style_defs('.highlight')
    (out/'site.css').write_text(css)
    for f in ('site.js', 'favicon.svg'): shutil.copyfile(ASSETS/f, out/f)
    (out/'.nojekyll').write_text('')
    # files beside the notebooks (images a markdown cell shows, data a page links to)
    for f in proc.rglob('*'):
        r = f.relative_to(proc)
        if f.is_file() and f.suffix not in ('.ipynb', '.yml', '.yaml') and not any(x.startswith(('.', '_')) for x in r.parts) \
           and r.parts[0] != cfg.doc_path.name and r.name != 'styles.css':
            (out/r).parent.mkdir(parents=True, exist_ok=True); shutil.copyfile(f, out/r)
    return pages

# ---------------------------------------------------------------------------------------------
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split('\n', 2)[2])
    ap.add_argument('--flags', nargs='*', default=[], help='tst_flags to run anyway, e.g. `slow` (default: none)')
    ap.add_argument('--renderer', choices=['auto', 'quarto', 'html'], default='auto',
                    help='auto: Quarto when a real quarto is on PATH, else the built-in HTML renderer')
    ap.add_argument('--no-exec', action='store_true', help='render the notebooks as they are, without running them')
    ap.add_argument('--reuse-exec', action='store_true', help='reuse the executed copies of the last build (to work on the look)')
    ap.add_argument('--allow-errors', action='store_true', help='render a failing cell\'s traceback instead of stopping')
    ap.add_argument('--jobs', type=int, default=min(2, os.cpu_count() or 1), help='notebooks executed at once')
    ap.add_argument('--timeout', type=int, default=1800, help='seconds allowed per notebook')
    ap.add_argument('--out', default=None, help='output folder (default: doc_path from settings.ini)')
    ap.add_argument('--katex', default=None, help='a KaTeX dist folder (default: libjs-katex, node_modules, npm)')
    ap.add_argument('--_exec-one', nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a._exec_one:
        return _exec_one(Path(a._exec_one[0]), Path(a._exec_one[1]), a.flags, a.allow_errors)

    t0 = time.time()
    cfg = get_cfg()
    root, nbs = cfg.config_path, cfg.nbs_path
    out = Path(a.out).resolve() if a.out else cfg.doc_path
    quarto = real_quarto() if a.renderer in ('auto', 'quarto') else None
    if a.renderer == 'quarto' and not quarto: sys.exit('build_docs: --renderer quarto, but no working `quarto` on PATH')
    rels = list_notebooks(nbs)
    if not rels: sys.exit(f'build_docs: no notebooks in {nbs}')
    from execnb.nbio import read_nb
    for rel in rels:
        problem = fix_frontmatter(read_nb(nbs/rel))
        if problem: print(f'  WARNING: {nbs.name}/{rel.as_posix()}: {problem}; repaired for this build', file=sys.stderr)
    copy_dir = root/'build'/'docs_nbs'
    def _executed(f): return f.exists() and read_nb(f).metadata.get('docs_executed', False)
    done = {r for r in rels if _executed(copy_dir/r)} if a.reuse_exec else set()
    keep = {r: (copy_dir/r).read_bytes() for r in done}
    shutil.rmtree(copy_dir, ignore_errors=True)
    # the notebooks' folder as it is (images, data files), then the executed notebooks over it
    shutil.copytree(nbs, copy_dir, ignore=shutil.ignore_patterns('.*', '_proc', '.ipynb_checkpoints', '__pycache__'))
    for r, b in keep.items(): (copy_dir/r).write_bytes(b)
    print(f'build_docs: {len(rels)} notebooks' + ('' if a.no_exec else
          f', executing (skipping cells flagged {sorted(set(cfg.get("tst_flags", "").split()) - set(a.flags))})'), flush=True)
    if a.no_exec:
        from execnb.nbio import write_nb
        for rel in rels:
            nb = read_nb(nbs/rel); fix_frontmatter(nb); write_nb(nb, copy_dir/rel)
    else: execute_notebooks(nbs, [r for r in rels if r not in done], copy_dir, a.flags, a.allow_errors, a.jobs, a.timeout)
    t1 = time.time()
    proc = process_notebooks(cfg, copy_dir, quarto=bool(quarto), allow_errors=a.allow_errors)
    print(f'build_docs: processed into {proc.relative_to(root)}/ with nbdev', flush=True)
    if quarto and not render_quarto(cfg, proc, out, quarto):
        if a.renderer == 'quarto': sys.exit(f'build_docs: `{quarto} render` made no site in {proc/cfg.doc_path.name}')
        print(f'build_docs: `{quarto} render` made no site (a stub?): using the built-in HTML renderer', file=sys.stderr)
        quarto = None
    if quarto: how = f'Quarto ({quarto})'
    else:
        tmp = root/'build'/'docs.tmp'                       # written whole, then swapped in
        shutil.rmtree(tmp, ignore_errors=True)
        note = 'executed' if not a.no_exec else 'not executed'
        render_html(cfg, proc, rels, tmp, a.katex, note)
        shutil.rmtree(out, ignore_errors=True); shutil.move(str(tmp), str(out))
        how = 'the built-in HTML renderer (no Quarto on PATH)'
    print(f'build_docs: site in {out} ({len(rels)} pages, {how}); execution {t1-t0:.0f} s, '
          f'total {time.time()-t0:.0f} s. Open {out/"index.html"}')
    return 0

if __name__ == '__main__': sys.exit(main())
