"""The GCP fixtures, how the tests serve them, and checks that they are what PROVENANCE.md says.

Three pages stand in for the Cloud Billing Catalog API (``tests/fixtures/gcp/PROVENANCE.md``):

1. ``skus.json``: OpenCost's recorded page, served byte for byte; its real ``nextPageToken``
   leads to
2. the real SKU objects of ``services_pricelist_excerpt.json`` (recorded without an envelope,
   so the test server wraps them in one), whose token leads to
3. ``constructed_page.json``: SKUs no recording has, in the real layout, ``FIXT-`` ids.

The tests serve them in two ways: :func:`catalog_routes` scripts the page chain as respx routes
(the paging tests), :class:`CatalogServer` is a stand-in for the whole API, key checks included.
The other GCP test modules import the helpers below.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import respx

from aggregator.http import make_client
from aggregator.models import Offer
from aggregator.providers import FetchContext
from aggregator.settings import Settings
from plugins.gcp.feed import CatalogFeed
from plugins.gcp.settings import GcpSettings
from tests import paths

FIXTURES = paths.FIXTURES / "gcp"
OPENCOST_PAGE: dict[str, Any] = json.loads((FIXTURES / "skus.json").read_bytes())
REAL_EXCERPT: list[dict[str, Any]] = json.loads(
    (FIXTURES / "services_pricelist_excerpt.json").read_bytes()
)
CONSTRUCTED_PAGE: dict[str, Any] = json.loads((FIXTURES / "constructed_page.json").read_bytes())
REAL_SKUS: list[dict[str, Any]] = [*OPENCOST_PAGE["skus"], *REAL_EXCERPT]
CONSTRUCTED_SKUS: list[dict[str, Any]] = CONSTRUCTED_PAGE["skus"]

PAGE_TWO_TOKEN: str = OPENCOST_PAGE["nextPageToken"]  # the real token from the recording
PAGE_THREE_TOKEN = "FIXT-PAGE-3"
BASE = "https://cloudbilling.googleapis.com"
SKUS_URL = f"{BASE}/v1/services/6F81-5844-456A/skus"
API_KEY = "AIzaSyFIXTURE-not-a-real-key-0123456789ab"

Handler = Callable[[httpx.Request], httpx.Response]


def real(description: str, usage_type: str | None = None) -> dict[str, Any]:
    """The one recorded SKU with this description (and usage type), as recorded."""
    found = [
        s
        for s in REAL_SKUS
        if s["description"] == description
        and (usage_type is None or s["category"]["usageType"] == usage_type)
    ]
    assert len(found) == 1, f"{len(found)} recorded SKUs named {description!r}"
    return found[0]


def constructed(sku_id: str) -> dict[str, Any]:
    """A constructed SKU (``FIXT-...``) by id."""
    return next(s for s in CONSTRUCTED_SKUS if s["skuId"] == sku_id)


def page_bodies() -> dict[str, bytes]:
    """Response body by the ``pageToken`` that asks for it ("" for the first page)."""
    return {
        "": (FIXTURES / "skus.json").read_bytes(),
        PAGE_TWO_TOKEN: json.dumps(
            {"skus": REAL_EXCERPT, "nextPageToken": PAGE_THREE_TOKEN}, indent=2
        ).encode(),
        PAGE_THREE_TOKEN: (FIXTURES / "constructed_page.json").read_bytes(),
    }


def json_response(status: int, body: bytes | dict[str, Any]) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.Response(
        status, content=content, headers={"content-type": "application/json; charset=UTF-8"}
    )


def catalog_routes(
    router: respx.Router, bodies: dict[str, bytes] | None = None
) -> list[respx.Route]:
    """One route per page of ``bodies`` (the fixture pages by default), in the chain's order.

    A page's route matches exactly the query the feed sends for it: the key, ``USD``,
    ``pageSize=5000`` and, after the first page, the ``pageToken`` that asks for it. A request
    no route matches fails the test (respx: "not mocked").
    """
    query = {"key": API_KEY, "currencyCode": "USD", "pageSize": "5000"}
    return [
        router.get(SKUS_URL, params__eq={**query, "pageToken": token} if token else query).mock(
            return_value=json_response(200, body)
        )
        for token, body in (page_bodies() if bodies is None else bodies).items()
    ]


@dataclass
class CatalogServer:
    """A stand-in for the Cloud Billing API that serves the fixture pages.

    It answers like Google does: no ``key`` -> 403 "missing a valid API key", a key other than
    ``valid_key`` -> 400 ``API_KEY_INVALID`` (these error bodies are modelled on Google's
    documented error format; no recording of them exists).
    """

    valid_key: str = API_KEY
    bodies: dict[str, bytes] = field(default_factory=page_bodies)
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        key = request.url.params.get("key")
        if key is None:
            return json_response(403, _google_error(403, "PERMISSION_DENIED", MISSING_KEY))
        if key != self.valid_key:
            return json_response(400, _google_error(400, "INVALID_ARGUMENT", BAD_KEY))
        token = request.url.params.get("pageToken", "")
        if token not in self.bodies:
            return json_response(400, _google_error(400, "INVALID_ARGUMENT", "bad page token"))
        return json_response(200, self.bodies[token])


MISSING_KEY = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)
BAD_KEY = "API key not valid. Please pass a valid API key."


def _google_error(code: int, status: str, message: str) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if code == 400 and message == BAD_KEY:
        error["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "cloudbilling.googleapis.com"},
            }
        ]
    return {"error": error}


@dataclass
class Run:
    """One fetch of ``gcp/catalog``: what it yielded and what it reported."""

    offers: list[Offer]
    ctx: FetchContext

    def get(
        self, instance_type: str, region: str, option: str = "on_demand", term: int = 0
    ) -> Offer:
        found = [
            o
            for o in self.offers
            if (o.instance_type, o.region, o.purchase_option.value, o.term_hours)
            == (instance_type, region, option, term)
        ]
        assert len(found) == 1, f"{len(found)} offers for {instance_type} {region} {option}"
        return found[0]

    def has(
        self, instance_type: str, region: str, option: str = "on_demand", term: int = 0
    ) -> bool:
        return any(
            (o.instance_type, o.region, o.purchase_option.value, o.term_hours)
            == (instance_type, region, option, term)
            for o in self.offers
        )


def fetch(handler: Handler, settings: GcpSettings | None = None) -> Run:
    """Run the feed against ``handler`` through the production client (retries off)."""
    settings = settings or GcpSettings(api_key=API_KEY, billing_url=BASE)

    async def go() -> Run:
        transport = httpx.MockTransport(handler)
        async with make_client(Settings(http_retries=0), transport=transport) as client:
            ctx = FetchContext(client=client, feed_id="gcp/catalog", settings=settings)
            offers = [offer async for offer in CatalogFeed().fetch(ctx)]
            return Run(offers, ctx)

    return asyncio.run(go())


@functools.cache
def fixture_run() -> Run:
    """The feed over all three fixture pages (computed once; treat it as read-only)."""
    return fetch(CatalogServer())


# --- the fixtures are what PROVENANCE.md says they are -----------------------------------------


def test_the_real_excerpt_is_serialized_exactly_like_its_source() -> None:
    # The source file is json.dumps(indent=2, ensure_ascii=False); so an object whose text is
    # unchanged re-serializes to the same bytes, and the file would differ if one were edited.
    text = (FIXTURES / "services_pricelist_excerpt.json").read_text(encoding="utf-8")
    assert text == json.dumps(REAL_EXCERPT, indent=2, ensure_ascii=False) + "\n"
    assert len(REAL_EXCERPT) == 111
    keys = {
        "name",
        "skuId",
        "description",
        "category",
        "serviceRegions",
        "pricingInfo",
        "serviceProviderName",
        "geoTaxonomy",
    }
    for sku in REAL_EXCERPT:
        assert set(sku) == keys, sku["skuId"]
        assert sku["name"] == f"services/6F81-5844-456A/skus/{sku['skuId']}"
        assert sku["pricingInfo"][0]["effectiveTime"] == "2024-09-16T12:03:12.315165Z"


def test_constructed_skus_are_marked_and_real_ones_are_not() -> None:
    assert CONSTRUCTED_SKUS
    assert all(s["skuId"].startswith("FIXT-") for s in CONSTRUCTED_SKUS)
    assert not any(s["skuId"].startswith("FIXT-") for s in REAL_SKUS)
    ids = [s["skuId"] for s in CONSTRUCTED_SKUS + REAL_SKUS]
    assert len(ids) == len(set(ids))


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value[:1]]
    return "number" if isinstance(value, int | float) else type(value).__name__


def test_constructed_skus_have_the_layout_of_a_real_sku() -> None:
    real_shapes = {json.dumps(_shape(s), sort_keys=True) for s in REAL_EXCERPT}
    for sku in CONSTRUCTED_SKUS:
        assert json.dumps(_shape(sku), sort_keys=True) in real_shapes, sku["skuId"]


def test_the_pages_chain_through_next_page_tokens() -> None:
    bodies = page_bodies()
    assert bodies[""] == (FIXTURES / "skus.json").read_bytes()
    tokens = [json.loads(bodies[t]).get("nextPageToken") for t in ("", PAGE_TWO_TOKEN)]
    assert tokens == [PAGE_TWO_TOKEN, PAGE_THREE_TOKEN]
    assert json.loads(bodies[PAGE_THREE_TOKEN])["nextPageToken"] == ""
    assert PAGE_TWO_TOKEN.startswith("APKCS1HVa0Ypwgy")
