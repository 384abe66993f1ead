"""Token alignment with real (locally built) fast tokenizers, incl. cross-tokenizer alignment."""

import numpy as np
import pytest

pytest.importorskip("transformers")

from rewardkit.alignment import char_span_to_tokens, char_to_token, dense_rewards, token_offsets  # noqa: E402
from rewardkit.steps import segment  # noqa: E402
from rewardkit.types import RewardResult, Status, StepScore  # noqa: E402
from tests._tokenizers import bpe_tokenizer, char_tokenizer, word_tokenizer  # noqa: E402

TEXT = "Step 1: 12 + 7 = 19.\n\nStep 2: 東京 🙂 19 * 3 = 57.\n\nThe answer is 57."


def covering_token(offsets, char_index):
    """Naive reference: the last token whose span contains the character."""
    hits = [i for i, (a, b) in enumerate(offsets) if a <= char_index < b]
    return hits[-1]


@pytest.mark.parametrize("make", [bpe_tokenizer, char_tokenizer, word_tokenizer])
def test_step_rewards_land_on_last_token_of_each_step(make):
    tok = make()
    offs = token_offsets(tok, [TEXT])[0]
    spans = segment(TEXT)
    res = RewardResult(1.0, steps=[StepScore(s.start, s.end, float(i + 1)) for i, s in enumerate(spans)])
    d = dense_rewards([res], [offs], sequence=False, backend="numpy")
    row = d.rewards[0]
    expected = np.zeros(len(offs), dtype=np.float32)
    for i, s in enumerate(spans):
        expected[covering_token(offs, s.end - 1)] += i + 1
    np.testing.assert_allclose(row, expected)
    # the token holding each step's last character decodes to text ending that step
    for s in spans:
        a, b = offs[char_to_token(offs, s.end)]
        assert a < s.end <= b


def test_multibyte_character_split_over_byte_tokens_maps_to_its_last_piece():
    tok = bpe_tokenizer()
    text = "x 京"
    offs = token_offsets(tok, [text])[0]
    pieces = [i for i, (a, b) in enumerate(offs) if (a, b) == (2, 3)]
    assert len(pieces) >= 2, "the test needs a byte-split character"
    assert char_to_token(offs, 3) == pieces[-1]
    assert list(char_span_to_tokens(offs, 2, 3)) == pieces


def test_sequence_reward_on_last_valid_token_and_padding_masked():
    r = [RewardResult(1.0), RewardResult(0.5), RewardResult.fail(Status.ERROR, "boom")]
    d = dense_rewards(r, lengths=[3, 5, 4], backend="numpy")
    assert d.rewards.shape == (3, 5)
    assert d.rewards[0].tolist() == [0, 0, 1.0, 0, 0]
    assert d.rewards[1].tolist() == [0, 0, 0, 0, 0.5]
    assert d.mask[0].tolist() == [True, True, True, False, False]
    # a failed result is not a fake 0 reward: the row is flagged invalid
    assert d.valid.tolist() == [True, True, False]
    assert not d.rewards[2].any() and d.mask[2].sum() == 4


def test_lengths_longer_than_text_tokens_put_sequence_reward_on_eos():
    tok = bpe_tokenizer()
    offs = token_offsets(tok, [TEXT])[0]
    spans = segment(TEXT)
    res = RewardResult(2.0, steps=[StepScore(spans[0].start, spans[0].end, 1.0)])
    d = dense_rewards([res], [offs], lengths=[len(offs) + 1], backend="numpy")
    assert d.rewards[0, len(offs)] == 2.0  # EOS
    assert d.rewards[0, covering_token(offs, spans[0].end - 1)] == 1.0


def test_cross_tokenizer_token_rewards_realign_through_characters():
    """A reward model with a word tokenizer scores tokens; the policy uses byte-level BPE."""
    rm_tok, pol_tok = word_tokenizer(), bpe_tokenizer()
    rm_offs = token_offsets(rm_tok, [TEXT])[0]
    pol_offs = token_offsets(pol_tok, [TEXT])[0]
    scores = [0.01 * (i + 1) for i in range(len(rm_offs))]
    res = RewardResult(0.0, token_scores=scores, token_spans=rm_offs)
    d = dense_rewards([res], [pol_offs], sequence=False, backend="numpy")
    row = d.rewards[0]
    assert row.sum() == pytest.approx(sum(scores), rel=1e-5)  # nothing lost or duplicated
    expected = np.zeros(len(pol_offs))
    for (_a, b), v in zip(rm_offs, scores, strict=True):
        expected[covering_token(pol_offs, b - 1)] += v
    np.testing.assert_allclose(row, expected, rtol=1e-6)


def test_same_tokenizer_token_rewards_as_given_and_spread_placement():
    res = RewardResult(0.0, token_scores=[0.1, 0.2, 0.3])
    d = dense_rewards([res], lengths=[4], sequence=False, backend="numpy")
    np.testing.assert_allclose(d.rewards[0], [0.1, 0.2, 0.3, 0.0], rtol=1e-6)
    offs = [(0, 2), (2, 4), (4, 6), (6, 8)]
    res = RewardResult(0.0, steps=[StepScore(2, 8, 0.9)])
    d = dense_rewards([res], [offs], sequence=False, step_placement="spread", backend="numpy")
    np.testing.assert_allclose(d.rewards[0], [0, 0.3, 0.3, 0.3], rtol=1e-6)


def test_torch_backend_and_batch_shapes():
    torch = pytest.importorskip("torch")
    tok = bpe_tokenizer()
    texts = [TEXT, "The answer is 5."]
    offs = token_offsets(tok, texts)
    d = dense_rewards([RewardResult(1.0), RewardResult(0.0)], offs)
    assert isinstance(d.rewards, torch.Tensor) and d.rewards.shape == (2, max(map(len, offs)))
    assert d.mask.dtype == torch.bool and d.valid.tolist() == [True, True]
    assert (d.rewards[~d.mask] == 0).all()


def test_errors_are_clear():
    with pytest.raises(ValueError, match="offsets or lengths"):
        dense_rewards([RewardResult(1.0)])
    with pytest.raises(ValueError, match="policy tokenizer offsets"):
        dense_rewards([RewardResult(1.0, steps=[StepScore(0, 1, 1.0)])], lengths=[3])

    class SlowTokenizer:  # a python tokenizer has no offset mapping
        is_fast = False

    with pytest.raises(TypeError, match="fast tokenizer"):
        token_offsets(SlowTokenizer(), ["x"])


def test_processbench_steps_round_trip_to_policy_tokens(shared_data):
    """Real step-labelled solutions (ProcessBench): explicit steps are located in the joined text,
    and each step's label lands on the token completing that step, through a byte-level BPE."""
    import json

    path = shared_data / "processbench.jsonl"
    if not path.exists():
        pytest.skip(f"{path} not found")
    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()[:200]]
    tok = bpe_tokenizer()
    texts = ["\n\n".join(it["steps"]) for it in items]
    offs = token_offsets(tok, texts)
    results = []
    for it, text in zip(items, texts, strict=True):
        spans = segment(text, steps=it["steps"])
        assert [text[s.start:s.end] for s in spans] == [s.strip() for s in it["steps"] if s.strip()]
        first_bad = it["label"]
        labels = [0.0 if (first_bad >= 0 and k >= first_bad) else 1.0 for k in range(len(spans))]
        results.append(RewardResult(0.0, steps=[StepScore(s.start, s.end, v)
                                                for s, v in zip(spans, labels, strict=True)]))
    d = dense_rewards(results, offs, sequence=False, backend="numpy")
    non_ascii = 0
    for b, (res, o) in enumerate(zip(results, offs, strict=True)):
        expected = np.zeros(d.rewards.shape[1], dtype=np.float32)
        for st in res.steps:
            expected[covering_token(o, st.end - 1)] += st.score
            non_ascii += not texts[b][st.start:st.end].isascii()
        np.testing.assert_allclose(d.rewards[b], expected)
        assert d.rewards[b].sum() == pytest.approx(sum(st.score for st in res.steps))
    assert non_ascii > 0  # the sample has steps with non-ASCII characters (the case that matters)
