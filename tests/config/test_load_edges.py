"""Odd sources that once escaped as raw Python errors; each must be a ConfigError."""

from __future__ import annotations

import pytest

from insightforge.config import from_config
from insightforge.errors import ConfigError


@pytest.mark.parametrize("source", ["\x00", "a\x00b.yaml", "/nonexistent/dir/x.yaml", ""])
def test_bad_sources_are_config_errors(source: str) -> None:
    with pytest.raises(ConfigError) as info:
        from_config(source)
    assert info.value.path.startswith("$")
