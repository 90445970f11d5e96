"""Offset pagination shared by every list endpoint."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")


class PageParams(BaseModel):
    """Which slice of a list to return."""

    limit: int = Field(50, ge=1, le=500, description="Items per page (1-500).")
    offset: int = Field(0, ge=0, le=10_000_000, description="Items to skip.")


class Page(BaseModel, Generic[T]):
    """One page of a list plus the total, so clients can render pagers."""

    items: list[T]
    total: int = Field(description="Items matching the filter, across all pages.")
    limit: int
    offset: int


LIKE_ESCAPE = "\\"


def contains_pattern(text: str) -> str:
    """A case-folded LIKE pattern matching `text` anywhere, with % and _ taken literally.

    Use with `column.ilike(contains_pattern(q), escape=LIKE_ESCAPE)`.
    """
    escaped = text.lower().replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
