"""A category's own portal fields: read from the administrator's JSON, in the reader's language,
checked by type, and kept in form_data as plain JSON."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from opsdesk.servicedesk import category_fields

FIELDS = [
    {"name": "serial", "label": {"en": "Serial number", "zh-hans": "序列号"}, "type": "text", "required": True},
    {"name": "floor", "label": "Floor", "type": "number"},
    {"name": "since", "label": {"en": "Broken since", "zh-hans": "故障开始日期"}, "type": "date"},
    {"name": "colour", "label": "Colour", "type": "choice",
     "choices": ["black", ["colour", {"en": "Colour", "zh-hans": "彩色"}], {"value": "a3", "label": "A3"}]},
    {"name": "notes", "label": "Notes", "type": "textarea"},
]


def test_labels_and_choices_follow_the_language():
    with translation.override("zh-hans"):
        fields = category_fields.form_fields(FIELDS)
        assert fields["cf_serial"].label == "序列号"
        assert ("colour", "彩色") in fields["cf_colour"].choices
    with translation.override("en"):
        fields = category_fields.form_fields(FIELDS)
        assert fields["cf_serial"].label == "Serial number"
        assert list(fields["cf_colour"].choices) == [("", "—"), ("black", "black"), ("colour", "Colour"),
                                                     ("a3", "A3")]
    assert list(fields) == ["cf_serial", "cf_floor", "cf_since", "cf_colour", "cf_notes"]


def test_unusable_definitions_are_left_out():
    broken = [{"label": "no name"}, {"name": "bad name!", "type": "text"}, {"name": "x", "type": "colour-wheel"},
              {"name": "c", "type": "choice", "choices": []}, "not an object", {"name": "ok"},
              {"name": "ok", "type": "number"}]
    assert [s.name for s in category_fields.specs(broken)] == ["ok"]
    assert category_fields.specs("not a list") == []


def test_values_are_kept_as_plain_json():
    data = category_fields.clean_form_data(FIELDS, {"serial": "SN-1", "floor": "3", "since": "2026-03-01",
                                                    "colour": "colour", "notes": ""})
    assert data == {"serial": "SN-1", "floor": 3, "since": "2026-03-01", "colour": "colour"}
    assert category_fields.clean_form_data(FIELDS, {"serial": "x", "floor": "2.5"})["floor"] == 2.5


def test_a_wrong_value_is_refused_naming_the_field():
    with translation.override("en"), pytest.raises(ValidationError) as caught:
        category_fields.clean_form_data(FIELDS, {"floor": "third", "since": "yesterday", "colour": "pink"})
    messages = caught.value.message_dict["form_data"]
    assert "Serial number: This field is required." in messages
    assert "Floor: Enter a number." in messages
    assert "Broken since: Enter a valid date." in messages
    assert any(m.startswith("Colour: Select a valid choice.") for m in messages)
    with pytest.raises(ValidationError):
        category_fields.clean_form_data(FIELDS, ["not", "an", "object"])


def test_display_rows_show_choice_labels_and_values_of_removed_fields():
    with translation.override("zh-hans"):
        rows = category_fields.display_rows(FIELDS, {"serial": "SN-1", "colour": "colour", "old": "kept"})
    assert rows == [("序列号", "SN-1"), ("Colour", "彩色"), ("old", "kept")]
