"""The status policy: whose fault a failure is decides whether the trainer penalises or masks it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from rewardkit.status_policy import Fault, StatusPolicy, combine_faults, fault_of, with_fault
from rewardkit.types import RewardResult, Status

OK = RewardResult.ok(0.7)
UNPARSEABLE = RewardResult.fail(Status.UNPARSEABLE, "no answer")
TIMEOUT = RewardResult.fail(Status.TIMEOUT, "budget")
ERROR = RewardResult.fail(Status.ERROR, "sandbox down")
NA = RewardResult.fail(Status.NOT_APPLICABLE)


def test_defaults_penalise_the_sample_and_mask_the_infrastructure():
    p = StatusPolicy()
    assert p.resolve(OK) == (0.7, True)
    assert p.resolve(UNPARSEABLE) == (0.0, True)  # no answer costs the policy like a wrong one
    assert p.resolve(TIMEOUT) == (0.0, True)  # an endless program or expression too
    assert p.resolve(ERROR) == (0.0, False)  # a crashed sandbox is masked
    assert p.resolve(NA) == (0.0, False)  # not a reward


def test_a_source_says_whose_fault_it_is():
    p = StatusPolicy()
    remote_timeout = RewardResult.fail(Status.TIMEOUT, "judge did not answer", info={"fault": "infrastructure"})
    assert fault_of(remote_timeout) is Fault.INFRASTRUCTURE
    assert p.resolve(remote_timeout) == (0.0, False)
    sample_error = with_fault(RewardResult.fail(Status.ERROR, "malformed tool call"), Fault.SAMPLE)
    assert p.resolve(sample_error) == (0.0, True)
    # an unknown fault value falls back to the status' default rather than crashing a batch
    assert fault_of(RewardResult.fail(Status.ERROR, info={"fault": "cosmic rays"})) is Fault.INFRASTRUCTURE


def test_configurable_from_yaml_mapping_and_per_status():
    p = StatusPolicy.model_validate({"failing_score": -1.0, "masked_score": 0.5,
                                     "statuses": {"timeout": "mask", "error": 0.25}})
    assert p.resolve(UNPARSEABLE) == (-1.0, True)
    assert p.resolve(TIMEOUT) == (0.5, False)
    assert p.resolve(ERROR) == (0.25, True)
    assert StatusPolicy.coerce(None) == StatusPolicy()
    assert StatusPolicy.coerce({"sample": "mask"}).resolve(UNPARSEABLE) == (0.0, False)
    assert StatusPolicy().with_fills({"not_applicable": 0.0}).resolve(NA) == (0.0, True)


@pytest.mark.parametrize("bad", [{"statuses": {"ok": 0.0}}, {"sample": "zero"}, {"fails": 1}])
def test_bad_config_is_refused(bad):
    with pytest.raises(ValidationError):
        StatusPolicy.model_validate(bad)


def test_resolve_batch_keeps_order():
    scores, valid = StatusPolicy().resolve_batch([OK, ERROR, UNPARSEABLE, NA])
    assert scores == [0.7, 0.0, 0.0, 0.0]
    assert valid == [True, False, True, False]
    assert StatusPolicy().resolve_or_none([OK, ERROR, UNPARSEABLE]) == [0.7, None, 0.0]
    assert StatusPolicy().resolve_batch([]) == ([], [])


def test_combined_fault_is_infrastructure_if_any_part_is():
    assert combine_faults([OK, UNPARSEABLE]) is Fault.SAMPLE
    assert combine_faults([UNPARSEABLE, ERROR]) is Fault.INFRASTRUCTURE
    assert combine_faults([OK, NA]) is None
