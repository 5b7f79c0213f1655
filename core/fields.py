"""Serializer fields shared by the apps."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class StringField(serializers.CharField):
    """A string, and only a string: DRF's ``CharField`` turns a number into text, so
    ``{"tag": 0}`` would pass although the OpenAPI document says ``string``."""

    default_error_messages = {"not_text": "Enter text (a JSON string)."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_text")
        return super().to_internal_value(data)
