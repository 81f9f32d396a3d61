"""The template catalogue: one YAML file per template, loaded and checked once.

Every check a template can fail is made here, at start-up, so a broken file
stops the server with its name and the reason instead of failing a user's run
later: the config schema is valid JSON Schema, step kinds exist and get the
parameters they need, every template string and expression parses in the
sandbox, steps read only earlier steps and declared config keys, credential
kinds exist and the default trigger is valid.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from jinja2 import TemplateError as JinjaTemplateError
from jinja2 import nodes
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from botskis.agents.triggers import trigger_errors
from botskis.credentials.kinds import CREDENTIAL_KINDS
from botskis.execution.rendering import (
    ENVIRONMENT,
    RenderError,
    check_expression,
    check_template,
    evaluate,
)
from botskis.execution.rendering import iter_templates as iter_template_strings
from botskis.execution.steps import STEP_KINDS
from botskis.execution.workflow import Workflow

TEMPLATES_DIR = Path(__file__).parent / "templates"
TEMPLATE_NAMESPACE = uuid.UUID("6f1c2d0e-8a4b-5c3d-9e7f-0a1b2c3d4e5f")
CONTEXT_NAMES = frozenset({"input", "config", "steps", "now"})
FOREACH_NAMES = frozenset({"item", "index"})


class TemplateError(Exception):
    """A template file that cannot be used; the message names the file and the reason."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"template {path.name}: {reason}")
        self.path = path
        self.reason = reason


def template_id(slug: str) -> uuid.UUID:
    """Stable across processes and releases, so a template's id can be bookmarked."""
    return uuid.uuid5(TEMPLATE_NAMESPACE, slug)


class Template(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: uuid.UUID
    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,98}$")
    name: str = Field(min_length=1, max_length=100)
    description: str = Field(min_length=1, max_length=2000)
    category: str = Field(pattern=r"^[a-z][a-z_]{1,39}$")
    icon: str = Field(min_length=1, max_length=100)
    features: list[str] = Field(default_factory=list)
    integrations: list[str] = Field(default_factory=list)
    rating: float = Field(ge=0, le=5)
    featured: bool = False
    # Manual work one successful run saves, in minutes (the default of an agent's figure).
    minutes_saved_per_run: float = Field(default=5.0, ge=0, le=1440)
    credentials: list[str] = Field(default_factory=list)
    config_schema: dict[str, Any]
    trigger: dict[str, Any]
    workflow: Workflow

    @field_validator("config_schema")
    @classmethod
    def _object_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        if value.get("type") != "object":
            raise ValueError('config_schema must have "type": "object"')
        return value

    @property
    def trigger_type(self) -> str:
        return str(self.trigger.get("type"))

    @property
    def config_keys(self) -> set[str]:
        return set(self.config_schema.get("properties", {}))

    @property
    def uses_llm(self) -> bool:
        return any(step.kind == "llm" for step in self.workflow.steps)

    def uses_llm_with(self, config: dict[str, Any]) -> bool:
        """An `llm` step may run with this config: it has no `when`, or its `when`
        is true for the config (a `when` that needs a run's input or earlier
        steps counts as true)."""
        for step in self.workflow.steps:
            if step.kind != "llm":
                continue
            if step.when is None:
                return True
            try:
                if evaluate(step.when, {"config": config}):
                    return True
            except RenderError:
                return True
        return False


class Catalog:
    """All templates, in file-name order, addressable by id or slug."""

    def __init__(self, templates: list[Template]) -> None:
        self._templates = templates
        self._by_key: dict[str, Template] = {}
        for template in templates:
            self._by_key[template.slug] = template
            self._by_key[str(template.id)] = template

    def all(self) -> list[Template]:
        return list(self._templates)

    def get(self, id_or_slug: str) -> Template | None:
        return self._by_key.get(id_or_slug.strip().lower())

    def __len__(self) -> int:
        return len(self._templates)


def _check_trigger(trigger: Any) -> str | None:
    """The same rules a user's trigger meets when deploying (agents.triggers)."""
    errors = trigger_errors(trigger)
    if not errors:
        return None
    return "; ".join(f"{e['field']}: {e['message']}" for e in errors)


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else str(error["msg"])


def _step_references(text: str, *, expression: bool) -> Iterator[tuple[str, str]]:
    """(kind, name) pairs a template reads: ("name", top-level) and ("steps"|"config", key)."""
    try:
        tree = ENVIRONMENT.parse("{{ " + text + " }}") if expression else ENVIRONMENT.parse(text)
    except JinjaTemplateError:
        return
    assigned = {node.name for node in tree.find_all(nodes.Name) if node.ctx in ("store", "param")}
    for node in tree.find_all(nodes.Name):
        if node.ctx == "load" and node.name not in assigned:
            yield "name", node.name
    for attribute in tree.find_all(nodes.Getattr):
        if isinstance(attribute.node, nodes.Name) and attribute.node.name in ("steps", "config"):
            yield attribute.node.name, attribute.attr
    for item in tree.find_all(nodes.Getitem):
        if (
            isinstance(item.node, nodes.Name)
            and item.node.name in ("steps", "config")
            and isinstance(item.arg, nodes.Const)
            and isinstance(item.arg.value, str)
        ):
            yield item.node.name, item.arg.value


def _check_workflow(template: Template) -> str | None:
    config_keys = template.config_keys
    declared_credentials = set(template.credentials)
    earlier: set[str] = set()
    for step in template.workflow.steps:
        where = f"step {step.id!r}"
        kind = STEP_KINDS.get(step.kind)
        if kind is None:
            known = ", ".join(sorted(STEP_KINDS))
            return f"{where}: unknown step kind {step.kind!r} (known: {known})"
        problems = kind.validate_params(step.params)
        if problems:
            return f"{where}: " + "; ".join(problems)
        credential = step.params.get("credential")
        if credential is not None and credential not in declared_credentials:
            return f"{where}: credential {credential!r} is not listed in the template's credentials"
        sources: list[tuple[str, bool]] = [(t, False) for t in iter_template_strings(step.params)]
        for label, expression in (("when", step.when), ("foreach", step.foreach)):
            if expression is None:
                continue
            try:
                check_expression(expression)
            except RenderError as exc:
                return f"{where}: {label} does not parse: {exc.reason}"
            sources.append((expression, True))
        allowed = CONTEXT_NAMES | (FOREACH_NAMES if step.foreach else frozenset())
        for text, is_expression in sources:
            if not is_expression:
                try:
                    check_template(text)
                    ENVIRONMENT.compile(text)
                except RenderError as exc:
                    return f"{where}: template {text!r} does not parse: {exc.reason}"
                except JinjaTemplateError as exc:
                    return f"{where}: template {text!r} does not compile: {exc}"
            for ref_kind, name in _step_references(text, expression=is_expression):
                if ref_kind == "name" and name not in allowed and name not in _GLOBALS:
                    return f"{where}: {text!r} reads unknown name {name!r}"
                if ref_kind == "steps" and name not in earlier:
                    return f"{where}: {text!r} reads step {name!r}, which does not run before it"
                if ref_kind == "config" and name not in config_keys and name not in _DICT_METHODS:
                    return f"{where}: {text!r} reads config.{name}, which config_schema does not declare"
        earlier.add(step.id)
    return None


_GLOBALS = frozenset(ENVIRONMENT.globals) | {"loop"}
_DICT_METHODS = frozenset({"get", "items", "keys", "values"})


def _bad_default(schema: dict[str, Any]) -> str | None:
    """A default that breaks its own property's schema would fail every deploy."""
    for name, prop in schema.get("properties", {}).items():
        if isinstance(prop, dict) and "default" in prop:
            validator = Draft202012Validator(
                prop, format_checker=Draft202012Validator.FORMAT_CHECKER
            )
            error = next(iter(validator.iter_errors(prop["default"])), None)
            if error is not None:
                return f"config_schema default of {name!r} is invalid: {error.message}"
    return None


def check_template_file(path: Path) -> Template:
    """Parse and check one file; raise TemplateError naming it and the first problem."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise TemplateError(path, f"cannot be read as YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise TemplateError(path, "must be a YAML mapping")
    slug = raw.get("slug")
    if slug != path.stem:
        raise TemplateError(path, f"slug {slug!r} must equal the file name {path.stem!r}")
    try:
        template = Template.model_validate({**raw, "id": template_id(str(slug))})
    except ValidationError as exc:
        raise TemplateError(path, _first_error(exc)) from exc
    try:
        Draft202012Validator.check_schema(template.config_schema)
    except SchemaError as exc:
        raise TemplateError(path, f"config_schema is not valid JSON Schema: {exc.message}") from exc
    bad_default = _bad_default(template.config_schema)
    if bad_default:
        raise TemplateError(path, bad_default)
    unknown = [name for name in template.credentials if name not in CREDENTIAL_KINDS]
    if unknown:
        raise TemplateError(path, f"unknown credential kind {unknown[0]!r}")
    problem = _check_trigger(template.trigger) or _check_workflow(template)
    if problem:
        raise TemplateError(path, problem)
    return template


def load_catalog(directory: Path = TEMPLATES_DIR) -> Catalog:
    files = sorted(directory.glob("*.yaml"))
    templates = [check_template_file(path) for path in files]
    return Catalog(templates)


@lru_cache(maxsize=1)
def get_catalog() -> Catalog:
    """The packaged catalogue, loaded once per process."""
    return load_catalog(TEMPLATES_DIR)
