"""Recommender signal and baseline names: one registry, checked when the config loads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kg.config import load_settings
from kg.errors import ConfigError
from kg.recommend.registry import SCORERS, scorer_class
from kg.recommend.signals.base import Scorer


@pytest.mark.parametrize("name", SCORERS.names())
def test_every_registered_name_imports_the_scorer_of_that_name(name: str) -> None:
    cls = scorer_class(name)
    assert issubclass(cls, Scorer)
    assert cls.name == name


def test_an_unknown_signal_in_the_config_fails_when_it_loads_with_the_nearest_name(tmp_path: Path) -> None:
    config = tmp_path / "kg.toml"
    config.write_text('[recommend]\nsignals = ["ease", "spectal"]\n')
    with pytest.raises(ConfigError, match=r"recommend\.signals: .*'spectal' \(did you mean 'spectral'\?\)"):
        load_settings(config)
    config.write_text('[recommend]\nbaselines = ["alss"]\n')
    with pytest.raises(ConfigError, match=r"recommend\.baselines: .*'alss' \(did you mean 'als'\?\)"):
        load_settings(config)


def test_signal_names_take_their_registered_form(tmp_path: Path) -> None:
    config = tmp_path / "kg.toml"
    config.write_text('[recommend]\nsignals = [" EASE", "Popularity"]\nbaselines = ["BPR"]\n')
    settings = load_settings(config)
    assert settings.recommend.signals == ["ease", "popularity"]
    assert settings.recommend.baselines == ["bpr"]


def test_checking_the_names_imports_no_signal() -> None:
    """Loading settings stays cheap: no signal module (pandas, implicit, PyTorch) is imported."""
    probe = (
        "import sys; from kg.config import load_settings; load_settings(); "
        "print(sorted(m for m in sys.modules if m.startswith('kg.recommend.signals') or m in ('implicit', 'pandas')))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
