"""The README and docs/ stay a user guide: short, with links that resolve and no process words."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
GUIDE = [README, *PAGES]

_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
_CODE = re.compile(r"`[^`\n]*`")


def _prose(text: str) -> str:
    """The text without fenced code blocks and inline code (links there are not links)."""
    return _CODE.sub("", _FENCE.sub("", text))


def _links(path: Path) -> list[str]:
    return [a or b for a, b in _LINK.findall(_prose(path.read_text(encoding="utf-8")))]


def _slugs(heading: str) -> set[str]:
    """Anchors a heading gets on GitHub and in MkDocs (Python-Markdown's toc)."""
    text = re.sub(r"[`*_]", "", heading).strip().lower()
    github = re.sub(r"[^\w\- ]", "", text).replace(" ", "-")
    norm = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    mkdocs = re.sub(r"[-\s]+", "-", re.sub(r"[^\w\s-]", "", norm).strip())
    return {github, mkdocs}


def _anchors(path: Path) -> set[str]:
    out: set[str] = set()
    for line in _FENCE.sub("", path.read_text(encoding="utf-8")).splitlines():
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            out |= _slugs(m.group(1))
    return out


def test_readme_is_short() -> None:
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= 450, f"README.md has {lines} lines; keep it <= 450 and move detail to docs/"


@pytest.mark.parametrize("path", GUIDE, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(path: Path) -> None:
    broken = []
    for link in _links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", link) or link.startswith("//"):
            continue  # an absolute URL
        target, _, anchor = link.partition("#")
        dest = (path.parent / target).resolve() if target else path
        if not dest.exists():
            broken.append(
                f"{link} (no file {dest.relative_to(ROOT) if dest.is_relative_to(ROOT) else dest})"
            )
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(f"{link} (no heading with anchor #{anchor} in {dest.name})")
    assert not broken, f"{path.relative_to(ROOT)}: broken links: " + "; ".join(broken)


@pytest.mark.parametrize("path", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_docs_links_stay_inside_docs(path: Path) -> None:
    """The MkDocs site holds docs/ only: a link out of it breaks the strict build."""
    outside = []
    for link in _links(path):
        target = link.partition("#")[0]
        if not target or re.match(r"^[a-z][a-z0-9+.-]*:", link):
            continue
        if not (path.parent / target).resolve().is_relative_to(DOCS.resolve()):
            outside.append(link)
    assert not outside, (
        f"{path.relative_to(ROOT)} links out of docs/: {outside}; name repository files in "
        "`code` instead"
    )


_PROCESS = re.compile(
    r"\b[Ii]ssues? #?\d+|(?<![\w&])#\d+\b|DESIGN\.md|\bload average\b|\bcoordinator\b"
)


@pytest.mark.parametrize("path", GUIDE, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_process_words(path: Path) -> None:
    """Docs speak to users: no issue numbers, no design file outside the repository, no load
    stories (a figure says "idle 2-core CPU" or "busy")."""
    hits = [
        f"line {i}: {m.group(0)!r}"
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        for m in _PROCESS.finditer(line)
    ]
    assert not hits, f"{path.relative_to(ROOT)}: " + "; ".join(hits)


def test_readme_snippets_compile() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 4, "one runnable snippet per pillar"
    for block in blocks:
        compile(block, "README.md", "exec")


def test_quick_start_runs_the_ci_test_command() -> None:
    readme = README.read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert "thinkgym bench" in quick
    assert "python -m pytest -q" in quick and "python -m pytest -q" in ci


def test_mkdocs_nav_pages_exist() -> None:
    yaml = pytest.importorskip("yaml")
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    # mkdocs.yml may hold python tags (!!python/name:...) for extensions: read it tag-blind
    loader = type("Loader", (yaml.SafeLoader,), {})
    loader.add_multi_constructor("", lambda *_: None)
    nav = yaml.load(config, Loader=loader)["nav"]

    def pages(item: object) -> list[str]:
        if isinstance(item, str):
            return [item]
        if isinstance(item, dict):
            return [p for v in item.values() for p in pages(v)]
        if isinstance(item, list):
            return [p for v in item for p in pages(v)]
        return []

    missing = [p for p in pages(nav) if not (DOCS / p).exists()]
    assert not missing, f"mkdocs.yml's nav names pages that do not exist: {missing}"
