"""Rendering step parameters in a Jinja2 sandbox.

Rules every template author can rely on:
* a string that is exactly one `{{ expression }}` yields the expression's native
  value (a list stays a list, a number stays a number);
* any other string containing `{{` or `{%` renders to text;
* dicts and lists render recursively; other values pass through.
The context is `input`, `config`, `steps` (``steps.<id>.output``), `now` and, in a
`foreach` step, `item` and `index`. Undefined names fail loudly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

SINGLE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expr>.*)\}\}\s*$", re.DOTALL)


class RenderError(Exception):
    """A template expression failed; the message names the expression."""

    def __init__(self, expression: str, reason: str) -> None:
        super().__init__(f"cannot render {expression!r}: {reason}")
        self.expression = expression
        self.reason = reason


def _tojson(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


class DataFirstEnvironment(ImmutableSandboxedEnvironment):
    """`payload.items` means the payload's "items" key when it has one, not the
    dict method: template data (webhook bodies, LLM output) often uses keys such
    as items, keys, values or update."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Mapping) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


def make_environment() -> ImmutableSandboxedEnvironment:
    env = DataFirstEnvironment(undefined=StrictUndefined, autoescape=False)
    env.filters["tojson"] = _tojson
    env.policies["json.dumps_kwargs"] = {"ensure_ascii": False, "default": str}
    return env


ENVIRONMENT = make_environment()
# Compiling is most of the cost of a render; every run of a template renders the
# same strings, so compiled ones are kept (a compile error is not cached).
COMPILED_CACHE_SIZE = 4096
# What a user's template can raise while rendering (`{{ 1 // 0 }}`, `{{ x[9] }}`,
# ...): the step's own error, not a crash of the engine.
RENDER_ERRORS = (
    TemplateError,
    TypeError,
    ValueError,
    AttributeError,
    KeyError,
    IndexError,
    ArithmeticError,
)


@lru_cache(maxsize=COMPILED_CACHE_SIZE)
def _compiled_expression(expression: str) -> Callable[..., Any]:
    return ENVIRONMENT.compile_expression(expression, undefined_to_none=False)


@lru_cache(maxsize=COMPILED_CACHE_SIZE)
def _compiled_template(text: str) -> Template:
    return ENVIRONMENT.from_string(text)


def _is_template(text: str) -> bool:
    return "{{" in text or "{%" in text


def evaluate(expression: str, context: Mapping[str, Any]) -> Any:
    """Evaluate a bare expression (a `when` or `foreach`) to its native value."""
    try:
        value = _compiled_expression(expression)(**context)
        if isinstance(value, Undefined):
            # An expression that ends on a missing name yields an Undefined instead
            # of raising; touching it raises the error that names what is missing.
            str(value)
        return value
    except RENDER_ERRORS as exc:
        raise RenderError(expression, str(exc)) from exc


def render_value(value: Any, context: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        if not _is_template(value):
            return value
        single = SINGLE_EXPRESSION.match(value)
        if single and "}}" not in single.group("expr") and "{{" not in single.group("expr"):
            return evaluate(single.group("expr"), context)
        try:
            return _compiled_template(value).render(**context)
        except RENDER_ERRORS as exc:
            raise RenderError(value, str(exc)) from exc
    if isinstance(value, Mapping):
        return {key: render_value(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [render_value(item, context) for item in value]
    return value


def iter_templates(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        if _is_template(value):
            yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from iter_templates(item)
    elif isinstance(value, list):
        for item in value:
            yield from iter_templates(item)


def check_template(text: str) -> None:
    """Parse (not run) a template string; raise RenderError when it does not parse."""
    try:
        ENVIRONMENT.parse(text)
    except TemplateError as exc:
        raise RenderError(text, str(exc)) from exc


def check_expression(expression: str) -> None:
    try:
        ENVIRONMENT.compile_expression(expression)
    except TemplateError as exc:
        raise RenderError(expression, str(exc)) from exc
