"""Request bodies the API reads (REST_FRAMEWORK's DEFAULT_PARSER_CLASSES). No view here: DRF imports these
while it loads its views."""

from __future__ import annotations

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's, but JSON nested deeper than Python's recursion limit (100,000 `[`s) is bad JSON like any other: 400."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply") from None
