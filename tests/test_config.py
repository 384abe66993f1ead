import pytest

from rewardkit.config import ConfigError, load_config
from rewardkit.pipeline import Pipeline


def test_yaml_and_toml_files(tmp_path):
    y = tmp_path / "p.yaml"
    y.write_text("rewards:\n  - type: numeric\n    name: correct\n    rel_tol: 0.01\n")
    t = tmp_path / "p.toml"
    t.write_text('[[rewards]]\ntype = "numeric"\nname = "correct"\nrel_tol = 0.01\n')
    a, b = load_config(y), load_config(t)
    assert a == b
    assert a.rewards[0].params == {"rel_tol": 0.01} and a.rewards[0].weight == 1.0


def test_unknown_reward_type_lists_available_and_suggests():
    with pytest.raises(ConfigError) as e:
        Pipeline({"rewards": [{"type": "numerc"}]})
    msg = str(e.value)
    assert "rewards[0].type" in msg and "'numeric'" in msg and "Available:" in msg and "exact_match" in msg


def test_unknown_source_parameter_names_key_and_known_ones():
    with pytest.raises(ConfigError) as e:
        Pipeline({"rewards": [{"type": "numeric"}, {"type": "exact_match", "case_sensitiv": True}]})
    msg = str(e.value)
    assert "rewards[1]" in msg and "case_sensitiv" in msg and "did you mean 'case_sensitive'" in msg


def test_wrong_type_names_the_key():
    with pytest.raises(ConfigError, match=r"rewards\[0\]\.weight"):
        load_config({"rewards": [{"type": "numeric", "weight": "heavy"}]})
    with pytest.raises(ConfigError, match=r"rewards\[0\]\.rel_tol"):
        Pipeline({"rewards": [{"type": "numeric", "rel_tol": "tiny"}]})


def test_top_level_unknown_key_and_empty_rewards():
    with pytest.raises(ConfigError, match="unknown key 'reward'.*did you mean 'rewards'"):
        load_config({"reward": [{"type": "numeric"}]})
    with pytest.raises(ConfigError, match="rewards"):
        load_config({"rewards": []})
    with pytest.raises(ConfigError, match="mapping"):
        load_config({"rewards": 1} and [1, 2])  # type: ignore[arg-type]


def test_cross_references_checked():
    with pytest.raises(ConfigError, match="gate.component"):
        load_config({"rewards": [{"type": "numeric"}], "gate": {"component": "format"}})
    with pytest.raises(ConfigError, match="unique"):
        load_config({"rewards": [{"type": "numeric"}, {"type": "numeric"}]})
    with pytest.raises(ConfigError, match="gated_by"):
        load_config({"rewards": [{"type": "numeric", "gated_by": "nope"}]})
    with pytest.raises(ConfigError, match="'ok' cannot be filled"):
        load_config({"rewards": [{"type": "numeric", "fill": {"ok": 0}}]})
    with pytest.raises(ConfigError, match="fill"):
        load_config({"rewards": [{"type": "numeric", "fill": {"broken": 0}}]})


def test_invalid_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("rewards: [\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_source_can_be_named_by_import_path():
    p = Pipeline({"rewards": [{"type": "rewardkit.verifiers.numeric:NumericAnswer", "name": "n"}]})
    assert p.component_names == ["n"]
    with pytest.raises(ConfigError, match="cannot load"):
        Pipeline({"rewards": [{"type": "rewardkit.nope:Thing"}]})
