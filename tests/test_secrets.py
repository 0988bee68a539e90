"""Secrets: masked in every display form, never pickled, compared safely, scrubbed from text."""

from __future__ import annotations

import copy
import json
import logging
import pickle
import urllib.parse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from insightforge.secrets import Secret, known_secrets, mask, scrub
from insightforge.serialize import to_dict
from insightforge.testing.strategies import secrets

KEY = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"


def test_display_forms_are_masked() -> None:
    key = Secret(KEY)
    old_styles = ("%s" % key, "{}".format(key))  # noqa: UP031, UP032 - the forms under test
    for text in (repr(key), str(key), f"{key}", f"{key!r}", f"{key:>60}", *old_styles,
                 repr([key]), repr({"k": key})):
        assert KEY not in text
    assert repr(key) == "Secret('sk-p…(44 chars)')" and key.masked == "sk-p…(44 chars)"
    assert repr(Secret("short")) == "Secret('****')"
    assert key.reveal() == KEY


def test_secrets_cannot_be_pickled_copied_or_dumped_by_accident() -> None:
    key = Secret(KEY)
    with pytest.raises(TypeError, match="not picklable"):
        pickle.dumps(key)
    with pytest.raises(TypeError):
        copy.deepcopy(key)
    with pytest.raises(TypeError):
        json.dumps(key)
    assert to_dict(key) == key.masked


def test_equality_hash_bool_and_construction() -> None:
    assert Secret(KEY) == Secret(KEY) and Secret(KEY) != Secret(KEY + "x")
    assert Secret(KEY) != KEY  # never equal to the plain value
    assert hash(Secret(KEY)) == hash(Secret(KEY))
    assert not Secret("") and Secret("x")
    assert Secret(Secret(KEY)) == Secret(KEY)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be a string"):
        Secret(123)  # type: ignore[arg-type]


def test_logging_a_secret_shows_the_mask(caplog: pytest.LogCaptureFixture) -> None:
    key = Secret(KEY)
    with caplog.at_level(logging.INFO):
        logging.getLogger("t").info("using %s and %r", key, key)
    assert KEY not in caplog.text and key.masked in caplog.text


def test_scrub_removes_live_secrets_and_their_url_encoded_form() -> None:
    key = Secret("abc+def/ghi=jkl&mno")
    quoted = urllib.parse.quote(key.reveal(), safe="")
    text = scrub(f"plain {key.reveal()} quoted {quoted}")
    assert key.reveal() not in text and quoted not in text
    assert text == f"plain {key.masked} quoted {key.masked}"
    assert scrub("x 12345 y", ["12345"]) == "x **** y"  # an explicit list is honoured
    assert key.reveal() in known_secrets()


def test_an_equal_secret_dying_does_not_unregister_the_live_one() -> None:
    import gc

    value = "sk-proj-EQUALVALUEabcdefghijklmnopqrstuvwx0123"
    first = Secret(value)
    second = Secret(value)  # equal to the first, and the one still in use below
    del first
    gc.collect()
    assert value in known_secrets()
    assert value not in scrub(f"bad key {second.reveal()}")


def test_a_secret_made_after_the_known_list_was_read_is_scrubbed_too() -> None:
    import gc

    kept = Secret("sk-first-KEPTabcdefghijklmnopqrstuvwxyz01")
    assert kept.reveal() in known_secrets()  # the answer is now remembered
    dying = Secret("sk-dying-abcdefghijklmnopqrstuvwxyz0123")
    assert dying.reveal() in known_secrets()  # remembered with the dying one in it
    del dying
    gc.collect()  # the registry shrank: same generation, smaller size
    later = Secret("sk-later-abcdefghijklmnopqrstuvwxyz0123")  # the same size again, but a
    # new generation: without it, the answer remembered above would be taken as current
    assert later.reveal() in known_secrets() and kept.reveal() in known_secrets()
    assert later.reveal() not in scrub(f"leaked {later.reveal()}")
    known_secrets().clear()  # a caller's copy: the remembered answer is not changed
    assert later.reveal() in known_secrets()


def test_mask_never_shows_more_than_four_characters() -> None:
    assert mask("a" * 11) == "****" and mask("abcdefghijkl") == "abcd…(12 chars)"


@given(secrets)
def test_no_generated_secret_survives_display_or_scrubbing(value: str) -> None:
    key = Secret(value)
    for text in (repr(key), str(key), f"{key}", key.masked,
                 scrub(f"Authorization: Bearer {value}; again {value}"),
                 scrub("url?key=" + urllib.parse.quote(value, safe=""))):
        assert value not in text


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="@/:"),
               min_size=6, max_size=30),
       st.sampled_from(["redis://:{pw}@localhost:6379/0", "redis://user:{pw}@h/1",
                        "rediss://default:{pw}@cache.example:6380", "redis://{pw}@h"]))
def test_mask_url_never_shows_a_password(password: str, template: str) -> None:
    from insightforge.secrets import mask_url

    url = template.format(pw=password)
    masked = mask_url(url)
    assert password not in masked
    assert "@" in masked and masked.split("@")[-1] == url.split("@")[-1]  # host kept


def test_mask_url_leaves_plain_locations_alone() -> None:
    from insightforge.secrets import mask_url

    for plain in ("redis://localhost:6379/0", "sqlite:/tmp/budget.db", "budget.db"):
        assert mask_url(plain) == plain
