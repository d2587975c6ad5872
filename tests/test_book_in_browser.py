"""The built book, opened page by page in headless Chromium with no network.

The module builds the book once (``jupyter-book build . -W -n --keep-going --all``
into ``_build``), serves ``_build/html`` from a local HTTP server, and opens every page of
the table of contents in Chromium, driven by Playwright. Every request that does not go
to the local server is blocked and recorded, so "works offline" is tested, not assumed.
For each page it checks:

- no console errors, no uncaught exceptions, no failed local requests, no blocked
  requests to the network;
- mathematics typeset by the book's own MathJax (``mjx-container`` elements, no raw
  TeX left, no MathJax errors);
- every image loaded;
- widgets rendered where the page stores widget state, and a frame slider, moved,
  shows another image;
- every internal link points at a page that exists, and every anchor at an element
  that exists;
- the Binder and Colab launch buttons of a chapter open that chapter's reader edition in the
  repository named in ``_config.yml``;
- accessibility (issue 16): axe-core's WCAG 2.1 A and AA rules find nothing outside the
  short allow-list below, in light and in dark mode; every image has alt text that is
  neither empty nor a file name (unless it is marked decorative); formulas are no tab
  stops (except one that scrolls sideways in its own box); the sidebar's search button
  shows keyboard focus; and at a 390 px wide phone viewport nothing pans the page
  sideways.

A full-page screenshot of each page is saved under ``_build/screenshots/``.

Needs Chromium at /usr/bin/chromium (``apt-get install chromium``) and the
``playwright`` Python package; without them the tests are skipped, except under
``CI=true``, where they fail. To test an existing build instead of building, set
``LENAKERNEL_BOOK_HTML`` to its ``html`` folder. axe-core is read from
``_build/axe/node_modules/axe-core/axe.min.js`` (``make axe`` installs the version pinned in
``tests/axe/package-lock.json``) or from ``LENAKERNEL_AXE``. What axe found on each page,
before the allow-list, is written to ``_build/a11y-report.json``.
"""

from __future__ import annotations

import functools
import html.parser
import http.server
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "_build" / "screenshots"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
REPOSITORY = CONFIG["repository"]["url"].rstrip("/")
BRANCH = CONFIG["repository"].get("branch", "main")
AXE = Path(os.environ.get("LENAKERNEL_AXE")
           or ROOT / "_build" / "axe" / "node_modules" / "axe-core" / "axe.min.js")
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
A11Y_REPORT = ROOT / "_build" / "a11y-report.json"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}

# axe findings we accept, each for a reason. An entry names the rule, a pattern the
# element's CSS selector (as axe reports it) must match, optionally a pattern for the
# page, and why it cannot be fixed on our side. Anything else axe finds fails the test.
# The list is empty: what the theme, myst-nb and sphinxcontrib-bibtex got wrong is fixed
# on our side (book/_vendor/lenakernel.css and .js, book/_templates, the extension in
# book/_ext), and axe finds nothing else. An entry would look like
#   {"rule": "color-contrast", "target": r"^\.some-widget ", "page": r"^book/01-",
#    "why": "drawn by <library> in colours that no stylesheet of ours reaches"},
AXE_ALLOWED: list[dict] = [
]


def _toc_files():
    """Every document of _toc.yml, in order, as paths without suffix (book/intro, ...)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return files


PAGES = _toc_files()
CHAPTERS = [page for page in PAGES if Path(page).name[:2].isdigit()]


def _missing_browser_reason():
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package `playwright` is not installed (pip install playwright)"
    if not CHROMIUM.exists():
        return "Chromium is not installed at /usr/bin/chromium (apt-get install chromium)"
    if not AXE.exists():
        return f"axe-core is not installed at {AXE} (make axe)"
    return None


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class _Ids(html.parser.HTMLParser):
    """Collect the id and name attributes of a page: the targets of #anchors."""

    def __init__(self):
        super().__init__()
        self.ids = set()

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if key == "id" or (key == "name" and tag == "a"):
                self.ids.add(value)


@functools.lru_cache(maxsize=None)
def _ids_of(path: Path) -> frozenset:
    parser = _Ids()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return frozenset(parser.ids)


def _build_book():
    """Build the book into _build; return (html folder, exit status, warnings)."""
    given = os.environ.get("LENAKERNEL_BOOK_HTML")
    if given:
        return Path(given), 0, []
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    # --all: a full build, so every page's warnings are reported and the API page is
    # regenerated from the package as it is now (an incremental build would skip both).
    result = subprocess.run([str(jupyter_book), "build", ".", "-W", "-n", "--keep-going", "--all"],
                            cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
    output = result.stdout + result.stderr
    warnings = [line for line in output.splitlines() if "WARNING" in line or "ERROR" in line]
    return ROOT / "_build" / "html", result.returncode, warnings


# What each page is checked for, computed in the page itself.
_PAGE_STATE = """() => {
  const maths = Array.from(document.querySelectorAll('.math'));
  return {
    hasMathSource: maths.length > 0,
    typeset: document.querySelectorAll('mjx-container').length,
    untypeset: maths.filter(m => !m.querySelector('mjx-container'))
                    .map(m => m.textContent.slice(0, 80)),
    mathErrors: Array.from(document.querySelectorAll('mjx-merror'))
                     .map(m => m.getAttribute('data-mjx-error') || m.textContent.slice(0, 80)),
    brokenImages: Array.from(document.images)
                       .filter(i => !(i.complete && i.naturalWidth > 0))
                       .map(i => i.getAttribute('src').slice(0, 120)),
    widgetState: document.querySelector(
        'script[type="application/vnd.jupyter.widget-state+json"]') !== null,
    widgets: document.querySelectorAll('.jupyter-widgets, .widget-slider').length,
    links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
  };
}"""

# The first frame slider's handle, readout and visible image, or null.
_SLIDER_STATE = """() => {
  const slider = document.querySelector('.widget-slider');
  if (!slider) return null;
  const box = slider.parentElement;
  const image = Array.from(box.querySelectorAll('img')).find(i => i.offsetParent !== null);
  return {
    readout: (slider.querySelector('.widget-readout') || {}).textContent,
    image: image ? image.src : null,
    imageLoaded: image ? image.complete && image.naturalWidth > 0 : false,
  };
}"""


def _visit(page, base, name, problems):
    """Open one page and return what it showed."""
    problems.clear()
    url = f"{base}/{name}.html"
    page.goto(url, wait_until="load")
    # MathJax 3 typesets after the load event; its startup promise says when it is done.
    page.evaluate("""() => (window.MathJax && window.MathJax.startup && window.MathJax.startup.promise)
                             ? window.MathJax.startup.promise.then(() => true) : true""")
    has_widget_state = page.evaluate(
        "() => !!document.querySelector('script[type=\"application/vnd.jupyter.widget-state+json\"]')")
    if has_widget_state:
        try:
            page.wait_for_selector(".jupyter-widgets", timeout=15000)
        except Exception:  # noqa: BLE001 - reported below as "no widgets rendered"
            pass
    page.wait_for_timeout(300)
    state = page.evaluate(_PAGE_STATE)

    slider = None
    if state["widgets"]:
        before = page.evaluate(_SLIDER_STATE)
        if before is not None:
            handle = page.locator(".widget-slider .noUi-handle").first
            handle.focus()
            page.keyboard.press("ArrowRight")
            page.wait_for_timeout(500)
            after = page.evaluate(_SLIDER_STATE)
            slider = {"before": before, "after": after}

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / (name.replace("/", "__") + ".png")
    page.screenshot(path=str(shot), full_page=True)
    # Images are checked again after the full-page screenshot has scrolled everything.
    state["brokenImages"] = page.evaluate(_PAGE_STATE)["brokenImages"]
    state.update(problems=list(problems), slider=slider, screenshot=shot, url=url)
    state.update(_accessibility(page, name))
    return state


# Every <img> whose text alternative is missing, empty or a file name, unless the image
# is marked decorative (role="presentation"/"none" or aria-hidden="true").
_BAD_ALT = r"""() => {
  // A path or file name (one word with a slash or an extension), an image file's name,
  // or a hash; alt text that says what a figure shows is several words.
  const fileLike = alt => /^\S*[\\/]\S*$|^\S+\.[a-z0-9]{2,5}$/i.test(alt)
                          || /\.(png|jpe?g|gif|svg|webp)$/i.test(alt) || /^[0-9a-f]{16,}$/i.test(alt);
  return Array.from(document.querySelectorAll('img')).flatMap(image => {
    const role = (image.getAttribute('role') || '').trim();
    const decorative = role === 'presentation' || role === 'none'
                       || image.closest('[aria-hidden="true"]') !== null;
    const alt = image.getAttribute('alt');
    const src = (image.getAttribute('src') || '').slice(0, 80);
    if (decorative) return [];
    if (alt === null) return [`no alt: ${src}`];
    if (alt.trim() === '') return [`empty alt without role="presentation": ${src}`];
    if (fileLike(alt.trim())) return [`alt is a file name (${alt.slice(0, 60)}): ${src}`];
    return [];
  });
}"""

# Elements that stick out past the right edge at phone width (outside any box that
# scrolls sideways by itself), for the message when the page pans.
_OVERFLOW = r"""() => {
  const root = document.scrollingElement;
  const width = root.clientWidth;
  // Inside a box that scrolls (or clips) by itself, or in a fixed drawer (the theme's
  // sidebars on a phone), an element does not widen the page.
  const scrollsItself = el => {
    if (getComputedStyle(el).position === 'fixed') return true;
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const style = getComputedStyle(p);
      if (['auto', 'scroll', 'hidden', 'clip'].includes(style.overflowX)) return true;
      if (style.position === 'fixed') return true;
    }
    return false;
  };
  const culprits = [];
  if (root.scrollWidth > width) {
    for (const el of document.body.querySelectorAll('*')) {
      const box = el.getBoundingClientRect();
      // Sticking out itself, or holding content (a long word) that sticks out of it.
      const spills = el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0
                     && getComputedStyle(el).overflowX === 'visible'
                     && Array.from(el.children).every(c => c.getBoundingClientRect().right <= box.right + 1);
      if (box.width > 0 && (box.right > width + 1 || spills) && !scrollsItself(el)) {
        const id = el.id ? '#' + el.id : '';
        const cls = el.className && typeof el.className === 'string'
                    ? '.' + el.className.trim().split(/\s+/).slice(0, 2).join('.') : '';
        culprits.push(`${el.tagName.toLowerCase()}${id}${cls} (right edge ${Math.round(box.right)} px): `
                      + (el.textContent || '').trim().slice(0, 60));
        if (culprits.length >= 8) break;
      }
    }
  }
  return {scrollWidth: root.scrollWidth, clientWidth: width, culprits};
}"""

# Formulas that are tab stops, and the id given to the sidebar's search button.
_KEYBOARD = r"""() => {
  // A formula that scrolls sideways in its own box is a tab stop on purpose (so that the
  // keyboard can scroll it); no other formula is.
  const mathStops = Array.from(document.querySelectorAll('mjx-container'))
      .filter(m => m.tabIndex >= 0 && m.scrollWidth <= m.clientWidth + 1).length;
  const button = document.querySelector('.bd-sidebar-primary .search-button-field');
  if (button && button.offsetParent !== null) button.id = button.id || 'lk-sidebar-search';
  return {mathStops, searchButton: button && button.offsetParent !== null ? button.id : null};
}"""

# Whether the focused element shows a focus ring (an outline or a box shadow).
_FOCUS_RING = r"""() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2;
  // A box shadow counts when it is not transparent and has a spread.
  const shadow = style.boxShadow !== 'none' && !/rgba\(0, 0, 0, 0\)/.test(style.boxShadow)
                 && /\s[1-9][0-9.]*px\s*$|\s[1-9][0-9.]*px(,|$)/.test(style.boxShadow);
  return {focused: el.id, focusVisible: el.matches(':focus-visible'), outline: style.outline,
          boxShadow: style.boxShadow, ring: outline || shadow};
}"""

_RUN_AXE = """async tags => {
  const result = await axe.run(document, {runOnly: {type: 'tag', values: tags},
                                          resultTypes: ['violations']});
  return result.violations.map(v => ({
    rule: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => ({target: n.target.map(String).join(' '),
                              html: n.html.slice(0, 160)})),
  }));
}"""


def _set_mode(page, mode):
    """Switch the theme's colour mode the way its own switch does (pydata-sphinx-theme)."""
    page.evaluate("""mode => {
        document.documentElement.dataset.mode = mode;
        document.documentElement.dataset.theme = mode;
    }""", mode)
    # Let the theme's colour transitions finish before anything measures colours.
    # (Transitions only: an endless animation, a spinner, never finishes; 2 s at most.)
    page.evaluate("""() => Promise.race([
        Promise.all(document.getAnimations().filter(a => a instanceof CSSTransition)
                                            .map(a => a.finished.catch(() => null))),
        new Promise(done => setTimeout(done, 2000))]).then(() => true)""")
    page.wait_for_timeout(100)


def _accessibility(page, name):
    """axe in light and dark mode, image alternatives, and overflow at phone width."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    axe = {}
    for mode in ("light", "dark"):
        _set_mode(page, mode)
        axe[mode] = page.evaluate(_RUN_AXE, AXE_TAGS)
    _set_mode(page, "light")
    bad_alt = page.evaluate(_BAD_ALT)
    keyboard = page.evaluate(_KEYBOARD)
    if keyboard["searchButton"]:
        # A keyboard user's focus on the sidebar's search button must show.
        page.locator(f"#{keyboard['searchButton']}").focus()
        keyboard["searchFocusRing"] = page.evaluate(_FOCUS_RING)
        page.evaluate("() => document.activeElement && document.activeElement.blur()")
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(300)
    overflow = page.evaluate(_OVERFLOW)
    if overflow["scrollWidth"] > overflow["clientWidth"]:
        shot = SCREENSHOTS / "phone" / (name.replace("/", "__") + ".png")
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot), full_page=False)
        overflow["screenshot"] = str(shot)
    page.set_viewport_size(DESKTOP)
    return {"axe": axe, "badAlt": bad_alt, "overflow": overflow, "keyboard": keyboard}


def _allowed(rule, target, page):
    return any(entry["rule"] == rule and re.search(entry["target"], target)
               and re.search(entry.get("page", ""), page) for entry in AXE_ALLOWED)


@pytest.fixture(scope="module")
def site():
    reason = _missing_browser_reason()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the browser test is required under CI: {reason}")
        pytest.skip(f"browser test skipped: {reason}")
    from playwright.sync_api import sync_playwright

    html_root, status, warnings = _build_book()
    assert (html_root / "index.html").exists(), f"no built book at {html_root}:\n" + "\n".join(warnings[-20:])

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(html_root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"

    problems = []
    reports = {}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            context = browser.new_context(viewport=DESKTOP)

            def route(request_route):
                if request_route.request.url.startswith(base + "/"):
                    request_route.continue_()
                else:
                    problems.append(f"blocked a request to the network: {request_route.request.url}")
                    request_route.abort()

            context.route("**/*", route)
            page = context.new_page()
            # The browser's own favicon request is not the book's; everything else counts.
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text} ({m.location.get('url')})")
                    if m.type == "error" and not str(m.location.get("url")).endswith("/favicon.ico")
                    else None)
            page.on("pageerror", lambda e: problems.append(f"uncaught exception: {e}"))
            page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}")
                    if r.url.startswith(base) and not r.url.endswith("/favicon.ico") else None)
            page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}")
                    if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
            started = time.monotonic()
            for name in PAGES:
                reports[name] = _visit(page, base, name, problems)
            seconds = time.monotonic() - started
            browser.close()
    finally:
        server.shutdown()
    _write_a11y_report(reports, seconds)
    return {"base": base, "root": html_root, "status": status, "warnings": warnings,
            "reports": reports}


def _write_a11y_report(reports, seconds):
    """What axe found before the allow-list, per page, mode and rule (for the record)."""
    by_rule = {}
    pages = {}
    for name, report in reports.items():
        pages[name] = {}
        for mode, violations in report["axe"].items():
            pages[name][mode] = {v["rule"]: [n["target"] for n in v["nodes"]] for v in violations}
            for violation in violations:
                counts = by_rule.setdefault(violation["rule"], {"nodes": 0, "allowed": 0, "pages": set()})
                counts["pages"].add(name)
                for node in violation["nodes"]:
                    counts["nodes"] += 1
                    counts["allowed"] += _allowed(violation["rule"], node["target"], name)
    summary = {"pages": len(reports), "seconds_in_browser": round(seconds, 1),
               "by_rule": {rule: {**c, "pages": len(c["pages"])} for rule, c in sorted(by_rule.items())},
               "bad_alt": {n: r["badAlt"] for n, r in reports.items() if r["badAlt"]},
               "phone_overflow": {n: r["overflow"] for n, r in reports.items()
                                  if r["overflow"]["scrollWidth"] > r["overflow"]["clientWidth"]},
               "per_page": pages}
    A11Y_REPORT.parent.mkdir(parents=True, exist_ok=True)
    A11Y_REPORT.write_text(json.dumps(summary, indent=1))


def test_strict_build_has_no_warnings(site):
    assert site["status"] == 0, "the strict build failed:\n" + "\n".join(site["warnings"][-40:])


@pytest.mark.parametrize("name", PAGES)
def test_page_loads_cleanly_offline(site, name):
    report = site["reports"][name]
    assert not report["problems"], f"{report['url']}:\n  " + "\n  ".join(report["problems"])


@pytest.mark.parametrize("name", PAGES)
def test_math_is_typeset(site, name):
    report = site["reports"][name]
    if not report["hasMathSource"]:
        pytest.skip("no mathematics on this page")
    assert report["typeset"] > 0, "MathJax did not typeset anything"
    assert not report["untypeset"], f"raw TeX left on the page: {report['untypeset'][:5]}"
    assert not report["mathErrors"], f"MathJax errors: {report['mathErrors'][:5]}"


@pytest.mark.parametrize("name", PAGES)
def test_images_load(site, name):
    assert not site["reports"][name]["brokenImages"], site["reports"][name]["brokenImages"]


@pytest.mark.parametrize("name", PAGES)
def test_widgets_render_and_sliders_move(site, name):
    report = site["reports"][name]
    if not report["widgetState"]:
        pytest.skip("no widgets on this page")
    assert report["widgets"] > 0, "the page stores widget state but no widget was rendered"
    slider = report["slider"]
    if slider is None:
        return
    before, after = slider["before"], slider["after"]
    assert before["imageLoaded"] and after["imageLoaded"], "the slider's image did not load"
    assert after["readout"] != before["readout"], "the slider did not move"
    assert after["image"] != before["image"], "moving the slider did not change the image"


def test_chapter_one_has_a_working_frame_slider(site):
    report = site["reports"]["book/01-nadaraya-watson"]
    assert report["slider"] is not None, "chapter 1 shows no frame slider"


@pytest.mark.parametrize("name", PAGES)
def test_internal_links_resolve(site, name):
    root, base = site["root"], site["base"]
    broken = []
    for href in sorted(set(site["reports"][name]["links"])):
        if not href.startswith(base + "/"):
            continue  # external links are not followed: there is no network
        parts = urlsplit(href)
        target = root / unquote(parts.path).lstrip("/")
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            broken.append(f"{href} (no file {target.relative_to(root)})")
        elif parts.fragment and target.suffix == ".html":
            if unquote(parts.fragment) not in _ids_of(target):
                broken.append(f"{href} (no anchor #{parts.fragment})")
    assert not broken, "broken links:\n  " + "\n  ".join(broken)


@pytest.mark.parametrize("name", CHAPTERS)
def test_launch_buttons_open_this_chapter(site, name):
    links = site["reports"][name]["links"]
    owner_repo = urlsplit(REPOSITORY).path.strip("/")
    # The buttons open the chapter's reader edition (plain Jupyter markdown), not its source.
    notebook = f"reader/{Path(name).name}.ipynb"
    binder = [link for link in links if "mybinder.org" in link]
    colab = [link for link in links if "colab.research.google.com" in link]
    assert binder, "no Binder launch button"
    assert colab, "no Colab launch button"
    for link in binder:
        assert link.startswith(f"https://mybinder.org/v2/gh/{owner_repo}/{BRANCH}?"), link
        assert link.endswith(notebook), link
    for link in colab:
        assert link == f"https://colab.research.google.com/github/{owner_repo}/blob/{BRANCH}/{notebook}", link


def test_api_page_lists_every_public_name(site):
    from tests.test_api_page import _public_objects

    html_text = (site["root"] / "book" / "api.html").read_text(encoding="utf-8")
    missing = []
    for name, obj in _public_objects():
        module = getattr(obj, "__module__", "")
        if module.startswith("lenakernel.checks"):
            module = "lenakernel.checks"
        if f'id="{module}.{name.split(".")[-1]}"' not in html_text:
            missing.append(name)
    assert not missing, f"not on the API page: {missing}"


def test_screenshots_saved(site):
    for name in PAGES:
        shot = site["reports"][name]["screenshot"]
        assert shot.exists() and shot.stat().st_size > 10_000, shot


@pytest.mark.parametrize("mode", ["light", "dark"])
@pytest.mark.parametrize("name", PAGES)
def test_axe_finds_no_wcag21_aa_violations(site, name, mode):
    failures = []
    for violation in site["reports"][name]["axe"][mode]:
        nodes = [node for node in violation["nodes"]
                 if not _allowed(violation["rule"], node["target"], name)]
        if nodes:
            failures.append(f"{violation['rule']} ({violation['impact']}): {violation['help']}\n    "
                            + "\n    ".join(f"{n['target']}  {n['html']}" for n in nodes[:6])
                            + (f"\n    ... and {len(nodes) - 6} more" if len(nodes) > 6 else ""))
    assert not failures, f"axe, {mode} mode, {name}:\n  " + "\n  ".join(failures)


@pytest.mark.parametrize("name", PAGES)
def test_images_have_real_alt_text(site, name):
    bad = site["reports"][name]["badAlt"]
    assert not bad, "images without a real text alternative:\n  " + "\n  ".join(bad)


@pytest.mark.parametrize("name", PAGES)
def test_nothing_pans_sideways_on_a_phone(site, name):
    overflow = site["reports"][name]["overflow"]
    assert overflow["scrollWidth"] <= overflow["clientWidth"], (
        f"at {PHONE['width']} px the page is {overflow['scrollWidth']} px wide "
        f"(screenshot {overflow.get('screenshot')}); sticking out:\n  " + "\n  ".join(overflow["culprits"]))


def test_allow_list_entries_are_explained():
    for entry in AXE_ALLOWED:
        assert set(entry) <= {"rule", "target", "page", "why"}, entry
        assert entry["rule"] and entry["target"] and len(entry.get("why", "")) > 20, entry


@pytest.mark.parametrize("name", PAGES)
def test_formulas_that_fit_are_not_tab_stops(site, name):
    stops = site["reports"][name]["keyboard"]["mathStops"]
    assert stops == 0, f"{stops} formulas are in the tab order (MathJax menu setting inTabOrder)"


def test_sidebar_search_button_shows_keyboard_focus(site):
    keyboard = site["reports"]["book/intro"]["keyboard"]
    assert keyboard["searchButton"], "no search button in the sidebar of book/intro"
    ring = keyboard["searchFocusRing"]
    assert ring["focusVisible"] and ring["ring"], f"focused, the search button shows no ring: {ring}"
