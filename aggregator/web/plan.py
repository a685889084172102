"""The plan form at ``/plan``: the planner's options, and the plan the API gives for them.

The form's names are ``GET /v1/plan``'s; the values are checked by the same model
(:class:`~aggregator.plans.PlanQuery`) and planned by the same function as the JSON routes
(:func:`aggregator.api.routes.plans.plan_for`, memo included), so a bad value shows the API's
message next to its field and a plan is the API's plan. ``GET`` keeps the request in the URL
to share; ``POST`` (a form body) answers the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl

from fastapi import Request
from starlette.responses import HTMLResponse

from aggregator.api.routes.plans import plan_for
from aggregator.api.state import ServiceDep
from aggregator.errors import InvalidInput, NoFeasiblePlan, StoreError
from aggregator.models import PurchaseOption
from aggregator.plans import DEFAULT_PLAN_PURCHASE_OPTIONS, Plan, PlanQuery
from aggregator.web.access import page_router
from aggregator.web.forms import GENERAL, Form, read_form
from aggregator.web.render import STORE_DOWN, page, query_string

__all__ = ["FIELDS", "Field", "plan_page", "plan_posted", "router"]

router = page_router()


@dataclass(frozen=True)
class Field:
    """One control of the form; its help text is the request field's own description."""

    name: str
    label: str
    kind: str = "number"  # number | text | list | choice | options
    group: str = ""

    @property
    def help(self) -> str:
        return PlanQuery.model_fields[self.name].description or ""

    @property
    def default(self) -> object:
        info = PlanQuery.model_fields[self.name]
        return None if info.default_factory is not None else info.default


def _group(group: str, *fields: Field) -> list[Field]:
    return [Field(f.name, f.label, f.kind, group) for f in fields]


FIELDS: tuple[Field, ...] = (
    *_group(
        "What to buy",
        Field("gpu_hours", "GPU-hours"),
        Field("budget", "Budget"),
        Field("gpus", "GPUs", "list"),
        Field("min_gpu_memory_gb", "Minimum GPU memory, GB"),
        Field("equivalent_gpu", "Count the work of GPU", "text"),
        Field("throughput", "Throughput ratios (GPU=ratio)", "list"),
    ),
    *_group(
        "Time and size",
        Field("deadline_hours", "Deadline, hours"),
        Field("max_gpus", "Most GPUs at once"),
        Field("gpus_per_node", "GPUs per instance"),
        Field("min_gpus_per_node", "At least GPUs per instance"),
        Field("max_gpus_per_node", "At most GPUs per instance"),
    ),
    *_group(
        "Where",
        Field("providers", "Providers", "list"),
        Field("regions", "Regions (globs)", "list"),
        Field("one_cluster", "One cluster", "choice"),
        Field("min_interconnect_gbps", "Minimum interconnect, Gbit/s"),
        Field("available_now", "Only offers listed available now", "choice"),
    ),
    *_group(
        "How to buy",
        Field("purchase_options", "Purchase options", "options"),
        Field("spot_overhead", "Spot overhead (share, or auto)", "text"),
        Field("checkpoint_minutes", "Checkpoint every, minutes"),
        Field("restart_minutes", "Restart takes, minutes"),
        Field("apply_terms", "Apply my price terms", "choice"),
    ),
    *_group(
        "Hosts",
        Field("min_vcpus_per_gpu", "Minimum vCPUs per GPU"),
        Field("min_memory_gb_per_gpu", "Minimum host memory per GPU, GB"),
        Field("allow_fractional", "Allow a fraction of a GPU", "choice"),
    ),
    *_group("Answer", Field("top", "Alternatives to show")),
)
_LISTS = frozenset(f.name for f in FIELDS if f.kind in ("list", "options"))


def _groups() -> list[tuple[str, list[Field]]]:
    groups: dict[str, list[Field]] = {}
    for f in FIELDS:
        groups.setdefault(f.group, []).append(f)
    return list(groups.items())


async def _answer(
    request: Request, service: ServiceDep, params: list[tuple[str, str]]
) -> HTMLResponse:
    form = read_form(PlanQuery, params, _LISTS)
    submitted = bool(params)
    plan: Plan | None = None
    status = 200
    if submitted and form.values is not None:
        try:
            plan = await plan_for(service, form.values.request())
        except InvalidInput as exc:
            form.add_error(exc)
        except NoFeasiblePlan as exc:
            form.errors[GENERAL] = str(exc)
        except StoreError:
            form.errors[GENERAL], status = STORE_DOWN, 503
    if submitted and form.errors and status == 200:
        status = 422
    options = form.raw.get("purchase_options") if submitted else None
    checked = options or [o.value for o in DEFAULT_PLAN_PURCHASE_OPTIONS]
    return page(
        request,
        "plan.html",
        status,
        form=form if submitted else Form(values=None, fields=form.fields),
        groups=_groups(),
        submitted=submitted,
        plan=plan,
        api_link="/v1/plan" + query_string(form.raw),
        purchase_options=list(PurchaseOption),
        checked=checked,
    )


@router.get("/plan", response_class=HTMLResponse)
async def plan_page(request: Request, service: ServiceDep) -> HTMLResponse:
    """The form, and with a query string the plan for it."""
    return await _answer(request, service, request.query_params.multi_items())


@router.post("/plan", response_class=HTMLResponse)
async def plan_posted(request: Request, service: ServiceDep) -> HTMLResponse:
    """The plan for a posted form (``application/x-www-form-urlencoded``)."""
    body = (await request.body()).decode("utf-8", "replace")
    return await _answer(request, service, parse_qsl(body, keep_blank_values=True))
