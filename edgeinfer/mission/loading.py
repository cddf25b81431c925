"""Load a mission TOML (tomllib), apply ``KEY=VALUE`` overrides, validate, and explain errors.

Every problem becomes ONE line of :class:`~edgeinfer.errors.ConfigError` naming the file, the
key path (``ground_stations[1].lat_deg``), the bad value and what is allowed, e.g.::

    sample.toml: constellation.kind = 'leo': Input should be 'sso', 'walker' or 'tle'
    sample.toml: budgets.powr: unknown key; allowed here: power, thermal, storage_bytes, ...
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from edgeinfer.errors import ConfigError
from edgeinfer.mission.config import MissionConfig

__all__ = ["apply_overrides", "load_mission", "sample_mission_path"]

_SAMPLE = Path("sample_data") / "missions" / "sample.toml"


def sample_mission_path() -> Path:
    """The embedded sample mission, ``sample_data/missions/sample.toml`` of the repository."""
    return Path(__file__).resolve().parents[2] / _SAMPLE


def load_mission(
    source: str | Path | Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
) -> MissionConfig:
    """Read and validate a mission.

    ``source``: a TOML file, a mapping (paths then resolve against the working directory),
    or None for the embedded sample mission. ``overrides``: ``{"mission.duration_h": 6}`` or
    ``["mission.duration_h=6", "ground_stations.0.name=Kiruna"]`` (values parsed as TOML, else
    taken as strings), applied before validation.
    """
    if source is None:
        source = sample_mission_path()
    if isinstance(source, Mapping):
        data: dict[str, Any] = copy.deepcopy(dict(source))
        label, base = "mission", Path.cwd()
    else:
        path = Path(source).expanduser()
        label, base = path.name, path.resolve().parent
        data = _read_toml(path)
        data.setdefault("source", str(path.resolve()))
    if overrides:
        data = apply_overrides(data, overrides, label)
    try:
        return MissionConfig.model_validate(data, context={"base_dir": str(base)})
    except ValidationError as exc:
        raise ConfigError(f"{label}: {explain(exc, MissionConfig)}") from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"mission file {path} does not exist; give a mission TOML (see docs/missions.md) or "
            "no argument for the sample mission"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read mission file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path.name} is not UTF-8 text (byte {exc.start}: {exc.reason}); save the mission "
            "file as UTF-8 TOML"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path.name} is not valid TOML: {exc}") from None


def apply_overrides(
    data: dict[str, Any], overrides: Mapping[str, Any] | Sequence[str], label: str = "mission"
) -> dict[str, Any]:
    """A copy of ``data`` with dotted keys set (list items by number: ``scenes.0.path``)."""
    out = copy.deepcopy(data)
    items: list[tuple[str, Any]]
    if isinstance(overrides, Mapping):
        items = list(overrides.items())
    else:
        items = [_split(text) for text in overrides]
    for key, value in items:
        parts = [p for p in key.split(".") if p]
        if not parts:
            raise ConfigError(f"{label}: override {key!r} has no key; write KEY=VALUE")
        node: Any = out
        for i, part in enumerate(parts[:-1]):
            node = _child(node, part, parts[i + 1], key, label)
        _assign(node, parts[-1], value, key, label)
    return out


def _split(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {text!r} is not KEY=VALUE (e.g. mission.duration_h=6)")
    return key.strip(), parse_value(raw.strip())


def parse_value(raw: str) -> Any:
    """A value as TOML reads it (``6``, ``2.5``, ``true``, ``"x"``, ``[1, 2]``), else the text."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _child(node: Any, part: str, next_part: str, key: str, label: str) -> Any:
    if isinstance(node, list):
        return node[_index(node, part, key, label)]
    if not isinstance(node, dict):
        raise ConfigError(f"{label}: override {key!r}: {part!r} is inside a value, not a table")
    if part not in node:
        node[part] = [] if next_part.isdigit() else {}
    return node[part]


def _assign(node: Any, part: str, value: Any, key: str, label: str) -> None:
    if isinstance(node, list):
        node[_index(node, part, key, label)] = value
    elif isinstance(node, dict):
        node[part] = value
    else:
        raise ConfigError(f"{label}: override {key!r}: {part!r} is inside a value, not a table")


def _index(node: list[Any], part: str, key: str, label: str) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise ConfigError(
            f"{label}: override {key!r}: {part!r} is not an item number 0..{len(node) - 1}"
        )
    return int(part)


def explain(exc: ValidationError, model: type[BaseModel]) -> str:
    """One line for a pydantic ValidationError: key path, bad value, what is allowed."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = [p for p in first["loc"] if p not in ("function-after", "function-before")]
    path = _path(loc)
    kind = first["type"]
    more = (
        f" (and {len(errors) - 1} more problem{'s' * (len(errors) > 2)})" if len(errors) > 1 else ""
    )
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, loc[:-1])
        return f"{path}: unknown key; allowed here: {', '.join(allowed)}{more}"
    if kind == "missing":
        return f"{path} is required{more}"
    msg = str(first["msg"]).removeprefix("Value error, ")
    if kind.startswith(("datetime", "date_")):
        msg += "; use ISO-8601 UTC such as 2023-10-25T00:00:00Z"
    where = path or "mission"
    if kind.startswith(("model_", "value_error")) and not isinstance(first.get("input"), dict):
        return f"{where} = {_show(first.get('input'))}: {msg}{more}"
    if isinstance(first.get("input"), dict | list):
        return f"{where}: {msg}{more}"
    return f"{where} = {_show(first.get('input'))}: {msg}{more}"


def _path(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _allowed_keys(model: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    """Field names of the (nested) model at ``loc``."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        current = _model_of(field.annotation)
    return list(getattr(current, "model_fields", {}))


def _model_of(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_of(arg)
        if found is not None:
            return found
    return None
