"""Building blocks of the mission schema shared by its modules: the strict table base and
path resolution against the mission file's folder."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationInfo


class Table(BaseModel):
    """A TOML table: unknown keys are errors, values are frozen once validated."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def resolve_path(value: str | None, info: ValidationInfo) -> str | None:
    """A path relative to the mission file's folder (URLs and absolute paths unchanged)."""
    if value is None or "://" in value:
        return value
    base = (info.context or {}).get("base_dir")
    path = Path(value).expanduser()
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    return str(path.resolve()) if base is not None else str(path)
