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

`docs/` is built with `tools/build_docs.py` first when it is missing or older than a notebook
(`make test` runs `make docs` before pytest, so normally it is fresh). Set `ALEXNET_DOCS_REBUILD=1` to rebuild it anyway.
Where no Chromium is installed the tests skip, saying so.
"""
from __future__ import annotations
import base64, functools, http.server, json, os, re, shutil, subprocess, sys, tempfile
import threading, time, warnings
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/'tools'))
import build_docs as bd                                   # noqa: E402  (notebook list, front matter, page names)

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
    from execnb.nbio import read_nb
    cfg = bd.get_cfg()
    res = []
    for rel in bd.list_notebooks(cfg.nbs_path):
        nb = read_nb(cfg.nbs_path/rel)
        fm = bd.frontmatter(nb)
        res.append(dict(nb=rel.as_posix(), href=bd.page_name(rel, fm), title=str(fm.get('title') or rel.stem)))
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
    cfg = bd.get_cfg()
    docs = cfg.doc_path
    index = docs/'index.html'
    stale = not index.exists() or any(not (docs/p['href']).exists() or
                                      (cfg.nbs_path/p['nb']).stat().st_mtime > index.stat().st_mtime for p in PAGES)
    if index.exists() and DEMO_RESULTS.exists() and DEMO_RESULTS.stat().st_mtime > index.stat().st_mtime: stale = True   # the demo ran since
    if stale: print('docs/ is missing or older than nbs/: building it with tools/build_docs.py')
    if os.environ.get('ALEXNET_DOCS_REBUILD') == '1' or stale:
        r = subprocess.run([sys.executable, str(ROOT/'tools'/'build_docs.py')], cwd=ROOT, capture_output=True, text=True)
        assert r.returncode == 0, f'tools/build_docs.py failed:\n{r.stdout[-3000:]}\n{r.stderr[-5000:]}'
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
                if not (bd.get_cfg().doc_path/target).exists(): bad.append(f'{href}: {link} (no such file)')
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
# the renderer and the README tool, without a browser (fast)
# --------------------------------------------------------------------------------------------
SHOW_DOC_MD = ('---\n\n[source](https://github.com/a/b/blob/main/m.py#L1){target="_blank" style="float:right; '
               'font-size:smaller"}\n\n### f\n\n```python\ndef f(\n    x:int, # what it is\n):\n```\n\n*Do $a_i$.*')

def test_renderer_removes_known_artefacts():
    "Front matter, `#|` lines, `{target=\"_blank\"}` and `echo: false` inputs do not reach the page."
    from execnb.nbio import dict2nb
    nb = dict2nb({'cells': [
        {'cell_type': 'markdown', 'metadata': {}, 'source': '---\ntitle: T\ndescription: a: b\noutput-file: t.html\n---'},
        {'cell_type': 'code', 'metadata': {}, 'outputs': [], 'execution_count': None,
         'source': '#| echo: false\n#| output: asis\nshow_doc(f)'}], 'metadata': {}, 'nbformat': 4, 'nbformat_minor': 5})
    assert 'not valid YAML' in bd.fix_frontmatter(nb)                     # repaired, and said so
    assert nb.cells[0].cell_type == 'raw' and bd.frontmatter(nb) == {'title': 'T', 'description': 'a: b', 'output-file': 't.html'}
    cell = {'cell_type': 'code', 'metadata': {}, 'source': '#| echo: false\n#| output: asis\nshow_doc(f)',
            'outputs': [{'output_type': 'execute_result', 'metadata': {}, 'data': {'text/markdown': SHOW_DOC_MD, 'text/plain': 'f'}}]}
    h = bd.render_cell(cell, 'python', bd.Figures(Path(tempfile.mkdtemp()), 'x.html'))
    assert '#|' not in h and 'show_doc(f)' not in h and '{target' not in h
    assert 'class="source-link" target="_blank"' in h and 'output markdown showdoc' in h and '$a_i$' in h
    opts, code = bd.cell_options('#| code-fold: show\n#| code-summary: "Exported source"\nx = 1\n#| hide_line\ny = 2')
    assert opts == {'code-fold': 'show', 'code-summary': 'Exported source', 'hide_line': 'true'} and code == 'x = 1\ny = 2'

def test_renderer_markdown_extras():
    "Callouts, docs-only blocks, heading ids as pandoc makes them (nbdev's doc links use them), tables."
    h = bd.md2html('::: {.callout-note}\nNote *this*.\n:::\n\n::: {.content-hidden when-format="html"}\nREADME only\n:::\n\n'
                   '| a | b |\n|---|---|\n| 1 | 2 |')
    assert 'class="callout-note callout"' in h and '<em>this</em>' in h and 'README only' not in h and '<table>' in h
    ids, toc = bd.Ids(), []
    body = bd.finish_html(bd.md2html('## The demo, end to end\n### atomic_write\n### atomic_write'), ids, toc,
                          'https://x.github.io/p', {})
    assert [t[1] for t in toc] == ['the-demo-end-to-end', 'atomic_write', 'atomic_write-1']
    assert 'href="utils.html#f"' in bd.finish_html('<a href="https://x.github.io/p/utils.html#f">f</a>', ids, [], 'https://x.github.io/p', {})

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
