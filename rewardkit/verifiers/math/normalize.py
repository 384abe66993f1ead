"""String normalisation of one extracted answer (pure Python, no sympy).

`normalize` turns the many spellings of the same answer into one canonical LaTeX-ish string:
``\\left``/``\\right``, ``\\dfrac``/``\\tfrac``/``\\cfrac``, ``\\text{}`` and friends, units after a
number, degrees, dollars and other currency signs, the spellings of percent (kept as a trailing
``%`` marker: the percent rule is applied by the comparison), thousands separators (``1,234``,
``1\\,234``, ``1 234``, ``32,\\!349``), trailing periods, spaces and the spacing commands ``\\!``
``\\,`` ``\\;`` ``\\quad``, relation spellings (``<=``, ``\\le``, ``\\leqslant`` -> ``\\leq``) and
unicode math (``−``, ``×``, ``√``, ``π``, ``∞``, ``≤``).

`canonical_key` is the string used by the first, cheapest equivalence stage (exact match of
normalised strings).
"""

from __future__ import annotations

import re

__all__ = ["normalize", "canonical_key", "strip_math_delimiters", "find_matching", "unwrap_command"]

_UNICODE = {
    "\u2212": "-", "\u2013": "-", "\u2014": "-", "\u00d7": "\\times ", "\u00b7": "\\cdot ", "\u22c5": "\\cdot ",
    "\u221a": "\\sqrt", "\u03c0": "\\pi ", "\u221e": "\\infty ", "\u2264": "\\leq ", "\u2265": "\\geq ",
    "\u2260": "\\neq ", "\u2248": "\\approx ", "\u00b2": "^2", "\u00b3": "^3", "\u00b0": "^\\circ",
    "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u00f7": "/", "\uff0c": ",", "\u3001": ",",
    "\u00bd": "\\frac{1}{2}", "\u00bc": "\\frac{1}{4}", "\u00be": "\\frac{3}{4}", "\u2208": "\\in ",
    "\u222a": "\\cup ", "\u2229": "\\cap ", "\u00b1": "\\pm ", "\u2205": "\\emptyset ",
}
_UNICODE_RX = re.compile("|".join(map(re.escape, _UNICODE)))

# Commands whose argument is plain text: unwrapped to their content.
_TEXT_CMDS = ("text", "textbf", "textit", "textrm", "textnormal", "mbox", "mathrm", "mathbf", "mathit",
              "mathsf", "mathtt", "textsf", "texttt", "operatorname", "boldsymbol", "bm", "mathbb", "hbox",
              "emph", "mathcal")
_TEXT_RX = re.compile(r"\\(" + "|".join(_TEXT_CMDS) + r")\s*\{")
_DROP_CMDS = re.compile(
    r"\\(?:displaystyle|textstyle|scriptstyle|limits|nolimits|big|Big|bigg|Bigg|bigl|bigr|Bigl|Bigr|biggl|biggr|Biggl|Biggr)(?![a-zA-Z])"
)
_SPACES_CMDS = re.compile(r"\\(?:quad|qquad|enspace|medspace|thickspace)(?![a-zA-Z])|\\hspace\{[^}]*\}|\\[;: ]|~")
_THIN_CMDS = re.compile(r"\\(?:thinspace|negthinspace)(?![a-zA-Z])|\\[,!]")
_ROWSEP = "\x00"  # placeholder protecting matrix row separators "\\\\" during normalisation
_GLUED_CONNECTOR = re.compile(r"(?<=[)\]}])\s*(?:or|and)\s*(?=[(\[{])|(?<=[\d)}\]])or(?=[A-Z(\[{])")
_FRAC_ALIASES = re.compile(r"\\(?:dfrac|tfrac|cfrac)(?![a-zA-Z])")
_BINOM_ALIASES = re.compile(r"\\(?:dbinom|tbinom)(?![a-zA-Z])")
_LEFT_RIGHT = re.compile(r"\\(?:left|right)\s*(\.|\\\{|\\\}|\\\||\\langle|\\rangle|\\lfloor|\\rfloor|\\lceil|\\rceil|[()\[\]|])?")
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|\\circ(?![a-zA-Z])|\\degree(?![a-zA-Z])|(?<=\d)\s*degrees?\b")
_TRIG = re.compile(r"\\(?:sin|cos|tan|sec|csc|cot)(?![a-zA-Z])|(?<![a-zA-Z\\])(?:sin|cos|tan)(?=\s*\()")
_TRIG_DEGREES = re.compile(r"(\d+(?:\.\d+)?|(?<![a-zA-Z\\])[a-zA-Z])\s*\^\s*\{?\s*\\circ\s*\}?")
# "1 1/2" (plain-text mixed number) -> 1\frac{1}{2}, read as a mixed number (MathConfig.mixed_numbers)
_MIXED_PLAIN = re.compile(r"^(-?\d{1,12})\s+(\d{1,9})\s*/\s*(\d{1,9})$")
_CURRENCY = re.compile(r"\\\$|[$€£¥₹₽₩]|\\(?:euro|pounds?)(?![a-zA-Z])")
_PERCENT = re.compile(r"\s*(?:\\%|%|\\text\{\s*%\s*\}|\bpercentage\b|\bpercent\b|\bpct\b)")
_REL = [
    (re.compile(r"\\(?:leqslant|leqq|le)(?![a-zA-Z])|<="), "\\leq "),
    (re.compile(r"\\(?:geqslant|geqq|ge)(?![a-zA-Z])|>="), "\\geq "),
    (re.compile(r"\\(?:neq|ne)(?![a-zA-Z])|!="), "\\neq "),
    (re.compile(r"\\lt(?![a-zA-Z])"), "<"),
    (re.compile(r"\\gt(?![a-zA-Z])"), ">"),
    (re.compile(r"\\(?:varnothing)(?![a-zA-Z])"), "\\emptyset "),
    (re.compile(r"\\(?:dots|ldots|cdots)(?![a-zA-Z])"), "\\dots "),
    (re.compile(r"\\(?:Rightarrow|implies|rightarrow|to)(?![a-zA-Z])"), "\\to "),
    (re.compile(r"\\(?:varphi)(?![a-zA-Z])"), "\\phi "),
    (re.compile(r"\\(?:vartheta)(?![a-zA-Z])"), "\\theta "),
    (re.compile(r"\\(?:epsilon)(?![a-zA-Z])"), "\\varepsilon "),
    (re.compile(r"\\(?:land|wedge)(?![a-zA-Z])"), " and "),
    (re.compile(r"\\(?:lor|vee)(?![a-zA-Z])"), " or "),
]
# \sqrt3 -> \sqrt{3}, \frac13 -> \frac{1}{3}, \frac1{72} -> \frac{1}{72}
_SQRT_SHORT = re.compile(r"\\sqrt\s*([0-9a-zA-Z])")
_FRAC_SHORT = re.compile(r"\\frac\s*([0-9a-zA-Z])\s*([0-9a-zA-Z])")
_FRAC_SHORT1 = re.compile(r"\\frac\s*([0-9a-zA-Z])\s*\{")
_FRAC_SHORT2 = re.compile(r"\\frac\s*(\{[^{}]*\})\s*([0-9a-zA-Z])")
# thousands separators: 1,234,567.89  1\,234  32,\!349 (after spacing commands are gone)  1 000
_THOUSANDS_COMMA = re.compile(r"(?<![\d.,(\[{])(?<!\\\{)([1-9]\d{0,2})((?:,\d{3})+)(?![\d,)\]}])(?!\.\d*,)")
_THOUSANDS_SPACE = re.compile(r"(?<![\d.,])([1-9]\d{0,2})((?: \d{3})+)(?![\d])")
_WS = re.compile(r"\s+")
_DIGIT_SPACE = re.compile(r"(?<=\d)\s+(?=\d)")

_EQ_TEXT_CONNECTORS = re.compile(r"\\text\{\s*(and|or|und|et|y)\s*\}", re.I)
_WORD_RX = re.compile(r"[A-Za-z]+")
_DOUBLED_CMD = re.compile(r"\\\\[a-zA-Z]")
_SINGLE_CMD = re.compile(r"(?<!\\)\\[a-zA-Z]")


def find_matching(s: str, i: int, open_: str = "{", close: str = "}") -> int:
    """Index of the bracket closing the one at ``s[i]``, or -1 (linear, honours nesting)."""
    depth = 0
    for j in range(i, len(s)):
        c = s[j]
        if c == open_:
            depth += 1
        elif c == close:
            depth -= 1
            if depth == 0:
                return j
    return -1


def unwrap_command(s: str, rx: re.Pattern[str], keep: bool = True) -> str:
    """Replace ``\\cmd{content}`` (matched by ``rx`` up to and including ``{``) by ``content``."""
    out = []
    pos = 0
    while True:
        m = rx.search(s, pos)
        if not m:
            break
        open_i = m.end() - 1
        close_i = find_matching(s, open_i)
        if close_i < 0:
            break
        out.append(s[pos:m.start()])
        if keep:
            out.append(s[open_i + 1:close_i])
        pos = close_i + 1
    out.append(s[pos:])
    return "".join(out)


_BOXED_RX = re.compile(r"\\(?:boxed|fbox|framebox)\s*\{")
_DELIMS = (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$"))


def strip_math_delimiters(s: str) -> str:
    """Remove math-mode delimiters and ``\\boxed{}`` wrappers around (and inside) an answer."""
    s = s.strip()
    for _ in range(4):
        before = s
        for a, b in _DELIMS:
            if len(s) >= len(a) + len(b) and s.startswith(a) and s.endswith(b):
                s = s[len(a):-len(b)].strip()
        if s.startswith("\\boxed") or s.startswith("\\fbox"):
            m = _BOXED_RX.match(s)
            if m:
                end = find_matching(s, m.end() - 1)
                if end == len(s) - 1:
                    s = s[m.end():end].strip()
        if s == before:
            break
    if "\\boxed" in s or "\\fbox" in s or "\\framebox" in s:
        s = unwrap_command(s, _BOXED_RX)
        s = _BOXED_RX.sub("", s)  # an unclosed "\boxed{" (truncated output): keep what follows
    if "$" in s:
        s = re.sub(r"(?<!\\)\$+", " ", s)
    s = s.replace("\\[", " ").replace("\\]", " ").replace("\\(", " ").replace("\\)", " ")
    return s.strip()


def _strip_text_units(s: str) -> str:
    """Drop ``\\text{ cm}``-style units that follow a number, keep text answers (``\\text{odd}``)."""

    def repl(m: re.Match[str]) -> str:
        return m.group(1)

    # \text{ cm}^2 after a number / closing brace / percent
    return re.sub(r"([\d}%)])\s*\\(?:text|mbox|textnormal|mathrm|textrm|hbox)\s*\{\s*[A-Za-z][A-Za-z .]*\}(?:\^\{?\d\}?)?",
                  repl, s)


def _strip_trailing(s: str) -> str:
    """Drop trailing spaces, periods, commas, semicolons, colons and ``\\\\`` (a right-to-left loop:
    an anchored ``(...)+$`` regex rescans a long run from every position of it)."""
    end = len(s)
    while end:
        if s[end - 1] in " \t\n\r.,;:":
            end -= 1
        elif s.endswith("\\\\", 0, end):
            end -= 2
        else:
            break
    return s[:end]


def normalize(answer: str, *, units: bool = True) -> str:
    """Canonical string of one answer (not of a whole completion: extract first)."""
    s = answer
    if "\\\\" in s and _DOUBLED_CMD.search(s) and not _SINGLE_CMD.search(s):
        s = s.replace("\\\\", "\\")  # the whole answer was escaped twice: "\\\\frac", "\\\\begin"
    if "\n" in s or "\t" in s or "\r" in s or "  " in s:
        s = _WS.sub(" ", s)  # one space per run first: patterns like "\s*%" rescan every long run
    s = _UNICODE_RX.sub(lambda m: _UNICODE[m.group(0)], s)
    if "\\\\" in s:
        if "\\begin" not in s:
            s = re.sub(r"\\\\(?=[a-zA-Z{}()\[\]$,%])", r"\\", s)  # "\\frac" typed with a doubled backslash
        s = s.replace("\\\\", _ROWSEP)
    s = strip_math_delimiters(s)
    s = re.sub(r"\s*\{\s*,\s*\}\s*", ",", s)
    if ",\\!" in s:
        s = re.sub(r"(?<=\d),\\!\s*(?=\d{3})", ",", s)  # MATH-style thousands: 32,\! 349
    if "\\" in s:
        s = _EQ_TEXT_CONNECTORS.sub(r" \1 ", s)
        s = _DROP_CMDS.sub("", s)
        s = _LEFT_RIGHT.sub(lambda m: "" if m.group(1) in (None, ".") else m.group(1), s)
        s = _FRAC_ALIASES.sub("\\\\frac", s)
        s = _BINOM_ALIASES.sub("\\\\binom", s)
        for rx, rep in _REL:
            s = rx.sub(rep.replace("\\", "\\\\"), s)
    else:
        s = s.replace("<=", "\\leq ").replace(">=", "\\geq ").replace("!=", "\\neq ")
    if "circ" in s and _TRIG.search(s):
        # degrees inside a trig argument are an angle: sin(90° - x) = sin(pi/2 - x)
        s = _TRIG_DEGREES.sub(r"(\1\\cdot\\frac{\\pi}{180})", s)
    s = _DEGREES.sub("", s)
    s = _PERCENT.sub("%", s)
    s = _CURRENCY.sub("", s)
    if units and "\\" in s:
        s = _strip_text_units(s)
    if "\\" in s:
        s = _THIN_CMDS.sub("", s)
        s = _SPACES_CMDS.sub(" ", s)
        s = _TEXT_RX.sub(lambda m: "\\text{", s)
        s = unwrap_command(s, re.compile(r"\\text\{"))
        s = _SQRT_SHORT.sub(r"\\sqrt{\1}", s)
        s = _FRAC_SHORT.sub(r"\\frac{\1}{\2}", s)
        s = _FRAC_SHORT1.sub(r"\\frac{\1}{", s)
        s = _FRAC_SHORT2.sub(r"\\frac\1{\2}", s)
    s = s.replace("**", "^")
    if "or" in s or "and" in s:
        s = _GLUED_CONNECTOR.sub(", ", s)
    s = _WS.sub(" ", s).strip()
    m = _MIXED_PLAIN.match(s)
    if m and 0 < int(m.group(2)) < int(m.group(3)):
        s = f"{m.group(1)}\\frac{{{m.group(2)}}}{{{m.group(3)}}}"
    s = _THOUSANDS_COMMA.sub(lambda m: m.group(1) + m.group(2).replace(",", ""), s)
    s = _THOUSANDS_SPACE.sub(lambda m: m.group(1) + m.group(2).replace(" ", ""), s)
    s = _strip_trailing(s)
    s = s.replace(_ROWSEP, "\\\\").strip()
    while s.endswith("\\") and not s.endswith("\\\\"):
        s = s[:-1].rstrip()
    if s.startswith("+") and len(s) > 1 and (s[1].isdigit() or s[1] == "\\"):
        s = s[1:]
    return s


_KEY_SPACE = re.compile(r"(?<![a-zA-Z\\])\s+|\s+(?![a-zA-Z])")


def canonical_key(normalized: str) -> str:
    """Key for the exact-match stage: spaces dropped except between a command and a letter, and
    between two digits (``1 5`` is not ``15``; spaced thousands were joined by `normalize`)."""
    s = _DIGIT_SPACE.sub("\x00", normalized)
    s = _KEY_SPACE.sub("", s).replace("\x00", " ")
    s = re.sub(r"(\\[a-zA-Z]+)\s+(?=[a-zA-Z])", r"\1 ", s)
    s = s.replace("{", "").replace("}", "") if "\\" not in s else s
    return s.casefold() if not re.search(r"[a-zA-Z]", s) or _WORD_RX.fullmatch(s.replace(" ", "")) else s
