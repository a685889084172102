"""Response bodies of the HTTP API that are not core models.

Offers, price intervals, sync runs, plans and the providers report are the core's pydantic
models (:mod:`aggregator.models`, :mod:`aggregator.catalog`), served as they are, so the API and
``gpuhours ... --json`` print the same documents. The models here only wrap them (a page of
offers with its cursor, an error) or add what only a running service knows.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from aggregator.catalog import (
    FeedStatus,
    GpuInfo,
    GpusResponse,
    PluginStatus,
    PriceTermsStatus,
)
from aggregator.models import StoredOffer, SyncRun

__all__ = [
    "DATA_AGE_HEADER",
    "ErrorDetail",
    "ErrorResponse",
    "FeedHealth",
    "FieldError",
    "GpuInfo",
    "GpusResponse",
    "HealthResponse",
    "OffersPage",
    "ProvidersResponse",
    "ReadinessResponse",
    "SyncResponse",
]

DATA_AGE_HEADER = "X-Data-Age-Seconds"
"""Seconds since the oldest price in a response was last confirmed at its source."""


class OffersPage(BaseModel):
    """One page of offers, cheapest first; follow ``next_cursor`` for the next page."""

    offers: list[StoredOffer]
    count: int = Field(description="offers on this page")
    next_cursor: str | None = Field(
        description="pass as ?cursor= (with the same filters) for the next page; null at the end"
    )
    data_age_seconds: float | None = Field(
        description="seconds since the oldest price on this page was confirmed at its source"
    )


class FeedHealth(FeedStatus):
    """A feed's status as :func:`aggregator.catalog.providers_report` gives it, plus scheduling.

    ``interval_seconds`` is the schedule in force (``GPUHOURS_SCHEDULE`` overrides a feed's
    default), ``scheduled`` is False for a feed switched off there, and
    ``consecutive_failures`` counts failed runs since the last good one: a number above zero
    means the scheduler is backing off and retrying.
    """

    scheduled: bool = True
    consecutive_failures: int = 0


class ProvidersResponse(BaseModel):
    """Plugins (with load errors) and their feeds: last sync, data age, staleness, failures."""

    plugins: list[PluginStatus]
    feeds: list[FeedHealth]
    price_terms: PriceTermsStatus


class SyncResponse(BaseModel):
    """The runs of a sync started through the API (empty ``runs`` when not waited for)."""

    feeds: list[str] = Field(description="the feeds the request selected")
    runs: list[SyncRun] = Field(description="one run record per feed, when waited for")
    waited: bool


class HealthResponse(BaseModel):
    status: Literal["ok"]


class ReadinessResponse(BaseModel):
    """Whether this replica can serve: the store answers and its schema is the one needed."""

    status: Literal["ready", "not_ready"]
    reason: str | None = None
    schema_revision: str | None = None
    required_revision: str


class FieldError(BaseModel):
    field: str | None = Field(description="the offending parameter or body field, if one")
    location: str | None = Field(description="query, path, body or header")
    message: str


class ErrorDetail(BaseModel):
    type: str = Field(description="InvalidInput, UnknownGpu, NoFeasiblePlan, NotFound ...")
    message: str
    field: str | None = Field(default=None, description="the offending parameter, if one")
    errors: list[FieldError] = Field(
        default_factory=list, description="every invalid field, for request validation errors"
    )


class ErrorResponse(BaseModel):
    """Every error response: one message, and the field at fault where there is one."""

    error: ErrorDetail
