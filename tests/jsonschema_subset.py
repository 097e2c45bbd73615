"""A small JSON Schema validator: the subset docs/artifact.schema.json uses, nothing more.

The tests check every counterexample file they write against the published schema. The
`jsonschema` package would do it too, but it is not a dependency of the harness and the
subset is small: type, const, enum, properties, required, additionalProperties,
propertyNames, items, min/maxItems, minimum/maximum, maxLength, pattern, anyOf, oneOf,
if/then and local $ref. An unknown keyword is an error, so the schema cannot silently use
more than this checks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "docs" / "artifact.schema.json"

_ANNOTATIONS = {"$schema", "$id", "$defs", "title", "description"}
_TYPES = {
    "null": lambda v: v is None,
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


def load_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


class Validator:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root

    def errors(self, value: Any, schema: dict[str, Any], path: str = "$") -> Iterator[str]:
        """Every violation of `schema` by `value`, as ``path: problem``."""
        for key, rule in schema.items():
            if key in _ANNOTATIONS or key in ("then",):
                continue
            check = getattr(self, "_" + key.lstrip("$"), None)
            if check is None:
                raise ValueError(f"the schema uses {key!r}, which this validator does not know")
            yield from check(value, rule, path, schema)

    def valid(self, value: Any, schema: dict[str, Any]) -> bool:
        return next(self.errors(value, schema), None) is None

    def _ref(self, value: Any, rule: str, path: str, _s: Any) -> Iterator[str]:
        assert rule.startswith("#/"), rule
        target: Any = self.root
        for part in rule[2:].split("/"):
            target = target[part]
        yield from self.errors(value, target, path)

    def _type(self, value: Any, rule: str | list[str], path: str, _s: Any) -> Iterator[str]:
        names = [rule] if isinstance(rule, str) else rule
        if not any(_TYPES[n](value) for n in names):
            yield f"{path}: {type(value).__name__} is not {rule}"

    def _const(self, value: Any, rule: Any, path: str, _s: Any) -> Iterator[str]:
        if value != rule or type(value) is not type(rule):
            yield f"{path}: is not {rule!r}"

    def _enum(self, value: Any, rule: list[Any], path: str, _s: Any) -> Iterator[str]:
        if value not in rule:
            yield f"{path}: {value!r} is not one of {rule}"

    def _required(self, value: Any, rule: list[str], path: str, _s: Any) -> Iterator[str]:
        if isinstance(value, dict):
            for key in rule:
                if key not in value:
                    yield f"{path}: missing {key!r}"

    def _properties(self, value: Any, rule: dict[str, Any], path: str, _s: Any) -> Iterator[str]:
        if isinstance(value, dict):
            for key, sub in rule.items():
                if key in value:
                    yield from self.errors(value[key], sub, f"{path}.{key}")

    def _additionalProperties(
        self, value: Any, rule: bool | dict[str, Any], path: str, schema: dict[str, Any]
    ) -> Iterator[str]:
        if not isinstance(value, dict):
            return
        known = schema.get("properties", {})
        for key, item in value.items():
            if key in known:
                continue
            if rule is False:
                yield f"{path}.{key}: not allowed"
            elif isinstance(rule, dict):
                yield from self.errors(item, rule, f"{path}.{key}")

    def _propertyNames(self, value: Any, rule: dict[str, Any], path: str, _s: Any) -> Iterator[str]:
        if isinstance(value, dict):
            for key in value:
                yield from self.errors(key, rule, f"{path}.{key} (name)")

    def _items(self, value: Any, rule: dict[str, Any], path: str, _s: Any) -> Iterator[str]:
        if isinstance(value, list):
            for i, item in enumerate(value):
                yield from self.errors(item, rule, f"{path}[{i}]")

    def _minItems(self, value: Any, rule: int, path: str, _s: Any) -> Iterator[str]:
        if isinstance(value, list) and len(value) < rule:
            yield f"{path}: fewer than {rule} items"

    def _maxItems(self, value: Any, rule: int, path: str, _s: Any) -> Iterator[str]:
        if isinstance(value, list) and len(value) > rule:
            yield f"{path}: more than {rule} items"

    def _minimum(self, value: Any, rule: int, path: str, _s: Any) -> Iterator[str]:
        if _TYPES["number"](value) and value < rule:
            yield f"{path}: below {rule}"

    def _maximum(self, value: Any, rule: int, path: str, _s: Any) -> Iterator[str]:
        if _TYPES["number"](value) and value > rule:
            yield f"{path}: above {rule}"

    def _maxLength(self, value: Any, rule: int, path: str, _s: Any) -> Iterator[str]:
        if isinstance(value, str) and len(value) > rule:
            yield f"{path}: longer than {rule}"

    def _pattern(self, value: Any, rule: str, path: str, _s: Any) -> Iterator[str]:
        if isinstance(value, str) and not re.search(rule, value):
            yield f"{path}: does not match {rule}"

    def _anyOf(self, value: Any, rule: list[Any], path: str, _s: Any) -> Iterator[str]:
        if not any(self.valid(value, sub) for sub in rule):
            yield f"{path}: matches none of the allowed forms"

    def _oneOf(self, value: Any, rule: list[Any], path: str, _s: Any) -> Iterator[str]:
        matches = [sub for sub in rule if self.valid(value, sub)]
        if len(matches) != 1:
            if not matches and isinstance(value, dict):  # say why the likeliest form failed
                for sub in rule:
                    yield from self.errors(value, sub, path)
                return
            yield f"{path}: matches {len(matches)} of the forms, not exactly one"

    def _if(
        self, value: Any, rule: dict[str, Any], path: str, schema: dict[str, Any]
    ) -> Iterator[str]:
        if self.valid(value, rule) and "then" in schema:
            yield from self.errors(value, schema["then"], path)


def schema_errors(data: Any) -> list[str]:
    """Violations of docs/artifact.schema.json by `data` (empty: it validates)."""
    schema = load_schema()
    return list(Validator(schema).errors(data, schema))
