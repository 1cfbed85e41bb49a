from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from weir.dialects.gemini.tool_schema import to_gemini, to_json_schema


def clean(schema: dict[str, Any]) -> tuple[Any, set[str]]:
    removed: set[str] = set()
    raw = to_gemini(msgspec.Raw(json.dumps(schema).encode()), removed)
    return (None if raw is None else json.loads(bytes(raw))), removed


def test_claude_code_style_schema() -> None:
    """Shapes Claude Code and MCP servers send, each of which Gemini refuses with `Unknown name`."""
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "file_path": {"type": "string", "description": "Absolute path"},
            "offset": {"type": ["integer", "null"], "exclusiveMinimum": 0},
            "mode": {"const": "replace"},
            "headers": {
                "type": "object",
                "propertyNames": {"pattern": "^x-"},
                "additionalProperties": {"type": "string"},
            },
            "level": {"anyOf": [{"type": "string", "enum": ["low", "high"]}, {"type": "null"}], "default": None},
            "count": {"type": "integer", "enum": [1, 2, 3], "format": "int32"},
            "tags": {
                "type": "array",
                "items": {"type": "string", "format": "email"},
                "minItems": 1,
                "uniqueItems": True,
            },
        },
        "required": ["file_path", "missing"],
    }
    cleaned, removed = clean(schema)
    assert cleaned == {
        "type": "object",
        "properties": {
            "file_path": {"type": "string", "description": "Absolute path"},
            "offset": {"type": "integer", "nullable": True},
            "mode": {"type": "string", "enum": ["replace"]},
            "headers": {"type": "object"},
            "level": {"type": "string", "enum": ["low", "high"], "nullable": True, "default": None},
            "count": {"type": "integer", "format": "int32"},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        },
        "required": ["file_path"],
    }
    assert removed == {
        "$schema",
        "additionalProperties",
        "exclusiveMinimum",
        "propertyNames",
        "enum",
        "format",
        "uniqueItems",
    }


def test_refs_are_inlined_and_recursion_stops() -> None:
    schema = {
        "type": "object",
        "$defs": {
            "Point": {"type": "object", "properties": {"x": {"type": "number"}, "y": {"type": "number"}}},
            "Node": {"type": "object", "properties": {"child": {"$ref": "#/$defs/Node"}, "name": {"type": "string"}}},
        },
        "definitions": {"Unit": {"type": "string", "enum": ["cm", "in"]}},
        "properties": {
            "at": {"$ref": "#/$defs/Point", "description": "Where"},
            "unit": {"$ref": "#/definitions/Unit"},
            "tree": {"$ref": "#/$defs/Node"},
            "nowhere": {"$ref": "https://example.test/schema.json", "description": "External"},
        },
    }
    cleaned, removed = clean(schema)
    point = {"type": "object", "properties": {"x": {"type": "number"}, "y": {"type": "number"}}, "description": "Where"}
    assert cleaned["properties"]["at"] == point
    assert cleaned["properties"]["unit"] == {"type": "string", "enum": ["cm", "in"]}
    tree = cleaned["properties"]["tree"]
    assert tree["properties"]["name"] == {"type": "string"}
    assert tree["properties"]["child"] == {"type": "object"}  # the recursive reference ends here
    assert cleaned["properties"]["nowhere"] == {"type": "object", "description": "External"}
    assert "$defs" not in cleaned and "definitions" not in cleaned and removed == {"$ref"}


def test_all_of_merged_and_one_of_as_any_of() -> None:
    schema = {
        "type": "object",
        "allOf": [
            {"properties": {"a": {"type": "string"}}, "required": ["a"]},
            {"properties": {"b": {"type": "boolean"}}, "required": ["b"]},
        ],
        "properties": {"c": {"oneOf": [{"type": "string"}, {"type": "number"}, {"type": "null"}]}},
    }
    cleaned, _ = clean(schema)
    assert cleaned == {
        "type": "object",
        "properties": {
            "c": {"anyOf": [{"type": "string"}, {"type": "number"}], "nullable": True},
            "a": {"type": "string"},
            "b": {"type": "boolean"},
        },
        "required": ["a", "b"],
    }


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {}},
        {"type": "object"},
        {"type": "object", "additionalProperties": {"type": "string"}},
        {},
    ],
)
def test_no_arguments_means_no_parameters(schema: dict[str, Any]) -> None:
    assert clean(schema)[0] is None


def test_gemini_parameters_read_as_json_schema() -> None:
    """google-genai's Schema dump: upper-case types, nullable, snake_case keywords; property names untouched."""
    schema = {
        "type": "OBJECT",
        "properties": {
            "max_items": {"type": "INTEGER", "nullable": True},
            "colour": {"type": "STRING", "format": "enum", "enum": ["red", "blue"]},
            "list": {"type": "ARRAY", "items": {"type": "STRING"}, "max_items": 3},
            "either": {"any_of": [{"type": "STRING"}, {"type": "NUMBER"}]},
        },
        "property_ordering": ["max_items", "colour"],
        "required": ["colour"],
    }
    read = json.loads(bytes(to_json_schema(msgspec.Raw(json.dumps(schema).encode()))))
    assert read == {
        "type": "object",
        "properties": {
            "max_items": {"type": ["integer", "null"]},
            "colour": {"type": "string", "enum": ["red", "blue"]},
            "list": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
            "either": {"anyOf": [{"type": "string"}, {"type": "number"}]},
        },
        "propertyOrdering": ["max_items", "colour"],
        "required": ["colour"],
    }
    cleaned, removed = clean(read)  # and back to Gemini: the same schema, in the lower-case spelling
    assert cleaned["properties"]["max_items"] == {"type": "integer", "nullable": True}
    assert cleaned["propertyOrdering"] == ["max_items", "colour"] and removed == set()
