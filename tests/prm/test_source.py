"""The `prm` source: one forward pass gives the same step scores as one pass per prefix, on both
padding sides, for classifier and implicit PRMs; truncation gives no score, never 0."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from rewardkit.prm.encoding import encode  # noqa: E402
from rewardkit.prm.model import PRMCard, load_scorer, per_prefix_step_scores, write_card  # noqa: E402
from rewardkit.registry import build_source  # noqa: E402
from rewardkit.steps import split_by_separator  # noqa: E402
from rewardkit.types import Sample, Status  # noqa: E402
from tests._tiny_models import save_tiny  # noqa: E402

SOLUTIONS = [
    ("A baker starts with 12 loaves.", "Step 1: 12 + 7 = 19.\n\nStep 2: 19 * 3 = 57.\n\nThe answer is 57."),
    ("Then the baker gets 7 more.", "Step 1: 12 + 7 = 19.\n\nThe answer is 19."),
    ("", "naïve café – 東京 🙂\n\nrésumé 57."),
]


@pytest.fixture(scope="module")
def classifier_prm(tmp_path_factory):
    folder = save_tiny(tmp_path_factory.mktemp("prm") / "cls", "token", seed=1)
    write_card(folder, PRMCard(kind="classifier"))
    return folder


@pytest.fixture(scope="module")
def implicit_prm(tmp_path_factory):
    root = tmp_path_factory.mktemp("iprm")
    save_tiny(root / "ref", "causal", seed=2)
    folder = save_tiny(root / "policy", "causal", seed=3)
    write_card(folder, PRMCard(kind="implicit", beta=0.5, reference="../ref"))
    return folder


@pytest.mark.parametrize("which", ["classifier_prm", "implicit_prm"])
@pytest.mark.parametrize("side", ["left", "right"])
def test_single_pass_equals_per_prefix(which, side, request):
    folder = request.getfixturevalue(which)
    scorer = load_scorer(folder, device="cpu", padding_side=side)
    spans = [split_by_separator(c) for _, c in SOLUTIONS]
    batch = [encode(scorer.tokenizer, p, c, sp) for (p, c), sp in zip(SOLUTIONS, spans, strict=False)]
    single = scorer.step_scores(batch)  # one padded batch: rows of different lengths
    for (p, c), sp, got in zip(SOLUTIONS, spans, single, strict=False):
        naive = per_prefix_step_scores(scorer, p, c, sp)
        assert len(got) == len(sp) and None not in got
        assert got == pytest.approx(naive, abs=1e-5)


def test_implicit_step_rewards_sum_to_the_sequence_log_ratio(implicit_prm):
    scorer = load_scorer(implicit_prm, device="cpu")
    p, c = SOLUTIONS[0]
    e = encode(scorer.tokenizer, p, c, split_by_separator(c))
    steps = scorer.step_scores([e])[0]
    lr, _, _ = scorer.token_log_ratios([e])
    total = 0.5 * lr[0, e.completion_start: e.step_ends[-1] + 1].sum()
    assert sum(steps) == pytest.approx(float(total), abs=1e-5)
    qs = load_scorer(implicit_prm, device="cpu", implicit_score="q").step_scores([e])[0]
    assert qs[-1] == pytest.approx(sum(steps), abs=1e-5)


def test_source_spans_aggregation_and_statuses(classifier_prm):
    src = build_source("prm", model=str(classifier_prm), device="cpu", aggregation="min")
    samples = [Sample(p, c) for p, c in SOLUTIONS] + [Sample("q", "   ")]
    res = src.score(samples)
    for (_, c), r in zip(SOLUTIONS, res, strict=False):
        assert r.status is Status.OK
        assert [c[s.start:s.end] for s in r.steps] == [c[sp.start:sp.end] for sp in split_by_separator(c)]
        assert r.score == pytest.approx(min(s.score for s in r.steps))
    assert res[-1].status is Status.UNPARSEABLE and res[-1].score is None
    last = build_source("prm", model=str(classifier_prm), device="cpu", aggregation="product").score(samples[:1])[0]
    assert last.score == pytest.approx(torch.tensor([s.score for s in res[0].steps]).prod().item(), rel=1e-6)


def test_sample_steps_win_over_segmentation(classifier_prm):
    c = "Step 1: 12 + 7 = 19. Step 2: 19 * 3 = 57."
    r = build_source("prm", model=str(classifier_prm), device="cpu").score(
        [Sample("q", c, steps=["Step 1: 12 + 7 = 19.", "Step 2: 19 * 3 = 57."])])[0]
    assert [(s.start, s.end) for s in r.steps] == [(0, 20), (21, len(c))]
    bad = build_source("prm", model=str(classifier_prm), device="cpu").score([Sample("q", c, steps=["nope"])])[0]
    assert bad.status is Status.ERROR and "does not occur" in bad.info["error"]


def test_truncated_steps_get_no_score_never_zero(classifier_prm):
    p, c = SOLUTIONS[0]
    full = build_source("prm", model=str(classifier_prm), device="cpu").score([Sample(p, c)])[0]
    ends = encode(load_scorer(classifier_prm, device="cpu").tokenizer, p, c, split_by_separator(c)).step_ends
    kw = dict(model=str(classifier_prm), device="cpu", max_length=ends[1] + 1)  # sees steps 0 and 1 only
    cut = build_source("prm", **kw).score([Sample(p, c)])[0]
    assert cut.status is Status.NOT_APPLICABLE and cut.score is None
    scores = [s.score for s in cut.steps]
    assert scores[-1] is None and None not in scores[:2]
    assert scores[0] == pytest.approx(full.steps[0].score, abs=1e-5)  # a causal PRM: the cut changes nothing before it
    seen = build_source("prm", on_truncation="score_seen", **kw).score([Sample(p, c)])[0]
    assert seen.status is Status.OK and seen.info["steps_unscored"] == scores.count(None)
    assert seen.score == pytest.approx(min(s for s in scores if s is not None))


def test_implicit_rejects_product(implicit_prm):
    src = build_source("prm", model=str(implicit_prm), device="cpu", aggregation="product")
    with pytest.raises(ValueError, match="log-ratios"):
        src.score([Sample("q", "1 + 1 = 2.")])


def test_cli_prm_score_writes_step_scores(classifier_prm, tmp_path):
    import json

    from rewardkit.cli import main

    data = tmp_path / "in.jsonl"
    data.write_text("".join(json.dumps({"id": i, "prompt": p, "completion": c}) + "\n"
                            for i, (p, c) in enumerate(SOLUTIONS)))
    out = tmp_path / "scored.jsonl"
    assert main(["prm", "score", "--model", str(classifier_prm), "-i", str(data), "-o", str(out), "--device", "cpu",
                 "--param", "aggregation=last", "--no-progress"]) == 0
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [len(r["steps"]) for r in rows] == [3, 2, 2]
    assert all(r["score"] == pytest.approx(r["steps"][-1]["score"]) for r in rows)
    assert main(["prm", "score", "--model", str(classifier_prm), "-i", str(data), "-o", str(tmp_path / "x.jsonl"),
                 "--param", "aggregation=median"]) == 2


def test_progress_scores_are_differences_of_values(classifier_prm):
    p, c = SOLUTIONS[0]
    scorer = load_scorer(classifier_prm, device="cpu")
    e = encode(scorer.tokenizer, p, c, split_by_separator(c))
    (values,), (q0,) = scorer.values([e])
    prog = build_source("prm", model=str(classifier_prm), device="cpu", classifier_score="progress",
                        aggregation="mean").score([Sample(p, c)])[0]
    want = [values[0] - q0] + [b - a for a, b in zip(values, values[1:], strict=False)]
    assert [s.score for s in prog.steps] == pytest.approx(want, abs=1e-6)
    assert sum(s.score for s in prog.steps) == pytest.approx(values[-1] - q0, abs=1e-6)  # telescopes
    none = build_source("prm", model=str(classifier_prm), device="cpu", classifier_score="progress")
    assert none.score([Sample("", c)])[0].status is Status.ERROR  # no prompt: no Q_0
