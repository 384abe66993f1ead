"""Final-answer extraction from a completion (regex and brace matching only; no sympy).

Default order (`rewardkit.verifiers.math.config.DEFAULT_ORDER`), first hit wins:

1. ``answer_tag``   -- the last ``<answer>...</answer>``; its content is extracted again (a boxed
   answer inside the tag wins, else the whole content);
2. ``boxed``        -- the last ``\\boxed{...}`` / ``\\fbox{...}`` (nested braces). Boxes separated
   only by connectors (``,``, "and", "or", ``\\quad``, ``\\text{...}``, one plain word such as a
   unit) are joined into a list: ``\\boxed{1} and \\boxed{2}`` -> ``1, 2``; words such as "then",
   "no", "but", "wait" break the chain (the last box is a correction);
3. ``final_answer`` -- "final answer is ...", "the answer is ...", "Answer: ...", "**Answer:** ..."
   (also réponse/respuesta/Antwort/答案): the math after the last such anchor;
4. ``gsm8k``        -- ``#### 42``;
5. ``last_math``    -- the last ``$...$`` / ``$$...$$`` / ``\\(...\\)`` / ``\\[...\\]`` (inline forms
   may not span lines);
6. ``whole``        -- the text itself when it is a bare answer (short, at most one prose word);
7. ``last_number``  -- opt-in (``MathConfig.last_number``): the last number of the text.

Multiple-choice letters (``(B)``, ``B.``, "the answer is B") are extracted by `extract_choice`,
used when the gold answer is a letter (``MathConfig.choices``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rewardkit.verifiers._extract import last_tag
from rewardkit.verifiers.math.config import MathConfig

__all__ = ["Extraction", "extract", "extract_choice", "find_boxed_all"]


@dataclass(frozen=True, slots=True)
class Extraction:
    """What was extracted (``answer``), by which extractor (``source``), and where (``span``)."""

    answer: str
    source: str
    span: tuple[int, int]

    def to_info(self) -> dict[str, object]:
        return {"extracted": self.answer[:300], "extracted_from": self.source, "span": list(self.span)}


_BOX_RX = re.compile(r"\\(?:begin)?(?:boxed|fbox|framebox)\s*(\{)?")
_BOX_BARE_RX = re.compile(r"[ \t]*([^\s$]{1,200})")
_BRACE_RX = re.compile(r"[{}]")
_ANCHOR_RX = re.compile(
    r"(?:final\s+answer|the\s+answer|answer|réponse|respuesta|antwort|risposta|答案|解答)"
    # a verb or a colon must follow: "the answer as a percentage" is prose, not an anchor
    # (one optional run of stars between the spaces: "\s*\**\s*" backtracks quadratically on a
    # long run of spaces that ends without a colon)
    r"(?:\s+(?:is|est|es|ist|would\s+be|should\s+be|will\s+be)\b\s*(?:\*+\s*)?[:：]?|\s*(?:\*+\s*)?[:：]"
    r"|\s*(?=\\\[|\$|\\\())\s*\**"
    r"|\bthe\s+(?:final\s+)?(?:result|value|solution)\s+is\b\s*:?",
    re.I,
)
_FINAL_IS = re.compile(r"final\s+answer\s+is", re.I)
_GSM8K_RX = re.compile(r"####\s*([^\n]+)")
# GSM8K's released model solutions end with a line "A: <answer>" (only the last line counts)
_GSM8K_A_RX = re.compile(r"(?:^|\n)[ \t]*A[ \t]*:[ \t]*([^\n]+?)\s*$")
# "$80-$3 = $..." is currency, not inline math: a span that ends (or starts) with an operator
_DANGLING_OP = re.compile(r"^\s*[=+*/^]|[-+*/=^]\s*$")
# Every span pattern stops at the next opener of its kind: an unclosed "\\[" or "\\(" fails at
# the next one instead of scanning to the end of the text, which keeps matching linear.
_MATH_ENV_RX = re.compile(
    r"(?<!\\)\$\$(?P<dd>.+?)(?<!\\)\$\$"
    r"|\\\[(?P<br>(?:[^\\]|\\(?!\[))+?)\\\]"
    r"|(?<![\\$])\$(?P<d>(?:\\\$|[^$\n])+?)(?<!\\)\$"
    r"|\\\((?P<pa>(?:[^\n\\]|\\(?![()]))+?)\\\)",
    re.S,
)
_NUMBER_RX = re.compile(
    r"(?<![A-Za-z0-9_.^/])-?(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:[.,]\d+)?(?:/\d+(?![.,]\d))?|\.\d+)(?:\s*(?:%|percent\b))?"
)
_BROKEN_INLINE = re.compile(
    r"(?<![\\$])\$(?!\$)[^$\n]*\n[^$]*(?<!\\)\$"
    r"|\\\((?:[^\\\n]|\\(?![()]))*\n(?:[^\\]|\\(?![()]))*\\\)"
)
_CODE_RX = re.compile(r"__\w+__|\blambda\b|\bimport\b|\w\.\w+\(|\bopen\(|\bexec\(|\beval\(|\bglobals\(\)")
_MATH_RUN = re.compile(r"(?:\\[a-zA-Z]+|[\d(){}\[\]^_+\-*/.=<>]|\s(?=[\d\\(]))+")
_BREAKERS = frozenset(
    "then no not but wait so thus hence therefore instead actually correct correction final however "
    "or rather oops sorry recheck check again let".split()
)
_GAP_DROP = re.compile(r"\\text\{[^{}]*\}|\\(?:quad|qquad|[,;:! ]|\\)|[$,;.&]|\\[\[\]()]|\band\b|\bor\b", re.I)
_STOP_WORDS = re.compile(
    r"\s(?:because|since|as|which|where|so|therefore|thus|hence|but|if|when|given|i\.e\.|note|this|that|"
    r"it|we|for|from|with|after|before|units?)\b", re.I)
_SENTENCE_END = re.compile(r"(?<!\d)\.(?:\s|$)|\.\s|\n\n|\n(?=[A-Z*#])|(?<=\d)\.$")
_PROSE_WORD = re.compile(r"(?<![\\a-zA-Z])[A-Za-z]{3,}")
_NON_PROSE = frozenset(
    "sqrt frac dfrac tfrac text mathrm mathbf left right cdot times pmatrix bmatrix matrix begin end infty "
    "sin cos tan log exp cup cap leq geq neq approx circ boxed pmod mod and or dots pi".split()
)


def _closing_braces(text: str) -> dict[int, int]:
    """Index of the ``}`` closing each ``{`` that is closed, in one pass with a stack.

    The same nesting rule as `find_matching`, computed once for the whole text: looking up the
    close of every ``\\boxed{`` separately rescans to the end of the text for each unclosed one
    (quadratic on degenerate repetitions)."""
    stack: list[int] = []
    close: dict[int, int] = {}
    for m in _BRACE_RX.finditer(text):
        if m.group(0) == "{":
            stack.append(m.start())
        elif stack:
            close[stack.pop()] = m.start()
        # a "}" with no open brace closes nothing (find_matching starts at the open brace)
    return close


def find_boxed_all(text: str) -> list[tuple[int, int, str]]:
    """(start, end, content) of every ``\\boxed{}``/``\\fbox{}`` with balanced braces, in order.

    Linear in the length of the text (unclosed boxes are skipped without rescanning)."""
    out: list[tuple[int, int, str]] = []
    close: dict[int, int] | None = None
    pos = 0
    while True:
        m = _BOX_RX.search(text, pos)
        if not m:
            return out
        if m.group(1):
            if close is None:
                close = _closing_braces(text)
            end = close.get(m.end() - 1, -1)
            if end < 0:
                pos = m.end()
                continue
            out.append((m.start(), end + 1, text[m.end():end]))
            pos = end + 1
        else:  # "\boxed 5"
            rest = _BOX_BARE_RX.match(text, m.end())
            if rest:
                out.append((m.start(), rest.end(), rest.group(1).rstrip(".")))
            pos = m.end()


_GAP_LABEL = re.compile(r"(?:[A-Za-z](?:_\{?\w+\}?)?|\([A-Za-z, ]+\))\s*=\s*$")


def _gap_joins(gap: str) -> bool:
    if len(gap) > 80:
        return False
    rest = _GAP_DROP.sub(" ", gap)
    rest = _GAP_LABEL.sub("", rest.strip())  # "\boxed{..} and y_2 = \boxed{..}"
    words = re.findall(r"[^\W\d_]+", rest)
    if len(words) > 1 or any(w.lower() in _BREAKERS for w in words):
        return False
    return not re.search(r"[=<>]|\d", rest)


def _boxed(text: str) -> Extraction | None:
    boxes = find_boxed_all(text)
    if not boxes:
        return None
    start, end, content = boxes[-1]
    parts = [content]
    for k in range(len(boxes) - 2, -1, -1):
        s, e, c = boxes[k]
        if _gap_joins(text[e:start]):
            parts.append(c)
            start = s
        else:
            break
    if not any(p.strip() for p in parts):
        return None
    if len(parts) > 1 and len({" ".join(p.split()) for p in parts}) < len(parts):
        # the same box repeated ("\boxed{9} \boxed{9} ... \boxed{42}") is not a list of answers
        parts = parts[:1]
        start = boxes[-1][0]
    ans = parts[0] if len(parts) == 1 else ", ".join(reversed(parts))
    return Extraction(ans.strip(), "boxed", (start, end))


def _clean_phrase(s: str) -> str:
    """The answer inside the text that follows an anchor ("the answer is ...")."""
    s = s.strip().lstrip(":：").strip()
    s = re.sub(r"^\*+\s*|\s*\*+$", "", s)
    m = _SENTENCE_END.search(s)
    if m and m.start() > 0:
        s = s[:m.start()]
    # "The largest $n$ is 34" -> "34"
    parts = re.split(r"\s(?:is|are|equals)\s", s)
    if len(parts) > 1 and parts[-1].strip():
        s = parts[-1]
    envs = list(_MATH_ENV_RX.finditer(s))
    if envs:
        first = envs[0]
        # "$1$ and $2$ and $3$": keep the run of math joined by connectors
        end = first.end()
        for nxt in envs[1:]:
            if re.fullmatch(r"\s*(?:,|and|or|,\s*and|,\s*or)?\s*", s[end:nxt.start()]):
                end = nxt.end()
            else:
                break
        run = [e for e in envs if e.start() >= first.start() and e.end() <= end]
        return ", ".join(_env_content(e) for e in run)
    if re.search(r"(?:\$|\\\()\s*\n", s):
        return ""  # inline math may not span lines: "$ \n 9 \n $" is not an answer
    m = _STOP_WORDS.search(s)
    if m and m.start() > 0:
        s = s[:m.start()]
    s = s.strip().rstrip(".,;:!").strip()
    if _prose_count(s) >= 2:  # "Jane started growing Sphere 3 hours ago", "每份应该是 (2/5) 吨"
        runs = [r.group(0).strip() for r in _MATH_RUN.finditer(s) if re.search(r"\d", r.group(0))]
        return runs[0] if runs else ""
    return s


def _prose_count(s: str) -> int:
    words = [w for w in _PROSE_WORD.findall(re.sub(r"\\[a-zA-Z]+", " ", s)) if w.lower() not in _NON_PROSE]
    cjk = len(re.findall(r"[^\x00-\x7f\W\d_]", s))
    return len(words) + (cjk + 1) // 2


def _last_match(rx: re.Pattern[str], text: str, pos: int = 0) -> re.Match[str] | None:
    last = None
    for last in rx.finditer(text, pos):  # noqa: B007 - we want the last one
        pass
    return last


def _final_answer(text: str) -> Extraction | None:
    last = _last_match(_ANCHOR_RX, text)
    if last is None:
        return None
    tail = text[last.end():last.end() + 400]
    ans = _clean_phrase(tail)
    if not ans or not re.search(r"[\w\\]", ans):
        return None
    return Extraction(ans, "final_answer", (last.start(), min(len(text), last.end() + len(tail))))


def _env_content(m: re.Match[str]) -> str:
    return next(g for g in m.groups() if g is not None).strip()


def _last_math(text: str) -> Extraction | None:
    m = None
    for cand in _MATH_ENV_RX.finditer(text):
        content = _env_content(cand)
        if _DANGLING_OP.search(content):  # "$80-$3": dollars, not a math span
            continue
        if "\\" in content or _prose_count(content) < 2:  # "$? just about 1$" is prose, not math
            m = cand
    if m is None:
        return None
    # join "$1$ and $2$ and $3$"
    envs = [m]
    start = m.start()
    for prev in reversed(list(_MATH_ENV_RX.finditer(text, max(0, start - 400), start))):
        if prev.end() <= start and re.fullmatch(r"\s*(?:,|and|or|,\s*and|,\s*or)\s*", text[prev.end():start]):
            envs.append(prev)
            start = prev.start()
        else:
            break
    contents = [_env_content(e) for e in reversed(envs)]
    contents = [c for c in contents if c]
    if not contents:
        return None
    return Extraction(", ".join(contents), "last_math", (start, m.end()))


def _is_bare(text: str) -> bool:
    t = text.strip()
    if not t or len(t) > 200 or t.count("\n") > 2 or _CODE_RX.search(t):
        return False
    if re.search(r"\?|(?<=[A-Za-z])!(?:\s|$)|:\s|\.\.|\.\s+[A-Z]", t):
        return False  # sentence punctuation: prose, not a bare answer
    prose = _prose_count(t)
    return prose == 0 or (prose == 1 and len(t.split()) <= 3)


def _last_number(text: str) -> Extraction | None:
    if _CODE_RX.search(text):
        return None  # code, not an answer: never pick a number out of a payload
    # inline math that spans lines is malformed: its numbers are not mined either
    masked = _BROKEN_INLINE.sub(lambda b: " " * len(b.group(0)), text)
    m = _last_match(_NUMBER_RX, masked)
    if m is None:
        return None
    return Extraction(m.group(0).strip(), "last_number", m.span())


def extract(text: str, config: MathConfig | None = None) -> Extraction | None:
    """The final answer of ``text`` and where it came from, or None (-> status unparseable)."""
    cfg = config or MathConfig()
    if not isinstance(text, str):
        text = str(text)
    offset = 0
    if len(text) > cfg.max_chars:
        offset = len(text) - cfg.max_chars
        text = text[offset:]
    found = _extract(text, cfg.order, cfg.last_number)
    if found is not None and offset:
        found = Extraction(found.answer, found.source, (found.span[0] + offset, found.span[1] + offset))
    return found


def _extract(text: str, order: tuple[str, ...], last_number: bool) -> Extraction | None:
    for kind in order:
        got: Extraction | None = None
        if kind == "answer_tag":
            tag = last_tag(text, "answer") if "<" in text else None
            if tag is not None:
                i, j = tag
                inner = text[i:j]
                sub = _extract(inner, tuple(o for o in order if o != "answer_tag") or ("whole",), False)
                ans = sub.answer if sub is not None else inner.strip()
                if ans:
                    got = Extraction(ans, "answer_tag", (i, j))
        elif kind == "boxed":
            got = _boxed(text) if "box" in text else None
            if got is not None and "final_answer" in order:
                fa = _final_answer(text[got.span[1]:])
                if fa is not None and fa.source == "final_answer" and _FINAL_IS.search(text, got.span[1]):
                    # "... \boxed{255} ... Final Answer: The final answer is $10,455$": the later
                    # explicit final statement wins over an earlier (intermediate) box
                    off = got.span[1]
                    got = Extraction(fa.answer, "final_answer", (fa.span[0] + off, fa.span[1] + off))
        elif kind == "final_answer":
            got = _final_answer(text)
        elif kind == "gsm8k":
            m = _last_match(_GSM8K_RX, text) if "####" in text else None
            if m is None and "A" in text:
                m = _GSM8K_A_RX.search(text)
            if m is not None and m.group(1).strip():
                num = re.match(r"\s*([-+]?\$?[\d,.]*\d(?:/\d+)?)(?=\s|$)", m.group(1))
                ans = num.group(1) if num else m.group(1).strip()
                got = Extraction(ans, "gsm8k", (m.start(1), m.start(1) + len(ans)))
        elif kind == "last_math":
            got = _last_math(text) if ("$" in text or "\\[" in text or "\\(" in text) else None
            if got is not None and last_number:
                num = _last_number(text[got.span[1]:])
                if num is not None and re.search(r"[^\s.,;:!)\]]", text[got.span[1]:]):
                    # the prose after the last math span ends with a number: that is the answer
                    got = Extraction(num.answer, "last_number",
                                     (num.span[0] + got.span[1], num.span[1] + got.span[1]))
        elif kind == "whole":
            got = Extraction(text.strip(), "whole", (0, len(text))) if _is_bare(text) else None
        elif kind == "last_number":
            got = _last_number(text)
        if got is not None and got.answer.strip():
            return got
    if last_number and "last_number" not in order:
        return _last_number(text)
    return None


# ---------------------------------------------------------------------------- multiple choice
# A choice letter stands on its own: not part of a word, a number ("2B"), a LaTeX group
# ("\\mathrm{E}"), a subscript/superscript or an operation ("E*2", "x = C^2"). Bold (**B**) and
# parentheses ((B), B)) are choice-like; a single "*" is multiplication.
_CHOICE_LEFT = r"(?<![A-Za-z0-9_\\{}^*/+=<>|-])(?<![*/+=<>^-]\s)"
_CHOICE_RIGHT = r"(?![A-Za-z0-9_{}^*/+=<>|\\-])(?!\s*[*/+=<>^])"


def _choice_patterns(letters: str) -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    L = f"[{re.escape(letters)}]"
    one = rf"{_CHOICE_LEFT}(?:\*\*)?\(?({L})\)?(?:\*\*)?{_CHOICE_RIGHT}"
    anchored = re.compile(
        r"(?:answer|réponse|respuesta|antwort|risposta|答案|option|choice)[^\n]{0,50}?" + one, re.I)
    start = re.compile(rf"^\s*(?:\*\*)?\(?({L})\)?(?:\*\*)?{_CHOICE_RIGHT}"
                       # a bare capital followed by a lower-case word is prose ("I think", "A train")
                       r"(?!(?<=[A-Z])[ \t]+[a-z])(?:[.:,)。：]|\s|$|(?=[^\x00-\x7f]))")
    plain = re.compile(one)
    return anchored, start, plain


_CHOICE_CACHE: dict[str, tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]] = {}


def extract_choice(text: str, config: MathConfig | None = None) -> Extraction | None:
    """A multiple-choice letter: after an answer anchor, else at the start, else the last one."""
    cfg = config or MathConfig()
    letters = cfg.choice_letters
    pats = _CHOICE_CACHE.get(letters) or _CHOICE_CACHE.setdefault(letters, _choice_patterns(letters))
    t = text[-cfg.max_chars:]
    boxes = find_boxed_all(t) if "box" in t else []
    if boxes:
        inner = re.sub(r"\\text\{([^{}]*)\}", r"\1", boxes[-1][2]).strip()
        m = re.fullmatch(rf"\(?([{re.escape(letters)}])\)?\.?", inner)
        if m:
            return Extraction(m.group(1), "boxed", boxes[-1][:2])
    anchored, start, plain = pats
    m = _last_match(anchored, t)
    if m is not None:
        return Extraction(m.group(1), "final_answer", m.span(1))
    m = start.match(t)
    if m:
        return Extraction(m.group(1), "start", m.span(1))
    m = _last_match(plain, t)
    if m is not None:
        return Extraction(m.group(1), "last_letter", m.span(1))
    return None
