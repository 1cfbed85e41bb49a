"""Tool argument schemas: JSON Schema (canonical) <-> Gemini's `parameters` (an OpenAPI 3.0 subset).

Decision: requests to a Gemini upstream carry `parameters`, cleaned, not `parametersJsonSchema`. `parameters` works
on every Gemini model and on Vertex; `parametersJsonSchema` is newer and not everywhere. A Gemini client's own
`parametersJsonSchema` still reaches a Gemini upstream as sent (the raw `tools` travel in extras).

Cleaning (`to_gemini`) keeps only the keywords Gemini's Schema has; any other is refused with `400 Invalid JSON
payload received. Unknown name` ($schema, additionalProperties, propertyNames, $id, not, if/then/else...). It
also rewrites what can be kept in another form: `const` -> `enum: [value]`; a `type` array -> its first non-null
type plus `nullable`; `anyOf`/`oneOf` members of type null -> `nullable`; `allOf` -> merged; `$ref` into `$defs`
or `definitions` -> inlined (a recursive reference becomes a bare `{"type": "object"}`); non-string enums and
formats Gemini does not know are dropped; `required` keeps only declared properties; an object without properties
loses `properties` (Gemini refuses an empty one), and a tool whose schema is that has no `parameters` at all.

`to_json_schema` reads a Gemini client's `parameters` into JSON Schema: types lower-cased, `nullable` -> a type
array, the snake_case keywords google-genai 3.x sends (`any_of`, `max_items`...) camel-cased.
"""

from __future__ import annotations

from msgspec import Raw

from weir.dialects.gemini.schema import camel, decode_any, raw_of

Json = dict[str, "Json"] | list["Json"] | str | int | float | bool | None
Node = dict[str, Json]

KEYWORDS = frozenset(
    {"type", "format", "title", "description", "nullable", "enum", "items", "properties", "required", "anyOf"}
    | {"minItems", "maxItems", "minProperties", "maxProperties", "minLength", "maxLength", "pattern"}
    | {"minimum", "maximum", "default", "example", "propertyOrdering"}
)
FORMATS = {"string": {"enum", "date-time"}, "integer": {"int32", "int64"}, "number": {"float", "double"}}
MAX_DEPTH = 40


def to_gemini(schema: Raw, removed: set[str]) -> Raw | None:
    """`schema` as Gemini `parameters`, None when the tool takes no arguments; keywords left out go to `removed`."""
    root = decode_any(schema)
    if not isinstance(root, dict):
        return None
    defs: Node = {}
    for key in ("definitions", "$defs"):
        found = root.get(key)
        if isinstance(found, dict):
            defs.update(found)
    cleaned = _clean(root, defs, frozenset(), 0, removed)
    removed.discard("$defs")
    removed.discard("definitions")
    if "properties" not in cleaned and "anyOf" not in cleaned:
        return None  # no arguments: Gemini refuses an OBJECT with empty properties
    return raw_of(cleaned)


def _clean(node: Node, defs: Node, seen: frozenset[str], depth: int, removed: set[str]) -> Node:
    ref = node.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[-1]
        target = defs.get(name)
        if not isinstance(target, dict) or name in seen or depth > MAX_DEPTH:
            removed.add("$ref")
            return _described({"type": "object"}, node)
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        seen = seen | {name}
    node = _merged_all_of(node, removed)
    out: Node = {}
    nullable = node.get("nullable") is True
    kind = node.get("type")
    if isinstance(kind, list):
        nullable = nullable or "null" in kind
        kind = next((k for k in kind if k != "null"), None)
    if kind == "null":
        kind, nullable = None, True
    members = node.get("anyOf", node.get("oneOf"))
    if isinstance(members, list):
        kept = [m for m in members if isinstance(m, dict) and m.get("type") != "null"]
        nullable = nullable or len(kept) < len(members)
        cleaned = [_clean(m, defs, seen, depth + 1, removed) for m in kept]
        if len(cleaned) == 1:
            out.update(cleaned[0])
        elif cleaned:
            out["anyOf"] = list[Json](cleaned)
    if "const" in node:
        node = {**node, "enum": [node["const"]]}
    if isinstance(kind, str):
        out["type"] = kind
    enum = node.get("enum")
    if isinstance(enum, list) and enum and all(isinstance(v, str) for v in enum):
        out["enum"] = enum
        out.setdefault("type", "string")
    elif enum is not None:
        removed.add("enum")
    properties = node.get("properties")
    if isinstance(properties, dict) and properties:
        out["properties"] = {
            name: _clean(sub if isinstance(sub, dict) else {}, defs, seen, depth + 1, removed)
            for name, sub in properties.items()
        }
        required = node.get("required")
        if isinstance(required, list):
            names = [n for n in required if isinstance(n, str) and n in properties]
            if names:
                out["required"] = list[Json](names)
    items = node.get("items")
    if isinstance(items, list):
        items = items[0] if items else None
    if isinstance(items, dict):
        out["items"] = _clean(items, defs, seen, depth + 1, removed)
    fmt = node.get("format")
    if isinstance(fmt, str) and fmt in FORMATS.get(str(out.get("type", "")), ()):
        out["format"] = fmt
    elif fmt is not None:
        removed.add("format")
    for key, value in node.items():
        if key in KEYWORDS and key not in out and key not in ("type", "anyOf", "nullable", "properties"):
            if key not in ("enum", "format", "items", "required"):
                out[key] = value
        elif key not in KEYWORDS and key not in ("$ref", "const", "oneOf", "allOf"):
            removed.add(key)
    if nullable:
        out["nullable"] = True
    return out


def _merged_all_of(node: Node, removed: set[str]) -> Node:
    """`allOf` members merged into the node: properties and required lists joined, other keys first come first."""
    members = node.get("allOf")
    if not isinstance(members, list):
        return node
    merged: Node = {k: v for k, v in node.items() if k != "allOf"}
    for member in members:
        if not isinstance(member, dict):
            continue
        for key, value in member.items():
            old = merged.get(key)
            if key == "properties" and isinstance(old, dict) and isinstance(value, dict):
                merged[key] = {**old, **value}
            elif key == "required" and isinstance(old, list) and isinstance(value, list):
                merged[key] = old + [v for v in value if v not in old]
            else:
                merged.setdefault(key, value)
    return merged


def _described(out: Node, node: Node) -> Node:
    if isinstance(node.get("description"), str):
        out["description"] = node["description"]
    return out


def to_json_schema(schema: Raw) -> Raw:
    """A Gemini client's `parameters` as JSON Schema."""
    return raw_of(_to_json(decode_any(schema)))


def _to_json(node: Json) -> Json:
    if not isinstance(node, dict):
        return node
    out: Node = {}
    for key, value in node.items():
        key = camel(key)
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: _to_json(sub) for name, sub in value.items()}
        elif key in ("items", "anyOf"):
            out[key] = [_to_json(v) for v in value] if isinstance(value, list) else _to_json(value)
        elif key == "type" and isinstance(value, str):
            if value.upper() != "TYPE_UNSPECIFIED":
                out[key] = value.lower()
        elif key == "format" and value == "enum":
            continue  # Gemini's marker for a string enum; JSON Schema says it with `enum` alone
        elif key != "nullable":
            out[key] = value
    if node.get("nullable") is True:
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
        else:
            out["nullable"] = True
    return out
