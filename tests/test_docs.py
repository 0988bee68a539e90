"""Every code example in README.md, CONTRIBUTING.md and docs/**/*.md runs, offline.

What is collected: each ```` ```python ```` fenced block of README.md and docs/**/*.md
(docs/cli.md is generated from the CLI and holds none), and each ```` ```bash ```` block of
those files and CONTRIBUTING.md.

**The marker convention.** Every block runs unless the line right above its fence is an
HTML comment (invisible on a rendered page) saying otherwise:

* ``<!-- doctest: skip: <reason> -->`` -- not run; the reason is required, and each such
  block is one skipped ``test_skipped_block`` case, so pytest's ``-rs`` summary lists them
  all with their reasons. For
  fragments that are not a program (a method excerpt, a diagram of calls), a server that
  blocks forever, or commands that install software or talk to real services.
* ``<!-- doctest: protocol <module>.<Class> -->`` -- a Protocol excerpt: not executed, but
  each method it shows must exist on that class with the same parameter names (and be
  async exactly when shown async).
* ``<!-- doctest: excerpt <path> -->`` -- lines quoted from a file of this repository (the
  worked examples): not executed, but every line, comments aside, must appear in that file
  in the same order, so the quote cannot drift from the code it quotes.
* ``<!-- doctest: file <name> -->`` -- the block (YAML, say) is written to ``<name>`` in the
  page's directory when the page reaches it, for the blocks after it to use.
* ``<!-- doctest: output -->`` -- the block is what the Python block before it prints,
  exactly (trailing blanks aside).

**How a page runs.** One test per page (``test_page_examples_run``): its blocks run in
order. The Python blocks run in one namespace, as a
reader types them into one interpreter session (later blocks may use names from earlier
ones; top-level ``await`` is allowed, as in ``python -m asyncio``). Nothing is injected
into that namespace. The page runs in an empty temporary directory, with fake keys in
``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``, ``AZURE_OPENAI_API_KEY`` and ``HF_TOKEN`` and
the keyring switched off (``INSIGHTFORGE_NO_KEYRING``).

**Real-world examples, offline.** Pages that use the emulator say so and run as written
(``base_url=emu.openai_url``). Pages that show the real-world form --
``OpenAI(model="gpt-4o-mini")`` with no ``base_url`` -- keep it: the test points each
provider class's documented ``default_base_url`` (the ``base_url`` used when none is
given) at a loopback emulator for the duration of the page. That is the only
substitution: a block that would reach any other real service is rewritten to use a local
one (``ledger="sqlite:budget.db"  # or "redis://..."``) or skipped with a reason. Running
``insightforge emulator`` and pointing ``OPENAI_BASE_URL`` at it was the alternative; the
provider classes do not read that variable, and patching one class attribute is plainer.

Bash blocks: a line runs when it starts with ``insightforge `` (the installed command, run
from this venv with the same environment and directory as the page's Python blocks); any
other command (setup, pip, exports, git, servers) needs the skip marker.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import inspect
import io
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from insightforge import registry
from tests.conftest import TEST_ANTHROPIC_KEY, TEST_AZURE_KEY, TEST_HF_TOKEN, TEST_OPENAI_KEY

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", ROOT / "CONTRIBUTING.md",
         *sorted(p for p in (ROOT / "docs").rglob("*.md") if p != ROOT / "docs" / "cli.md")]
FENCE = re.compile(r"^```(\w*)\s*$")
MARKER = re.compile(r"^<!--\s*doctest:\s*(skip|protocol|excerpt|file|output)\b:?\s*(.*?)\s*-->\s*$")
ENV = {"OPENAI_API_KEY": TEST_OPENAI_KEY, "ANTHROPIC_API_KEY": TEST_ANTHROPIC_KEY,
       "AZURE_OPENAI_API_KEY": TEST_AZURE_KEY, "HF_TOKEN": TEST_HF_TOKEN,
       "INSIGHTFORGE_NO_KEYRING": "1"}


@attrs.frozen
class Block:
    """One fenced block.

    Attributes:
        page: the Markdown file; line: the line of its opening fence (1-based).
        lang: the fence's language; code: its text.
        marker: ``"skip"``, ``"protocol"`` or ``""``; note: the marker's reason / target.
    """

    page: Path
    line: int
    lang: str
    code: str
    marker: str = ""
    note: str = ""

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """The fenced blocks of ``page``, with the marker comment above each, if any."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if fence is None:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        marker = MARKER.match(lines[i - 1]) if i else None
        found.append(Block(page, i + 1, fence.group(1), "\n".join(lines[i + 1:end]) + "\n",
                           marker.group(1) if marker else "", marker.group(2) if marker else ""))
        i = end + 1
    return found


ALL = [b for page in PAGES for b in blocks(page)]


def page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, emulator: Any) -> Any:
    """The page's world: a temp directory, fake keys, default base URLs on the emulator."""
    from providers import Anthropic, Ollama, OpenAI

    monkeypatch.chdir(tmp_path)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(OpenAI, "default_base_url", emulator.openai_url)
    monkeypatch.setattr(Ollama, "default_base_url", emulator.ollama_url)
    monkeypatch.setattr(Anthropic, "default_base_url", emulator.anthropic_url)
    for names in (registry._layers, registry._providers):  # a page may register a plugin
        monkeypatch.setattr(names, "_code", dict(names._code))
    return emulator


def run_python(block: Block, namespace: dict[str, Any]) -> None:
    """Run one block in ``namespace``; top-level ``await`` runs on a fresh event loop."""
    code = compile(block.code, block.where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    if code.co_flags & inspect.CO_COROUTINE:
        asyncio.run(eval(code, namespace))
    else:
        exec(code, namespace)


@contextlib.contextmanager
def closing_namespace(namespace: dict[str, Any]) -> Iterator[None]:
    """Close what a page opened and left open (stacks, providers), like an ended session."""
    try:
        yield
    finally:
        for value in namespace.values():
            if type(value).__module__.startswith(("insightforge", "providers", "middleware")):
                with contextlib.suppress(Exception):
                    close = getattr(value, "close", None)
                    if callable(close) and not inspect.isclass(value):
                        close()


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_page_examples_run(page: Path, offline: Any) -> None:
    """The page's blocks, in order: Python in one namespace, files written, commands run."""
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    out = io.StringIO()
    printed = ""  # what the last Python block printed
    with closing_namespace(namespace), contextlib.redirect_stdout(out):
        for block in blocks(page):
            try:
                if block.marker == "file":
                    Path(block.note).write_text(block.code, encoding="utf-8")
                elif block.marker == "output":
                    assert printed.rstrip() == block.code.rstrip(), (
                        f"the block before printed:\n{printed}")
                elif block.marker:
                    continue
                elif block.lang == "python":
                    before = len(out.getvalue())
                    run_python(block, namespace)
                    printed = out.getvalue()[before:]
                elif block.lang == "bash":
                    run_bash(block)
            except Exception as exc:
                raise AssertionError(f"{block.where}: {type(exc).__name__}: {exc}\n"
                                     f"--- block ---\n{block.code}--- output ---\n"
                                     f"{out.getvalue()}") from exc
    print(out.getvalue())  # shown with -s: compare with the page's comments


PROTOCOLS = [b for b in ALL if b.marker == "protocol"]


@pytest.mark.parametrize("block", PROTOCOLS, ids=lambda b: b.where)
def test_protocol_excerpts_match_the_code(block: Block) -> None:
    module_name, _, class_name = block.note.rpartition(".")
    cls = getattr(__import__(module_name, fromlist=[class_name]), class_name)
    tree = ast.parse(block.code)
    shown = [node for node in ast.walk(tree)
             if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]
    assert shown, f"{block.where}: no methods in the excerpt"
    for node in shown:
        real = getattr(cls, node.name, None)
        assert real is not None, f"{block.where}: {block.note} has no method {node.name}"
        documented = [a.arg for a in (*node.args.posonlyargs, *node.args.args,
                                      *node.args.kwonlyargs)]
        actual = list(inspect.signature(real).parameters)
        assert documented == actual, f"{block.where}: {node.name}{documented} != {actual}"
        assert isinstance(node, ast.AsyncFunctionDef) == inspect.iscoroutinefunction(real), (
            f"{block.where}: {node.name} is async in one and not the other")


def _code_lines(text: str) -> list[str]:
    """Lines without comments and indentation, blank ones dropped."""
    lines = [re.sub(r"\s#\s.*$", "", line).strip() for line in text.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


EXCERPTS = [b for b in ALL if b.marker == "excerpt"]


@pytest.mark.parametrize("block", EXCERPTS, ids=lambda b: b.where)
def test_excerpts_match_the_file_they_quote(block: Block) -> None:
    source = iter(_code_lines((ROOT / block.note).read_text(encoding="utf-8")))
    for line in _code_lines(block.code):
        assert any(line == candidate for candidate in source), (
            f"{block.where}: {line!r} is not in {block.note} (or is out of order)")


def commands(block: Block) -> list[list[str]]:
    """The command lines of a bash block (comments dropped), as argument lists."""
    return [words for line in block.code.splitlines()
            if (words := shlex.split(line, comments=True))]


def run_bash(block: Block) -> None:
    """Run each ``insightforge ...`` line of a bash block; any other command is an error."""
    exe = Path(sys.executable).parent / "insightforge"
    for words in commands(block):
        if words[0] != "insightforge":
            raise AssertionError(f"only `insightforge ...` lines run; mark the block "
                                 f"<!-- doctest: skip: <reason> --> for {words[0]!r}")
        done = subprocess.run([str(exe), *words[1:]], capture_output=True, text=True,
                              timeout=60, stdin=subprocess.DEVNULL, check=False)
        print(f"$ {shlex.join(words)}\n{done.stdout}{done.stderr}")
        if done.returncode != 0:
            raise AssertionError(f"exit code {done.returncode}")


def test_every_block_is_accounted_for() -> None:
    """Each Python/bash block runs or is marked; the markers are well formed."""
    for block in ALL:
        assert not (block.marker == "skip" and not block.note), (
            f"{block.where}: a skip marker needs a reason")
        assert block.lang != "python" or block.page.name != "CONTRIBUTING.md", (
            f"{block.where}: Python in CONTRIBUTING.md is not collected; move it to docs/")
    ran = [b for b in ALL if b.lang == "python" and not b.marker]
    assert len(ran) >= 30, f"only {len(ran)} Python blocks run: did the fence parsing break?"


SKIPPED = [b for b in ALL if b.marker == "skip"]


@pytest.mark.parametrize("block", SKIPPED, ids=lambda b: b.where)
def test_skipped_block(block: Block) -> None:
    """One skip per marked block, so ``-rs`` lists every block that does not run, and why."""
    pytest.skip(f"{block.where} ({block.lang}): {block.note}")


def test_documented_budget_periods_are_the_accepted_ones() -> None:
    """The periods the docs list are the ones Budget accepts — and so config validation,
    which now asks the layer itself (it once kept its own list, which drifted)."""
    from middleware.budget.policy import PERIODS
    documented = "`period` (" + ", ".join(f"`{p}`" for p in PERIODS) + ")"
    assert documented in (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    budget_doc = (ROOT / "docs" / "middleware" / "budget.md").read_text(encoding="utf-8")
    assert "| `period` | `total`, `day` or `month`" in budget_doc
