"""The documentation site in a real browser.

Serves `docs/` on 127.0.0.1 (a free port), loads EVERY page in headless Chromium through the
DevTools protocol (websocket-client, which jupyter_server already installs), and checks each
page: its title (from the notebook's front matter) in `<title>` and `<h1>`, no raw `#|` directive
lines, no front matter or `{target="_blank"}` shown as text, no console errors or exceptions, no
failed requests, KaTeX without errors, and a navigation bar that links every page. Every stage page
shows at least one loaded figure, and the home page its pipeline strip; when `make demo` has run
before the build, the home page also shows the demo's figures, results table and model card, and no
page says the demo has not been run. Screenshots of the home page and a module page go to
`build/screenshots/`.

`docs/` is built with `tools/docs.py` first when it is missing or older than a notebook
(`make test` runs `make docs`, which is also the notebooks' test run, before pytest, so normally it is fresh). Set `ALEXNET_DOCS_REBUILD=1` to rebuild it anyway.
Where no Chromium is installed the tests skip, saying so.
"""
from __future__ import annotations
import base64, functools, http.server, json, os, re, shutil, subprocess, sys, tempfile
import threading, time, warnings
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/'tools'))
import docs as dt                                         # noqa: E402  (the notebooks' order, execution, processing)
from nbdev.config import get_config                       # noqa: E402
from nbdev.frontmatter import FrontmatterProc             # noqa: E402
from nbdev.process import NBProcessor                     # noqa: E402

SHOTS = ROOT/'build'/'screenshots'
DEMO_RESULTS = ROOT/'demo'/'eval'/'results.md'                 # written by the last step of `make demo`
DEMO_FIGURES = ('fig3_conv1', 'fig4_top5', 'fig4_neighbours', 'confused_pairs', 'curves')   # what the home page shows from it
BROWSERS = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable']

def find_browser() -> str|None:
    "Chromium (or Chrome) on this machine: $CHROME, then the usual names."
    for c in [os.environ.get('CHROME')] + BROWSERS:
        if c and shutil.which(c): return shutil.which(c)
    return None

def expected_pages() -> list[dict]:
    "One entry per notebook in nbs/: the page it must become and the title it must show."
    cfg, res = get_config(), []
    for fn in dt.notebooks(cfg):
        fm = NBProcessor(fn, procs=FrontmatterProc, process=True).nb.frontmatter_     # as nbdev reads it
        res.append(dict(nb=fn.relative_to(cfg.nbs_path).as_posix(), href=fm['output-file'], title=str(fm.get('title', fn.stem))))
    return res

PAGES = expected_pages()

class Browser:
    "Headless Chromium driven over the DevTools protocol: one tab, console and network errors collected."
    FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
             '--disable-component-update', '--disable-sync', '--disable-quic', '--disable-extensions',
             '--disable-default-apps', '--mute-audio', '--hide-scrollbars', '--remote-debugging-port=0']

    def __init__(self, exe:str):
        self.profile = tempfile.mkdtemp(prefix='docs-chromium-')
        self.log = open(Path(self.profile)/'stderr.txt', 'w+')
        self.proc = subprocess.Popen([exe, *self.FLAGS, f'--user-data-dir={self.profile}', 'about:blank'],
                                     stdout=subprocess.DEVNULL, stderr=self.log)
        ws, t0 = None, time.time()
        while ws is None and time.time() - t0 < 60:
            if self.proc.poll() is not None: break
            time.sleep(0.2)
            port_file = Path(self.profile)/'DevToolsActivePort'
            if port_file.exists() and len(port_file.read_text().split('\n')) >= 2:
                port, path = port_file.read_text().split('\n')[:2]
                ws = f'ws://127.0.0.1:{port.strip()}{path.strip()}'
        if ws is None:
            self.log.seek(0); err = self.log.read()[-2000:]
            self.close(); raise RuntimeError(f'Chromium did not start its DevTools server:\n{err}')
        import websocket                                  # websocket-client (a dependency of jupyter_server)
        self.ws, self.next_id, self.events = websocket.create_connection(ws, timeout=30, suppress_origin=True), 0, []
        target = self.call('Target.createTarget', url='about:blank')['targetId']
        self.session = self.call('Target.attachToTarget', targetId=target, flatten=True)['sessionId']
        for domain in ('Page', 'Runtime', 'Log', 'Network'): self.call(f'{domain}.enable', session=True)

    def call(self, method:str, session:bool=False, timeout:float=60, **params):
        self.next_id += 1
        msg = {'id': self.next_id, 'method': method, 'params': params}
        if session: msg['sessionId'] = self.session
        self.ws.send(json.dumps(msg))
        t0 = time.time()
        while time.time() - t0 < timeout:
            r = json.loads(self.ws.recv())
            if r.get('id') == self.next_id:
                if 'error' in r: raise RuntimeError(f'{method}: {r["error"]}')
                return r.get('result', {})
            if 'method' in r: self.events.append(r)
        raise TimeoutError(method)

    def wait_event(self, name:str, timeout:float=60):
        t0 = time.time()
        while time.time() - t0 < timeout:
            for i, e in enumerate(self.events):
                if e['method'] == name: return self.events.pop(i)
            self.ws.settimeout(max(0.1, timeout - (time.time() - t0)))
            self.events.append(json.loads(self.ws.recv()))
        raise TimeoutError(name)

    def load(self, url:str, width:int=1280, height:int=900) -> list[str]:
        "Open `url`, wait for it to load and settle; returns the console/network errors seen."
        self.events.clear()
        self.call('Emulation.setDeviceMetricsOverride', session=True, width=width, height=height,
                  deviceScaleFactor=1, mobile=False)
        self.call('Page.navigate', session=True, url=url)
        self.wait_event('Page.loadEventFired')
        self.eval('new Promise(r => requestAnimationFrame(() => setTimeout(r, 50)))')
        errors = []
        for e in self.events:
            m, p = e['method'], e.get('params', {})
            if m == 'Runtime.consoleAPICalled' and p.get('type') in ('error', 'assert'):
                errors.append('console.error: ' + ' '.join(str(a.get('value', a.get('description', ''))) for a in p.get('args', [])))
            elif m == 'Runtime.exceptionThrown':
                d = p.get('exceptionDetails', {})
                errors.append(f"exception: {d.get('exception', {}).get('description') or d.get('text')}")
            elif m == 'Log.entryAdded' and p.get('entry', {}).get('level') == 'error':
                errors.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
            elif m == 'Network.loadingFailed' and not p.get('canceled'):
                errors.append(f"network: {p.get('errorText')} (request {p.get('requestId')})")
        return errors

    def eval(self, expr:str):
        r = self.call('Runtime.evaluate', session=True, expression=expr, returnByValue=True, awaitPromise=True)
        if 'exceptionDetails' in r: raise RuntimeError(f'evaluate failed: {r["exceptionDetails"]}')
        return r.get('result', {}).get('value')

    def screenshot(self, path:Path, width:int=1280, max_height:int=3000):
        "A PNG of the page, full height up to `max_height`."
        h = int(self.eval('Math.ceil(document.documentElement.scrollHeight)') or 900)
        self.call('Emulation.setDeviceMetricsOverride', session=True, width=width, height=min(h, max_height),
                  deviceScaleFactor=1, mobile=False)
        self.eval('new Promise(r => requestAnimationFrame(() => setTimeout(r, 100)))')
        data = self.call('Page.captureScreenshot', session=True, format='png')['data']
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))

    def close(self):
        if getattr(self, 'ws', None):
            try: self.call('Browser.close', timeout=5)
            except Exception: pass
            try: self.ws.close()
            except Exception: pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try: self.proc.wait(10)
            except subprocess.TimeoutExpired: self.proc.kill(); self.proc.wait()
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)

# --------------------------------------------------------------------------------------------
# fixtures: the site, a server, a browser, every page loaded once
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope='module')
def site() -> Path:
    cfg = get_config()
    docs = cfg.doc_path
    index = docs/'index.html'
    stale = not index.exists() or any(not (docs/p['href']).exists() or
                                      (cfg.nbs_path/p['nb']).stat().st_mtime > index.stat().st_mtime for p in PAGES)
    if index.exists() and DEMO_RESULTS.exists() and DEMO_RESULTS.stat().st_mtime > index.stat().st_mtime: stale = True   # the demo ran since
    if stale: print('docs/ is missing or older than nbs/: building it with tools/docs.py')
    if os.environ.get('ALEXNET_DOCS_REBUILD') == '1' or stale:
        r = subprocess.run([sys.executable, str(ROOT/'tools'/'docs.py')], cwd=ROOT, capture_output=True, text=True)
        assert r.returncode == 0, f'tools/docs.py failed:\n{r.stdout[-3000:]}\n{r.stderr[-5000:]}'
    return docs

class _Handler(http.server.SimpleHTTPRequestHandler):
    failures: list = []
    def log_message(self, *a): pass
    def send_error(self, code, message=None, explain=None):
        self.failures.append(f'{code} {self.path}')
        super().send_error(code, message, explain)

@pytest.fixture(scope='module')
def server(site):
    _Handler.failures = []
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(_Handler, directory=str(site)))
    t = threading.Thread(target=httpd.serve_forever, daemon=True); t.start()
    yield f'http://127.0.0.1:{httpd.server_address[1]}'
    httpd.shutdown(); httpd.server_close()

PROBE = r"""(async () => {
  const main = document.querySelector('main') || document.body;
  const text = main.innerText;
  const prose = main.cloneNode(true);                // the text outside code and typeset math
  prose.querySelectorAll('pre, code, .katex, script, style').forEach(e => e.remove());
  const ptext = prose.textContent;
  const shown = main.cloneNode(true);                // the prose and the cells' outputs, without the cells' code
  shown.querySelectorAll('pre, code, script, style').forEach(e => { if (!e.closest('.outputs, .output, .cell-output')) e.remove(); });
  const stext = shown.innerText || shown.textContent;
  const ids = Array.from(document.querySelectorAll('[id]')).map(e => e.id);
  const links = Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href'));
  const nav = Array.from(document.querySelectorAll('nav.sidebar a[href], #quarto-sidebar a[href], .sidebar a[href]'))
                   .map(a => a.getAttribute('href'));
  const imgs = Array.from(document.querySelectorAll('main img'));
  await Promise.all(imgs.map(i => { i.loading = 'eager'; return i.decode().catch(() => null); }));   // lazy ones too
  return {
    title: document.title,
    h1: (document.querySelector('h1') || {innerText: ''}).innerText.trim(),
    directive_lines: text.split('\n').filter(l => /^\s*#\s*\|/.test(l)).slice(0, 5),
    attr_text: (ptext.match(/\{target=|\{\.callout|:::\s*\{/g) || []).length,
    frontmatter_text: /^\s*title:\s/m.test(text) && /^\s*(description|output-file):\s/m.test(text),
    katex: document.querySelectorAll('.katex').length,
    katex_errors: Array.from(document.querySelectorAll('.katex-error')).map(e => e.getAttribute('title') || e.innerText).slice(0, 5),
    raw_math: (ptext.match(/\$\$|\\\(|\\\[/g) || []).length,
    broken_images: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => (i.src || '').slice(0, 80)),
    figures: imgs.filter(i => i.complete && i.naturalWidth >= 100 && i.naturalHeight >= 50).length,   // loaded, not an icon
    tables: Array.from(main.querySelectorAll('table')).map(t => t.innerText.slice(0, 3000)),
    model_card: /Model card/.test(text) && /Intended use/.test(text) && /Limits/.test(text),
    not_run: (stext.match(/[^.\n]*has not been run[^.\n]*/g) || []).slice(0, 3),
    code_blocks: document.querySelectorAll('pre').length,
    highlighted: document.querySelectorAll('.highlight span, .sourceCode span').length,
    ids, links, nav,
  };
})()"""

@pytest.fixture(scope='module')
def loaded(server):
    exe = find_browser()
    if not exe: pytest.skip('Chromium not found (looked for $CHROME, ' + ', '.join(BROWSERS) +
                            '): install it (Debian: apt-get install chromium) to run the docs browser check')
    b = Browser(exe)
    res = {}
    try:
        for p in PAGES:
            url = f"{server}/{p['href']}"
            errors = b.load(url)
            info = b.eval(PROBE)
            info['errors'] = errors
            res[p['href']] = info
        module = next((p['href'] for p in PAGES if p['href'] != 'index.html'), None)   # the first module page
        shots = {'home.png': 'index.html'} | ({'module.png': module} if module else {})
        if os.environ.get('ALEXNET_DOCS_SHOTS') == 'all':
            shots |= {f"pages/{p['href'].replace('/', '_')}.png": p['href'] for p in PAGES}
        for name, href in shots.items():
            b.load(f'{server}/{href}')
            b.screenshot(SHOTS/name)
        b.load(f'{server}/index.html', width=420, height=900)               # a phone-sized window
        b.screenshot(SHOTS/'home-narrow.png', width=420, max_height=1400)
    finally: b.close()
    return res

# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize('page', PAGES, ids=[p['href'] for p in PAGES])
def test_page(page, loaded):
    "Every notebook's page loads cleanly and shows what a reader should see."
    info = loaded[page['href']]
    href = page['href']
    assert page['title'] in info['title'], f"{href}: <title> is {info['title']!r}, expected the front matter title {page['title']!r}"
    assert info['h1'] == page['title'], f"{href}: the <h1> is {info['h1']!r}, expected {page['title']!r}"
    assert not info['errors'], f'{href}: console or network errors:\n' + '\n'.join(info['errors'])
    assert not info['directive_lines'], f"{href}: raw `#|` directive lines shown: {info['directive_lines']}"
    assert not info['attr_text'], f'{href}: pandoc attributes (e.g. {{target="_blank"}}) or ::: fences shown as text'
    assert not info['frontmatter_text'], f'{href}: the front matter is shown as text'
    assert not info['katex_errors'], f"{href}: KaTeX could not typeset: {info['katex_errors']}"
    assert not info['raw_math'], f'{href}: {info["raw_math"]} math delimiters left untypeset ($$, \\( or \\[)'
    assert not info['broken_images'], f"{href}: images that did not load: {info['broken_images']}"
    if info['code_blocks']: assert info['highlighted'], f'{href}: code is not syntax-highlighted'

STAGES = [p for p in PAGES if re.match(r'\d\d_', Path(p['nb']).name) and int(Path(p['nb']).name[:2]) < 90]

@pytest.mark.parametrize('page', STAGES, ids=[p['href'] for p in STAGES])
def test_stage_page_has_a_figure(page, loaded):
    "Every stage's page (01 to 89) shows at least one loaded figure, with or without ../shared and the demo."
    info = loaded[page['href']]
    assert info['figures'] >= 1, f"{page['href']}: no figure loaded (images: {info['figures']}, broken: {info['broken_images']})"

def test_home_page_pipeline_strip(loaded):
    "The home page has its pipeline strip (a real photo at each stage) even when the demo has not been run."
    assert loaded['index.html']['figures'] >= 1, 'index.html: no figure (the pipeline strip is missing)'

def test_demo_on_the_site(loaded):
    "When `make demo` has run before the build: its figures, results table and model card are on the home page, and no page says it has not been run."
    if not DEMO_RESULTS.exists(): pytest.skip(f'{DEMO_RESULTS} not found: the demo has not been run here (make demo)')
    home = loaded['index.html']
    n_demo = sum((DEMO_RESULTS.parent/f'{f}.png').exists() for f in DEMO_FIGURES)
    assert n_demo == len(DEMO_FIGURES), f'make demo did not write all of {DEMO_FIGURES} into {DEMO_RESULTS.parent}'
    assert home['figures'] >= 1 + n_demo, f"index.html shows {home['figures']} figures, expected the strip and {n_demo} demo figures"
    assert any('best.pt' in t and 'measured' in t for t in home['tables']), 'index.html: no results table with the demo row'
    assert home['model_card'], 'index.html: no model card (its heading, intended use and limits)'
    said = {href: info['not_run'] for href, info in loaded.items() if info['not_run']}
    assert not said, f'pages that say the demo has not been run although it has: {said}'

def test_navigation_links_every_page(loaded):
    "The navigation bar of every page links every page, in notebook order."
    want = [p['href'] for p in PAGES]
    for href, info in loaded.items():
        got = [re.sub(r'^(\.\.?/)*', '', h) for h in info['nav']]
        got = list(dict.fromkeys(h for h in got if h in want))
        assert got == want, f'{href}: the navigation links {got}, expected {want}'

def test_internal_links_resolve(loaded):
    "Every link from one page to another (and to a section of it) points at something that exists."
    ids = {href: set(info['ids']) for href, info in loaded.items()}
    bad, sections = [], []
    for href, info in loaded.items():
        base = href.rsplit('/', 1)[0] + '/' if '/' in href else ''
        for link in info['links']:
            if re.match(r'^[a-z]+:', link) or link.startswith('//'): continue     # http(s):, mailto:, data:
            path, _, frag = link.partition('#')
            target = href if not path else os.path.normpath(base + path).replace(os.sep, '/')
            if target.endswith('/'): target += 'index.html'
            if target not in ids:
                if not (get_config().doc_path/target).exists(): bad.append(f'{href}: {link} (no such file)')
            elif frag and frag not in ids[target]: sections.append(f'{href}: {link}')
    assert not bad, 'broken links:\n' + '\n'.join(bad)
    if sections:   # e.g. nbdev links a private `_name` in backticks, which has no show_doc section
        warnings.warn('links to sections that do not exist (the page opens at its top):\n' + '\n'.join(sections))

def test_no_failed_requests(loaded):
    "The server saw no request for a missing file (stylesheets, scripts, fonts, figures)."
    assert not _Handler.failures, f'requests that failed: {_Handler.failures}'

def test_screenshots(loaded):
    "Screenshots of the home page and of a module page are saved for a person to look at."
    for name in ('home.png', 'module.png'):
        f = SHOTS/name
        assert f.exists() and f.stat().st_size > 10_000, f'{f} missing or empty'
        assert f.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'

# --------------------------------------------------------------------------------------------
# the executor, the processing and the README tool, without a browser (fast)
# --------------------------------------------------------------------------------------------
def _nb(path:Path, *cells) -> Path:
    "A notebook at `path` with the given (cell_type, source[, outputs]) cells."
    import nbformat
    mk = {'raw': nbformat.v4.new_raw_cell, 'markdown': nbformat.v4.new_markdown_cell, 'code': nbformat.v4.new_code_cell}
    nb = nbformat.v4.new_notebook(cells=[mk[c[0]](c[1], **({'outputs': c[2]} if len(c) > 2 else {})) for c in cells])
    nb.metadata['kernelspec'] = {'name': 'python3', 'language': 'python', 'display_name': 'Python 3'}
    nbformat.write(nb, path)
    return path

def test_executor_skips_exactly_what_nbdev_test_skips(tmp_path):
    "tools/docs.py runs a notebook's cells as nbdev_test does: `tst_flags` cells, `eval: false` and `nbdev_export()` skipped, an error fails it."
    from nbdev.test import test_nb
    from execnb.nbio import read_nb
    boom = "raise Exception('{} ran')"
    fn = _nb(tmp_path/'t.ipynb', ('raw', '---\ntitle: T\n---'), ('code', 'x = 1'), ('code', '#| slow\n' + boom.format('slow')),
             ('code', '#| cuda\n' + boom.format('cuda')), ('code', '#| eval: false\n' + boom.format('eval')),
             ('code', 'def nbdev_export(): raise Exception()\nnbdev_export()'), ('code', 'print(x + 1)'))
    flags = set(get_config().tst_flags.split())
    assert test_nb(fn, skip_flags=flags)[0] and dt.execute((fn, tmp_path/'out.ipynb'), flags=flags)[0]
    assert read_nb(tmp_path/'out.ipynb').cells[-1].outputs[0]['text'] == ['2\n']       # executed, outputs kept
    for run_anyway in ('slow', 'cuda'):                                                    # `--flags slow`: both fail
        assert not test_nb(fn, skip_flags=flags, force_flags=[run_anyway], showerr=False)[0]
        assert not dt.execute((fn, tmp_path/'out.ipynb'), flags=flags - {run_anyway})[0]

SHOW_DOC_MD = ('---\n\n[source](https://github.com/a/b/blob/main/m.py#L1){target="_blank" style="float:right; '
               'font-size:smaller"}\n\n### f\n\n*Do $a_i$.*')

def test_prepare_applies_cell_options(tmp_path):
    "Front matter read by nbdev and not shown; `echo: false`, `include: false`, `output: false|asis` applied; pandoc attributes gone."
    from execnb.nbio import read_nb
    import nbformat
    out = lambda t: [nbformat.v4.new_output('stream', name='stdout', text=t)]
    fn = _nb(tmp_path/'01_thing.ipynb', ('raw', '---\ntitle: A thing\ndescription: "a: b"\n---'),
             ('markdown', '## Part {#part}\nSee [x](y.html){target="_blank"}.'),
             ('code', '#| echo: false\n#| output: asis\nprint(md)', out(SHOW_DOC_MD)), ('code', '#| include: false\nsecret = 1'),
             ('code', '#| output: false\nnoisy()', out('noise')), ('code', 'shown = 1'))
    nb = read_nb(fn)
    assert dt.prepare(nb) == {'title': 'A thing', 'description': 'a: b', 'output-file': 'thing.html'}
    warning, md, asis, quiet, shown = nb.cells                                          # nbdev's warning cell first
    assert 'DO NOT EDIT' in warning.source
    assert md.source == '## Part\nSee [x](y.html).'
    assert asis.metadata['transient']['remove_source'] and '{target' not in asis.outputs[0]['data']['text/markdown']
    assert asis.outputs[0]['data']['text/markdown'].startswith('---') and quiet.outputs == [] and shown.source == 'shown = 1'

def test_readme_results_table_comes_from_paper_rows(monkeypatch):
    "The README's results table is made from `evaluate.PAPER_ROWS`, not typed in."
    import make_readme
    from alexnet_nb import evaluate
    monkeypatch.setattr(evaluate, 'PAPER_ROWS', evaluate.PAPER_ROWS + [('Planted net', 'ILSVRC-2010 test', '', 1.5, 0.5, 'here')])
    text = make_readme.make_readme(get_config())
    for m, d, _, a, b, _ in evaluate.PAPER_ROWS: assert f'| {m} | {d} |' in text and f'| {a} | {b} |' in text, m

def test_make_readme_check(tmp_path):
    "`make_readme.py --check` passes on its own output and fails, with a diff, on anything else."
    import make_readme
    out = tmp_path/'README.md'
    assert make_readme.main(['--out', str(out)]) == 0
    text = out.read_text()
    assert text.startswith('# ') and '#|' not in text and '\n---\n' not in text.split('\n', 3)[-1][:200]
    assert make_readme.main(['--check', '--out', str(out)]) == 0
    out.write_text(text + 'edited by hand\n')
    assert make_readme.main(['--check', '--out', str(out)]) == 1
    assert out.read_text().endswith('edited by hand\n')                     # --check writes nothing

def test_every_notebook_has_a_page(site):
    "Each notebook in nbs/ became a page (no browser needed)."
    missing = [p['href'] for p in PAGES if not (site/p['href']).exists()]
    assert not missing, f'pages missing from {site}: {missing}'
