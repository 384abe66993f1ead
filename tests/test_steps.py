import pytest

from rewardkit.steps import Span, StepSegmenter, segment


def texts(text, spans):
    return [text[s.start : s.end] for s in spans]


def test_separator_trims_and_drops_empty():
    t = "  a = 1\n\n\n\nb = 2  \n\nc"
    spans = segment(t)
    assert texts(t, spans) == ["a = 1", "b = 2", "c"]
    assert spans[0] == Span(2, 7)


def test_lines_and_regex():
    t = "Step 1: x\nStep 2: y\nmore y\nStep 3: z"
    assert texts(t, segment(t, "lines")) == ["Step 1: x", "Step 2: y", "more y", "Step 3: z"]
    assert texts(t, segment(t, "regex_split", pattern=r"\n(?=Step \d+:)")) == [
        "Step 1: x", "Step 2: y\nmore y", "Step 3: z"]
    assert texts(t, segment(t, "regex_split", pattern=r"(?=Step \d+:)")) == [
        "Step 1: x", "Step 2: y\nmore y", "Step 3: z"]
    assert texts(t, segment(t, "regex_match", pattern=r"Step \d+: \w")) == ["Step 1: x", "Step 2: y", "Step 3: z"]


def test_explicit_steps_located_in_order_with_multibyte_text():
    t = "東京 first 🙂 step. second step, first step again"
    spans = segment(t, steps=["first step again", ], )
    assert texts(t, spans) == ["first step again"]
    spans = segment(t, steps=["🙂 step.", "first step"])
    assert texts(t, spans) == ["🙂 step.", "first step"]
    assert spans[1].start > spans[0].end  # found after the previous step, not the earlier match


def test_explicit_step_not_in_text_is_an_error():
    with pytest.raises(ValueError, match="step 1"):
        segment("a b c", steps=["a", "zzz"])


def test_bad_method_and_missing_pattern():
    with pytest.raises(ValueError, match="pattern"):
        segment("x", "regex_split")
    with pytest.raises(ValueError, match="unknown"):
        segment("x", "words")  # type: ignore[arg-type]


def test_segmenter_object():
    seg = StepSegmenter(method="separator", separator="||")
    assert texts("a||b", seg("a||b")) == ["a", "b"]
    assert texts("a||b", seg("a||b", steps=["b"])) == ["b"]
