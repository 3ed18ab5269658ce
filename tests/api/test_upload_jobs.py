"""The JSON of a job made from uploads: its options read as the multipart form's fields."""

from __future__ import annotations

import json

import pytest

from langflix.api.upload_jobs import parse_upload_request
from langflix.api.uploads import InvalidFieldError
from langflix.pipeline import PipelineOptions


def _request(**options: object) -> bytes:
    return json.dumps({"video_upload": "v1", "subtitle_upload": "s1", **options}).encode()


def test_json_booleans_lists_and_integers_become_the_forms_text() -> None:
    parsed = parse_upload_request(
        _request(outputs=["lessons", "deck", "shorts"], deck_with_shorts=True, repeat=3, tts="none")
    )

    assert parsed.uploads == {"video": "v1", "subtitle": "s1"}
    assert parsed.fields == {"outputs": "lessons,deck,shorts", "deck_with_shorts": "true", "repeat": "3", "tts": "none"}


def test_the_forms_text_from_json_validates_like_the_form() -> None:
    fields = parse_upload_request(_request(outputs=["deck", "shorts"], deck_with_shorts=False)).fields

    options = PipelineOptions(**fields)

    assert set(options.outputs) == {"deck", "shorts"}
    assert options.deck_with_shorts is False


@pytest.mark.parametrize("value", [{"a": 1}, [1, 2], 1.5])
def test_an_option_json_cannot_write_as_form_text_is_a_422_naming_it(value: object) -> None:
    with pytest.raises(InvalidFieldError) as caught:
        parse_upload_request(_request(outputs=value))

    assert "outputs" in str(caught.value)
