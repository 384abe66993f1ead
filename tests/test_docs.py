"""Every code block in README.md and docs/*.md runs as written.

Python blocks are executed (in-process, ``__name__ == "__main__"``, in a fresh temporary working
directory); YAML blocks with a top-level ``rewards:`` key are built into a `Pipeline`. Shell
blocks, output listings and other YAML (trainer configs) are not run. An HTML comment on the line
before a block's fence says more about it (``;`` separates several):

- ``<!-- snippet: name NAME -->``      names the block, so that others can follow it;
- ``<!-- snippet: follows NAME -->``   the block is a fragment: it runs after block NAME (and what
                                        that one follows), in the namespace they left;
- ``<!-- snippet: file PATH -->``      the block's text is written to PATH in the working directory
                                        before any block of that document runs (a config or data
                                        file the prose asks the reader to save);
- ``<!-- snippet: skip REASON -->``    not run, for the stated reason (it needs a model download, a
                                        GPU, a running server ...). A reason is required; it runs to
                                        the end of the comment, so it comes last.

Blocks must be quick: anything that needs a real model or the network is a ``skip``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
_FENCE = re.compile(r"^```([\w+-]*)[^\n]*\n(.*?)^```\s*$", re.M | re.S)
_MARK = re.compile(r"<!--\s*snippet:\s*(.*?)\s*-->\s*$")


@dataclass
class Block:
    doc: Path
    line: int
    lang: str
    code: str
    name: str | None = None
    follows: str | None = None
    skip: str | None = None
    file: str | None = None

    @property
    def id(self) -> str:
        return f"{self.doc.relative_to(REPO)}:{self.line}"


def parse(doc: Path) -> list[Block]:
    text = doc.read_text(encoding="utf-8")
    blocks = []
    for m in _FENCE.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        lang = {"py": "python", "python3": "python", "yml": "yaml"}.get(m.group(1).lower(), m.group(1).lower())
        b = Block(doc, line, lang, m.group(2))
        before = text[:m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        mark = _MARK.search(before)
        text_of_mark = mark.group(1) if mark else ""
        head, sep, reason = text_of_mark.partition("skip ")  # a skip's reason runs to the end
        directives = [d for d in head.split(";") if d.strip()] + ([f"skip {reason}"] if sep else [])
        for directive in directives:
            key, _, value = directive.strip().partition(" ")
            if key not in ("name", "follows", "skip", "file"):
                raise ValueError(f"{b.id}: unknown snippet directive {key!r}")
            if not value.strip():
                raise ValueError(f"{b.id}: snippet directive {key!r} needs a value (a skip needs a reason)")
            setattr(b, key, value.strip())
        blocks.append(b)
    return blocks


ALL = [b for doc in DOCS if doc.exists() for b in parse(doc)]
RUNNABLE = [b for b in ALL if b.lang == "python" or (b.lang == "yaml" and b.file is None)]


def _run(block: Block, by_name: dict[str, Block], seen: tuple[str, ...] = ()) -> dict[str, Any]:
    ns: dict[str, Any] = {"__name__": "__main__"}
    if block.follows is not None:
        if block.follows not in by_name:
            raise AssertionError(f"{block.id}: follows {block.follows!r}, but no block has that name")
        if block.follows in seen:
            raise AssertionError(f"{block.id}: a cycle of 'follows': {seen}")
        ns = _run(by_name[block.follows], by_name, (*seen, block.follows))
    exec(compile(block.code, block.id, "exec"), ns)  # noqa: S102 - our own documentation
    return ns


def test_markers_are_well_formed():
    names = [b.name for b in ALL if b.name]
    assert len(names) == len(set((b.doc, b.name) for b in ALL if b.name)), "duplicate snippet names"
    for b in ALL:
        if b.follows:
            assert any(o.doc == b.doc and o.name == b.follows for o in ALL), f"{b.id}: follows an unknown name"
    assert sum(b.lang == "python" for b in ALL) >= 10  # the extraction finds the documentation's code


@pytest.mark.parametrize("block", RUNNABLE, ids=[b.id for b in RUNNABLE])
def test_block_runs(block: Block, tmp_path, monkeypatch):
    if block.skip:
        pytest.skip(f"{block.id}: {block.skip}")
    same_doc = [b for b in ALL if b.doc == block.doc]
    for b in same_doc:
        if b.file:
            target = tmp_path / b.file
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(b.code, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    if block.lang == "python":
        _run(block, {b.name: b for b in same_doc if b.name})
        return
    data = yaml.safe_load(block.code)
    if not (isinstance(data, dict) and "rewards" in data):
        pytest.skip(f"{block.id}: not a pipeline config")
    from rewardkit.pipeline import Pipeline

    Pipeline(data).close()
