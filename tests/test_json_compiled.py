"""``insightforge._json.compiled`` is ``JSONEncoder.encode`` for acyclic data, byte for byte."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from insightforge._json import compiled

_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(),
                     st.floats(allow_nan=False, allow_infinity=False))
_values = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=20)
_ENCODERS = [
    json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                     allow_nan=False, default=str),  # the audit chain's
    json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                     default=str),  # the cache key's
]


@settings(max_examples=300, deadline=None)
@given(value=_values, which=st.sampled_from([0, 1]))
def test_compiled_is_encode(value: Any, which: int) -> None:
    encoder = _ENCODERS[which]
    assert compiled(encoder)(value) == encoder.encode(value)


def test_what_encode_refuses_compiled_refuses() -> None:
    strict = compiled(_ENCODERS[0])
    with pytest.raises(ValueError):
        strict({"x": math.nan})
    assert compiled(_ENCODERS[1])({"when": object.__new__(type("T", (), {"__str__":
                                                                     lambda s: "t"}))}) \
        == '{"when":"t"}'  # default=str, as encode() would
