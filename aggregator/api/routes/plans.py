"""The plan routes: the cheapest way to buy N GPU-hours (or the most a budget buys), asked in a
JSON body or in the query (:class:`~aggregator.plans.PlanQuery`).

Plans go through :func:`aggregator.planner.plan_from_store`, as ``gpuhours cheapest`` does.
Both routes are ``async`` so a plan from the memo (:mod:`aggregator.api.cache`) costs no thread
hop; a plan the memo lacks is solved in the thread pool.
"""

from __future__ import annotations

import functools
from typing import Annotated

import pydantic
from fastapi import Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError

from aggregator.api.routes.shared import (
    DATA_AGE,
    JSON,
    PLAN_SLOTS,
    STORE_DOWN,
    Responses,
    age_seconds,
    error_doc,
    family_router,
    json_with_age,
    limited,
)
from aggregator.api.state import Service, ServiceDep
from aggregator.errors import InvalidInput
from aggregator.plans import Plan, PlanQuery, PlanRequest

__all__ = ["get_plan", "plan_for", "post_plan", "router"]

router = family_router("plans", reads=True)

# Core field names (CLI options) -> PlanRequest field names, for 422s on plan routes.
_PLAN_FIELDS = {
    "gpu": "gpus",
    "provider": "providers",
    "region": "regions",
    "purchase_option": "purchase_options",
}

_PLAN_RESPONSES: Responses = {
    200: {"headers": DATA_AGE},
    422: error_doc("Bad input naming the field, or no feasible plan with the planner's reason"),
    **STORE_DOWN,
}


async def plan_for(service: Service, request: PlanRequest) -> Plan:
    """The plan for ``request``, from the memo or solved in the thread pool.

    Raises what the planner raises (:class:`InvalidInput` naming the request's field,
    :class:`~aggregator.errors.NoFeasiblePlan`); the JSON routes and the web pages both
    answer through it.
    """
    from aggregator.planner import plan_from_store

    key = ("plan", request.model_dump_json())
    version = service.version.current()  # read before the plan: it files the memos under it
    plan: Plan | None = service.answers.get(key, version)
    if plan is not None:
        return plan
    try:
        plan = await limited(
            "plan",
            PLAN_SLOTS,
            functools.partial(
                plan_from_store,
                gpus=service.registry.gpus,
                terms=service.registry.active_terms,
                store_version=version,
            ),
            service.engine,
            request,
        )
    except InvalidInput as exc:
        exc.field = _PLAN_FIELDS.get(exc.field or "") or exc.field
        raise
    service.answers.put(key, version, plan)
    return plan


async def _plan(service: Service, request: PlanRequest) -> Response:
    plan = await plan_for(service, request)
    return json_with_age(plan, age_seconds(line.observed_at for line in plan.lines))


async def _strict_json_body(request: Request) -> None:
    """Hold a JSON body to its schema's types: no ``"10"`` for a number, no ``false`` for 0.

    FastAPI validates bodies in pydantic's lax Python mode, which coerces such values; the
    OpenAPI schema promises JSON types, so the body is validated again in strict JSON mode.
    """
    raw = await request.body()
    try:
        PlanRequest.model_validate_json(raw or b"null", strict=True)
    except pydantic.ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


@router.post(
    "/v1/plan",
    response_class=JSON,
    response_model=Plan,
    summary="The cheapest way to buy N GPU-hours",
    responses=_PLAN_RESPONSES,
    dependencies=[Depends(_strict_json_body)],
)
async def post_plan(request: PlanRequest, service: ServiceDep) -> Response:
    """Plan with the request in the body (the same request as ``gpuhours cheapest``)."""
    return await _plan(service, request)


@router.get(
    "/v1/plan",
    response_class=JSON,
    response_model=Plan,
    summary="The cheapest way to buy N GPU-hours (query parameters)",
    responses=_PLAN_RESPONSES,
)
async def get_plan(query: Annotated[PlanQuery, Query()], service: ServiceDep) -> Response:
    """Plan with the request as query parameters: ``?gpu_hours=1000&gpus=H100&max_gpus=64``.

    List fields repeat (``gpus=H100&gpus=A100``), ``throughput`` as ``GPU=RATIO`` texts
    (``throughput=H100=1&throughput=A100=0.4``); the fields and their rules are those of the
    ``POST`` body.
    """
    return await _plan(service, query.request())
