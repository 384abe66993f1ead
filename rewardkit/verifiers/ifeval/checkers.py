"""The IFEval instruction checkers (Zhou et al., "Instruction-Following Evaluation for Large
Language Models", arXiv 2311.07911), keyed by IFEval's instruction ids and taking IFEval's own
``kwargs`` names, so a row of the IFEval data set is checked as the reference implementation
(google-research ``instruction_following_eval``, also shipped in lm-eval) checks it.

`build_check(instruction_id, kwargs)` validates the kwargs once and returns a function
``response -> bool``. Differences from the reference, on purpose:
- a missing or invalid kwarg is an error naming the instruction and the key (the reference
  silently draws a *random* value);
- ``None`` (and NaN) values are dropped (IFEval rows list unused keys as null), other falsy values
  are kept; integral floats become integers (tables with missing values store 3 as 3.0);
- ``keywords:letter_frequency`` counts the character asked for even when it is not a letter
  (two IFEval prompts ask for '#' and '!'; the reference checks a random letter instead).
Regexes built from kwargs (keywords, markers) are used as the reference uses them -- unescaped --
and compiled at build time, so a bad one fails there.
"""

from __future__ import annotations

import inspect
import json
import re
from collections import Counter
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from rewardkit.verifiers.ifeval import text as _t

__all__ = ["build_check", "INSTRUCTION_IDS", "EXTRA_INSTRUCTION_IDS", "Check", "loose_variants"]

Check = Callable[[str], bool]

_RELATIONS = ("less than", "at least")
_CONSTRAINED = ("My answer is yes.", "My answer is no.", "My answer is maybe.")


def _relation(key: str, value: str) -> Callable[[int, int], bool]:
    if value not in _RELATIONS:
        raise ValueError(f"{key} must be one of {_RELATIONS}, got {value!r}")
    return (lambda a, b: a < b) if value == "less than" else (lambda a, b: a >= b)


def _count(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{key} must be a non-negative integer, got {value!r}")
    return value


def _regex(key: str, pattern: str, flags: int = 0) -> re.Pattern[str]:
    try:
        return re.compile(pattern, flags)
    except re.error as e:
        raise ValueError(f"{key} {pattern!r} is not a valid regular expression: {e}") from None


@lru_cache(maxsize=256)  # two language checks of one prompt see the same text; few entries bound the memory
def _language(text: str) -> str | None:
    try:
        return _t.detect_language(text)
    except _t.LanguageUndetectable:
        return None


# -- one builder per instruction id: keyword-only arguments are the IFEval kwargs -----------------
def _capital_word_frequency(*, capital_frequency: int, capital_relation: str) -> Check:
    n, rel = _count("capital_frequency", capital_frequency), _relation("capital_relation", capital_relation)
    return lambda r: rel(sum(w.isupper() for w in _t.word_tokenize(r)), n)


def _english(case: str) -> Callable[..., Check]:
    def build(*, undetectable_ok: bool = True) -> Check:
        def check(r: str) -> bool:
            if not (r.isupper() if case == "upper" else r.islower()):
                return False
            lang = _language(r)
            return undetectable_ok if lang is None else lang == "en"
        return check
    return build


def _repeat_prompt(*, prompt_to_repeat: str) -> Check:
    if not prompt_to_repeat:
        raise ValueError("prompt_to_repeat must be a non-empty string")
    want = prompt_to_repeat.strip().lower()
    return lambda r: r.strip().lower().startswith(want)


def _two_responses() -> Check:
    def check(r: str) -> bool:
        parts = r.split("******")
        kept = []
        for i, p in enumerate(parts):
            if p.strip():
                kept.append(p)
            elif 0 < i < len(parts) - 1:
                return False  # an empty response between two separators
        return len(kept) == 2 and kept[0].strip() != kept[1].strip()
    return check


_PLACEHOLDER = re.compile(r"\[.*?\]")


def _placeholders(*, num_placeholders: int) -> Check:
    n = _count("num_placeholders", num_placeholders)
    return lambda r: len(_PLACEHOLDER.findall(r)) >= n


def _postscript(*, postscript_marker: str) -> Check:
    marker = postscript_marker.strip()
    if marker == "P.P.S":
        pattern = r"\s*p\.\s?p\.\s?s.*$"
    elif marker == "P.S.":
        pattern = r"\s*p\.\s?s\..*$"
    else:
        pattern = r"\s*" + marker.lower() + r".*$"
    rx = _regex("postscript_marker", pattern, re.MULTILINE)
    return lambda r: rx.search(r.lower()) is not None


def _constrained_response() -> Check:
    return lambda r: any(opt in r.strip() for opt in _CONSTRAINED)


_FENCE_PREFIXES = ("```json", "```Json", "```JSON", "```")


def _json_format() -> Check:
    def check(r: str) -> bool:
        v = r.strip()
        for p in _FENCE_PREFIXES:
            v = v.removeprefix(p)
        v = v.removesuffix("```").strip()
        try:
            json.loads(v)
        except (ValueError, RecursionError):
            return False
        return True
    return check


def _multiple_sections(*, section_spliter: str, num_sections: int) -> Check:
    n = _count("num_sections", num_sections)
    rx = _regex("section_spliter", r"\s?" + section_spliter.strip() + r"\s?\d+\s?")
    return lambda r: len(rx.split(r)) - 1 >= n


_BULLET_STAR = re.compile(r"^\s*\*[^\*].*$", re.MULTILINE)
_BULLET_DASH = re.compile(r"^\s*-.*$", re.MULTILINE)


def _bullet_lists(*, num_bullets: int) -> Check:
    n = _count("num_bullets", num_bullets)
    return lambda r: len(_BULLET_STAR.findall(r)) + len(_BULLET_DASH.findall(r)) == n


_HIGHLIGHT = re.compile(r"\*[^\n\*]*\*")
_DOUBLE_HIGHLIGHT = re.compile(r"\*\*[^\n\*]*\*\*")


def _highlights(*, num_highlights: int) -> Check:
    n = _count("num_highlights", num_highlights)

    def check(r: str) -> bool:
        single = sum(1 for h in _HIGHLIGHT.findall(r) if h.strip("*").strip())
        double = sum(1 for h in _DOUBLE_HIGHLIGHT.findall(r) if h[2:-2].strip())
        return single + double >= n
    return check


_TITLE = re.compile(r"<<[^\n]+>>")


def _title() -> Check:
    return lambda r: any(t.lstrip("<").rstrip(">").strip() for t in _TITLE.findall(r))


def _keywords_exist(*, keywords: list[str]) -> Check:
    if not keywords:
        raise ValueError("keywords must be a non-empty list")
    rxs = [_regex("keywords", k, re.IGNORECASE) for k in sorted(keywords)]
    return lambda r: all(rx.search(r) for rx in rxs)


def _forbidden_words(*, forbidden_words: list[str]) -> Check:
    if not forbidden_words:
        raise ValueError("forbidden_words must be a non-empty list")
    rxs = [_regex("forbidden_words", r"\b" + w + r"\b", re.IGNORECASE) for w in sorted(set(forbidden_words))]
    return lambda r: not any(rx.search(r) for rx in rxs)


def _keyword_frequency(*, keyword: str, frequency: int, relation: str) -> Check:
    if not keyword or not keyword.strip():
        raise ValueError("keyword must be a non-empty string")
    rx = _regex("keyword", keyword.strip(), re.IGNORECASE)
    n, rel = _count("frequency", frequency), _relation("relation", relation)
    return lambda r: rel(len(rx.findall(r)), n)


def _letter_frequency(*, letter: str, let_frequency: int, let_relation: str) -> Check:
    # IFEval swaps anything but one ASCII letter for a *random* letter; two of its prompts ask for
    # '#' and '!' -- we count the character the prompt asks for.
    if not isinstance(letter, str) or len(letter.strip()) != 1:
        raise ValueError(f"letter must be one character, got {letter!r}")
    letter = letter.strip()
    ch = letter.lower()
    n, rel = _count("let_frequency", let_frequency), _relation("let_relation", let_relation)
    return lambda r: rel(Counter(r.lower())[ch], n)


def _response_language(*, language: str, undetectable_ok: bool = True) -> Check:
    if not isinstance(language, str) or not language:
        raise ValueError(f"language must be an ISO 639-1 code such as 'en', got {language!r}")

    def check(r: str) -> bool:
        lang = _language(r)
        return undetectable_ok if lang is None else lang == language
    return check


def _nth_paragraph_first_word(*, num_paragraphs: int, nth_paragraph: int, first_word: str) -> Check:
    n, k = _count("num_paragraphs", num_paragraphs), _count("nth_paragraph", nth_paragraph)
    if not 1 <= k <= n:
        raise ValueError(f"nth_paragraph must be in 1..num_paragraphs ({n}), got {k}")
    want = first_word.lower()
    stops = set(".,?!'\"")

    def check(r: str) -> bool:
        paras = r.split("\n\n")
        count = sum(1 for p in paras if p.strip())
        if k > count:
            return False
        para = paras[k - 1].strip()
        if not para:
            return False
        word = para.split()[0].strip().lstrip("'").lstrip('"')
        first = ""
        for c in word:
            if c in stops:
                break
            first += c.lower()
        return count == n and first == want
    return check


_PARAGRAPH_SEP = re.compile(r"\s?\*\*\*\s?")


def _number_paragraphs(*, num_paragraphs: int) -> Check:
    n = _count("num_paragraphs", num_paragraphs)

    def check(r: str) -> bool:
        paras = _PARAGRAPH_SEP.split(r)
        count = len(paras)
        for i, p in enumerate(paras):
            if not p.strip():
                if i in (0, len(paras) - 1):
                    count -= 1
                else:
                    return False  # an empty paragraph between two separators
        return count == n
    return check


def _number_sentences(*, num_sentences: int, relation: str) -> Check:
    n, rel = _count("num_sentences", num_sentences), _relation("relation", relation)
    return lambda r: rel(_t.count_sentences(r), n)


def _number_words(*, num_words: int, relation: str) -> Check:
    n, rel = _count("num_words", num_words), _relation("relation", relation)
    return lambda r: rel(_t.count_words(r), n)


def _no_comma() -> Check:
    return lambda r: "," not in r


def _end_checker(*, end_phrase: str) -> Check:
    want = end_phrase.strip().lower()
    return lambda r: r.strip().strip('"').lower().endswith(want)


def _quotation() -> Check:
    def check(r: str) -> bool:
        v = r.strip()
        return len(v) > 1 and v[0] == '"' and v[-1] == '"'
    return check


# checkers that IFEval's test suite covers but its prompts never use --------------------------------
def _constrained_start(*, starter: str) -> Check:
    rx = _regex("starter", r"^\s*" + starter.strip() + r".*$", re.MULTILINE)
    return lambda r: rx.search(r) is not None


def _key_sentences(*, key_sentences: list[str], num_sentences: int) -> Check:
    keys, n = list(key_sentences), _count("num_sentences", num_sentences)
    return lambda r: sum(1 for s in keys if s in _t.split_into_sentences(r)) == n


_CHANGE = re.compile(r"\*.*\*")
_CHANGE_LAZY = re.compile(r"\*.*?\*")


def _rephrase(*, original_message: str) -> Check:
    if not _CHANGE.search(original_message):
        raise ValueError("original_message must mark the changed part as *change me*")
    want = _CHANGE_LAZY.sub("", original_message)

    def check(r: str) -> bool:
        if not _CHANGE.search(r):
            raise ValueError("the response does not mark its change as *change me*")
        return _CHANGE_LAZY.sub("", r) == want
    return check


def _rephrase_paragraph(*, original_paragraph: str, low: int, high: int) -> Check:
    orig = Counter(re.findall(r"\w+", original_paragraph.lower()))

    def check(r: str) -> bool:
        got = Counter(re.findall(r"\w+", r.lower()))
        same = sum(min(c, got[w]) for w, c in orig.items())
        return low <= same <= high
    return check


_BUILDERS: dict[str, Callable[..., Check]] = {
    "change_case:capital_word_frequency": _capital_word_frequency,
    "change_case:english_capital": _english("upper"),
    "change_case:english_lowercase": _english("lower"),
    "combination:repeat_prompt": _repeat_prompt,
    "combination:two_responses": _two_responses,
    "detectable_content:number_placeholders": _placeholders,
    "detectable_content:postscript": _postscript,
    "detectable_format:constrained_response": _constrained_response,
    "detectable_format:json_format": _json_format,
    "detectable_format:multiple_sections": _multiple_sections,
    "detectable_format:number_bullet_lists": _bullet_lists,
    "detectable_format:number_highlighted_sections": _highlights,
    "detectable_format:title": _title,
    "keywords:existence": _keywords_exist,
    "keywords:forbidden_words": _forbidden_words,
    "keywords:frequency": _keyword_frequency,
    "keywords:letter_frequency": _letter_frequency,
    "language:response_language": _response_language,
    "length_constraints:nth_paragraph_first_word": _nth_paragraph_first_word,
    "length_constraints:number_paragraphs": _number_paragraphs,
    "length_constraints:number_sentences": _number_sentences,
    "length_constraints:number_words": _number_words,
    "punctuation:no_comma": _no_comma,
    "startend:end_checker": _end_checker,
    "startend:quotation": _quotation,
}
_EXTRA: dict[str, Callable[..., Check]] = {
    "multi-turn:constrained_start": _constrained_start,
    "keywords:key_sentences": _key_sentences,
    "detectable_format:rephrase": _rephrase,
    "detectable_content:rephrase_paragraph": _rephrase_paragraph,
}
#: the 25 instruction ids of the IFEval prompt set
INSTRUCTION_IDS: tuple[str, ...] = tuple(sorted(_BUILDERS))
#: checkers from IFEval's code base that its prompts never use
EXTRA_INSTRUCTION_IDS: tuple[str, ...] = tuple(sorted(_EXTRA))
_ALL = {**_BUILDERS, **_EXTRA}
_LANGUAGE_IDS = {"change_case:english_capital", "change_case:english_lowercase", "language:response_language"}


def _absent(v: Any) -> bool:
    """IFEval's "unused kwarg": None, or NaN where a table (pandas, parquet) turned None into a float."""
    return v is None or (isinstance(v, float) and v != v)


def _plain(v: Any) -> Any:
    """Integral floats (3.0 from a table with missing values) are the integers IFEval wrote."""
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if hasattr(v, "tolist") and not isinstance(v, (str, bytes)):  # numpy arrays / scalars
        return v.tolist()
    return v


def kwarg_names(instruction_id: str) -> tuple[str, ...]:
    """IFEval's kwargs names for an instruction id."""
    return tuple(p for p in inspect.signature(_lookup(instruction_id)).parameters if p != "undetectable_ok")


def _lookup(instruction_id: str) -> Callable[..., Check]:
    try:
        return _ALL[instruction_id]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(str(instruction_id), _ALL, n=2)
        hint = f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""
        raise ValueError(f"unknown IFEval instruction id {instruction_id!r}{hint}") from None


def build_check(instruction_id: str, kwargs: Mapping[str, Any] | None = None, *,
                undetectable_ok: bool = True) -> Check:
    """Validate ``kwargs`` for ``instruction_id`` and return its ``response -> bool`` check.

    ``undetectable_ok``: the verdict of the language checks when langdetect finds no language in
    the response (IFEval: followed).
    """
    builder = _lookup(instruction_id)
    given = {k: _plain(v) for k, v in (kwargs or {}).items() if not _absent(v)}
    names = kwarg_names(instruction_id)
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise ValueError(f"{instruction_id}: unknown kwargs {unknown}; it takes {list(names) or 'none'}")
    missing = [n for n in names if n not in given]
    if missing:
        raise ValueError(f"{instruction_id}: missing kwargs {missing}")
    if instruction_id in _LANGUAGE_IDS:
        given["undetectable_ok"] = undetectable_ok
    try:
        return builder(**given)
    except (ValueError, TypeError, AttributeError) as e:
        raise ValueError(f"{instruction_id}: {e}") from None


def loose_variants(response: str) -> list[str]:
    """IFEval's loose responses: without the first and/or last line, and without ``*``
    markup (8 combinations, duplicates removed, order kept)."""
    lines = response.split("\n")
    base = [response, "\n".join(lines[1:]).strip(), "\n".join(lines[:-1]).strip(),
            "\n".join(lines[1:-1]).strip()]
    out = [response, response.replace("*", "")]
    out += [b.replace("*", "") if star else b for star in (False, True) for b in base[1:]]
    seen: set[str] = set()
    return [v for v in out if not (v in seen or seen.add(v))]  # type: ignore[func-returns-value]
