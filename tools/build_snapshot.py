"""Build the offline price snapshot shipped in ``plugins/snapshot/responses``.

``gpuhours sync --replay bundled`` answers every request of the built-in price plugins (AWS,
Azure, GCP, OCI, Lambda, RunPod, Vultr) from that directory (the AWS Spot Instance Advisor's
file too, so the bundled sync fills ``interruption_rates``). Of Vultr only the bare-metal plans
are served (:func:`vultr_answer` says why). The snapshot is made here by
running the real feeds against a stand-in server that serves the provenance-noted fixtures of
``tests/fixtures/`` (real recorded responses wherever one exists), recording what they receive
with the ordinary record transport, gzipping the bodies, and then replaying the result once
into a fresh store to prove it is complete.

What ships is users' data, not the fixtures' test decoys: rows and SKUs that the fixtures
construct only so that tests can see them rejected, reported as unknown or excluded (with
made-up prices) are dropped on the way (``AWS_OFFER_DECOYS``, ``AWS_SP_DECOYS``,
``GCP_DECOYS``); the fixtures keep them for the tests. The OCI, Lambda, RunPod and Vultr
fixtures hold no such rows (their tests build edge cases in the test itself). What the constructed
Lambda fixture invents beyond Lambda's published prices, the regions with capacity, is removed
(:func:`lambda_body`): the snapshot must not claim capacity nobody observed. Real recorded rows
that are merely unknown to the plugins' tables (``g2.2xlarge``, Azure sizes without documented
GPU facts) are kept: a sync counts them.

Run from the repository root: ``python tools/build_snapshot.py``. Deterministic: the same
fixtures give the same files (apart from gzip, which is written with mtime 0).
"""

from __future__ import annotations

import asyncio
import csv
import gzip
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from a checkout

from aggregator.http.received import RECEIVED_AT_HEADER  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
OUT = ROOT / "plugins" / "snapshot" / "responses"

AWS_EC2_INDEX = "/offers/v1.0/aws/AmazonEC2/current/region_index.json"
AWS_SP_INDEX = "/savingsPlan/v1.0/aws/AWSComputeSavingsPlan/current/region_index.json"
AWS_REGIONS = ("us-east-1",)  # the regions the fixtures have offer files for
ADVISOR_PATH = "/spot-advisor-data.json"  # the Spot Instance Advisor's file, GPU types only
OCI_PRODUCTS_PATH = "/pls/apex/cetools/api/v1/products/"  # plugins/oci: {api_url}/products/
LAMBDA_PATH = "/api/v1/instance-types"
RUNPOD_PATH = "/graphql"
GCP_PAGE_THREE = "FIXT-PAGE-3"
GCP_PAGE_FOUR = "FIXT-PAGE-4"

# Test decoys: constructed rows / SKUs that exist in tests/fixtures only so tests can pin that
# they are rejected, reported or excluded (see the fixtures' PROVENANCE.md). Never shipped.
# ec2-us-east-1-gpu.csv, by SKU:
AWS_OFFER_DECOYS = frozenset(
    {
        "ZZP4DE24XLLNX001",  # p4de.24xlarge claiming 320 GB GPU memory: rejected on purpose
        "YSXJGN78QTXNVGDQ",  # p4d.24xlarge Capacity Block at $0.00: excluded variant
        "ZZP548XLWINDOWS1",  # p5.48xlarge excluded variants, prices made up: Windows,
        "ZZP548XLWINBYOL1",  # Windows BYOL,
        "ZZP548XLDEDICAT1",  # dedicated tenancy,
        "ZZP548XLUNUSED01",  # unused capacity reservation,
        "ZZP548XLALLOCAT1",  # allocated capacity reservation,
        "ZZP548XLRHEL0001",  # RHEL,
        "ZZP548XLSQLWEB01",  # Linux with SQL Web,
        "ZZP548XLCAPBLCK1",  # Capacity Block
    }
)
# savingsplan-us-east-1-gpu.csv, by DiscountedSKU (the excluded rows of the 1-year No Upfront
# plan: Windows, dedicated, unused reservation, Fargate, m5.large; rates made up) or by plan SKU
# (an EC2 Instance Savings Plan row, another plan type).
AWS_SP_DECOYS = frozenset(
    {
        "ZZP548XLWINDOWS1",
        "ZZP548XLDEDICAT1",
        "ZZP548XLUNUSED01",
        "ZZFARGATEVCPU001",
        "ZZM5LARGELINUX01",
        "ZZEC2INSTSP00001",
    }
)
# constructed_page.json, by skuId: the variants that must never be used (made-up prices).
GCP_DECOYS = frozenset(
    {
        "FIXT-SOLE-OD-AMER",  # sole tenancy
        "FIXT-DWS-OD-AMER",  # DWS H100
        "FIXT-DWSM-OD-AMER",  # DWS H100 Mega
        "FIXT-CAL-OD-AMER",  # calendar mode
        "FIXT-FLEX-OD-AMER",  # flex-start
        "FIXT-VWS-OD-AMER",  # virtual workstation T4
        "FIXT-K80-OD-AMER",  # a GPU the plugin does not price: reported as unknown on purpose
        "FIXT-A2CSPOT-1Y-AMER",  # a spot core tagged Commit1Yr
        "FIXT-IDR-A2R-OD-AMER",  # an IDR copy of a real USD SKU: rejected on purpose
    }
)


def _json(status: int, body: bytes) -> httpx.Response:
    return httpx.Response(status, content=body, headers={"content-type": "application/json"})


def _trimmed_index(path: Path, regions: tuple[str, ...]) -> bytes:
    """A real region index with only the regions the snapshot has files for."""
    data = json.loads(path.read_bytes())
    if isinstance(data["regions"], dict):
        data["regions"] = {k: v for k, v in data["regions"].items() if k in regions}
    else:
        data["regions"] = [r for r in data["regions"] if r["regionCode"] in regions]
    return json.dumps(data, indent=2).encode()


def _without_rows(path: Path, drop: frozenset[str], *columns: str) -> bytes:
    """A CSV fixture minus the rows whose value in any of ``columns`` is in ``drop``.

    Every other line is kept byte for byte (preamble, header, quoting). Each decoy must be
    found, so a fixture that changes under this list fails the build instead of shipping.
    """
    lines = path.read_bytes().decode().splitlines(keepends=True)
    header: list[str] | None = None
    kept: list[str] = []
    found: set[str] = set()
    for line in lines:
        row = next(csv.reader([line]))
        if header is None:
            if row and row[0] == "SKU":
                header = row
            kept.append(line)
            continue
        values = {row[header.index(c)] for c in columns if header.index(c) < len(row)}
        if values & drop:
            found |= values & drop
            continue
        kept.append(line)
    missing = drop - found
    assert not missing, f"{path.name}: decoys not found: {sorted(missing)}"
    return "".join(kept).encode()


def _version_csv_path(index: bytes, region: str) -> str:
    data = json.loads(index)
    entries = data["regions"]
    entry = (
        entries[region]
        if isinstance(entries, dict)
        else next(r for r in entries if r["regionCode"] == region)
    )
    url = entry.get("currentVersionUrl") or entry["versionUrl"]
    return str(url).rsplit(".", 1)[0] + ".csv"


def aws_routes() -> dict[str, Callable[[], httpx.Response]]:
    aws = FIXTURES / "aws"
    ec2_index = _trimmed_index(aws / "region_index.json", AWS_REGIONS)
    sp_index = _trimmed_index(aws / "4-currentSavingsPlanIndexUrl-list.json", AWS_REGIONS)
    spot = b"callback(" + (aws / "spot-price-test-data.json").read_bytes() + b");"
    return {
        AWS_EC2_INDEX: lambda: _json(200, ec2_index),
        _version_csv_path(ec2_index, "us-east-1"): lambda: httpx.Response(
            200, content=_without_rows(aws / "ec2-us-east-1-gpu.csv", AWS_OFFER_DECOYS, "SKU")
        ),
        AWS_SP_INDEX: lambda: _json(200, sp_index),
        _version_csv_path(sp_index, "us-east-1"): lambda: httpx.Response(
            200,
            content=_without_rows(
                aws / "savingsplan-us-east-1-gpu.csv", AWS_SP_DECOYS, "SKU", "DiscountedSKU"
            ),
        ),
        "/spot.js": lambda: httpx.Response(
            200, content=spot, headers={"content-type": "text/javascript"}
        ),
        ADVISOR_PATH: lambda: _json(200, (aws / "spot-advisor-data.json").read_bytes()),
    }


def _azure_link(skip: int) -> str:
    """The real NextPageLink of page 1 with another ``$skip``: links to the pages we add."""
    first = json.loads((FIXTURES / "azure" / "virtual_machines_eastus2.json").read_bytes())
    link = str(first["NextPageLink"])
    assert link.endswith("&$skip=1000"), link
    return link.removesuffix("1000") + str(skip)


def _azure_envelope(items: list[object], next_link: str | None) -> bytes:
    """Real items in the envelope of the real page 1 (the recordings of these have none)."""
    body = {
        "BillingCurrency": "USD",
        "CustomerEntityId": "Default",
        "CustomerEntityType": "Retail",
        "Items": items,
        "NextPageLink": next_link,
        "Count": len(items),
    }
    return json.dumps(body, indent=2).encode()


def azure_page(request: httpx.Request) -> httpx.Response:
    """One chain of four pages, all real items.

    1. the real eastus2 page (2026-01), byte for byte; its real NextPageLink (``$skip=1000``)
       asks for
    2. the real mexicocentral items (2026-08), as their recorder joined them, with
       ``NextPageLink`` set to ``$skip=2000`` instead of null;
    3. the real francecentral items (2021-12: NCv3 V100 and NVv3 M60 with reservations),
       ``NextPageLink`` ``$skip=3000``;
    4. the real items of the unfiltered API (2026-08, many regions), ``NextPageLink`` null.
    """
    azure = FIXTURES / "azure"
    skip = request.url.params.get("$skip", "")
    if skip == "1000":
        body = (azure / "mexicocentral_virtual_machines_slice.json").read_bytes()
        assert body.count(b'"NextPageLink":null') == 1
        link = json.dumps(_azure_link(2000)).encode()
        return _json(200, body.replace(b'"NextPageLink":null', b'"NextPageLink":' + link))
    if skip == "2000":
        france = json.loads((azure / "francecentral_retail_prices_slice.json").read_bytes())
        return _json(200, _azure_envelope(france["items"], _azure_link(3000)))
    if skip == "3000":
        mixed = json.loads((azure / "azure_prices_slice.json").read_bytes())
        return _json(200, _azure_envelope(mixed, None))
    if skip:
        return _json(400, b'{"Error": {"Message": "the snapshot builder has no such page"}}')
    return _json(200, (azure / "virtual_machines_eastus2.json").read_bytes())


def gcp_page(request: httpx.Request) -> httpx.Response:
    """Page 1 is OpenCost's real page; its real token leads to real SKUs (pages 2 and 3, our
    envelopes) and then to the constructed SKUs (page 4) without the decoys."""
    gcp = FIXTURES / "gcp"
    first = (gcp / "skus.json").read_bytes()
    token = request.url.params.get("pageToken", "")
    if token == "":
        return _json(200, first)
    if token == json.loads(first)["nextPageToken"]:
        excerpt = json.loads((gcp / "services_pricelist_excerpt.json").read_bytes())
        body = {"skus": excerpt, "nextPageToken": GCP_PAGE_THREE}
        return _json(200, json.dumps(body, indent=2).encode())
    if token == GCP_PAGE_THREE:
        regions = json.loads((gcp / "services_pricelist_h100_regions.json").read_bytes())
        body = {"skus": regions, "nextPageToken": GCP_PAGE_FOUR}
        return _json(200, json.dumps(body, indent=2).encode())
    if token == GCP_PAGE_FOUR:
        page = json.loads((gcp / "constructed_page.json").read_bytes())
        ids = {sku["skuId"] for sku in page["skus"]}
        assert ids >= GCP_DECOYS, f"decoys not found: {sorted(GCP_DECOYS - ids)}"
        page["skus"] = [sku for sku in page["skus"] if sku["skuId"] not in GCP_DECOYS]
        return _json(200, json.dumps(page, indent=2).encode())
    return _json(400, b'{"error": {"message": "bad page token"}}')


def oci_page(request: httpx.Request) -> httpx.Response:
    """The real USD price list of 2026-08-22, byte for byte: one page (no ``hasMore``)."""
    if request.url.params.get("currencyCode") != "USD":
        return _json(400, b'{"error": "the snapshot builder has the USD price list only"}')
    body = (FIXTURES / "oci" / "products_usd-gpu-rows-2026-08-22-gpu-index.json").read_bytes()
    assert "hasMore" not in json.loads(body), "the OCI fixture now pages: serve its pages"
    return _json(200, body)


def lambda_body() -> bytes:
    """The constructed instance-type list without ``regions_with_capacity_available``.

    Its prices are Lambda's published ones; its regions with capacity are invented to exercise
    the parser (tests/fixtures/lambda/PROVENANCE.md), so the key is removed from every entry
    (not emptied: an absent key says capacity is not listed, an empty list would say sold out).
    """
    data = json.loads((FIXTURES / "lambda" / "instance-types-constructed.json").read_bytes())
    for entry in data["data"].values():
        assert "regions_with_capacity_available" in entry, entry
        del entry["regions_with_capacity_available"]
    return json.dumps(data, indent=2).encode()


def runpod_answer(request: httpx.Request) -> httpx.Response:
    """The real ``gpuTypes`` answer of 2026-08-22 (whole envelope, data centers too), unchanged,
    to the plugin's query."""
    if request.method != "POST" or b"gpuTypes" not in request.content:
        return _json(400, b'{"errors": [{"message": "the snapshot builder answers gpuTypes"}]}')
    return _json(
        200, (FIXTURES / "runpod" / "gputypes-trimmed-2026-08-22-gpu-index.json").read_bytes()
    )


def vultr_answer(request: httpx.Request) -> httpx.Response:
    """The bare-metal GPU plans of the Vultr excerpt (2025-01-08), and no cloud GPU plan.

    Neither excerpt is a confirmed recording (tests/fixtures/vultr/PROVENANCE.md). The
    bare-metal one is served as it is: its 8x H100 plan's hourly, monthly and preemptible
    prices match what two other public reads of ``/v2/plans-metal`` show. The cloud GPU one is
    not shipped (nothing corroborates it, and one of its rows looks edited by its authors), so
    ``/v2/plans`` answers an empty list: the snapshot holds no Vultr cloud GPU prices.
    """
    if request.url.path == "/v2/plans-metal":
        return _json(
            200, (FIXTURES / "vultr" / "plans-metal-excerpt-gpuhunt-test.json").read_bytes()
        )
    return _json(200, b'{"plans": []}')


# When each recorded body was received at its source (see the fixtures' PROVENANCE.md): the
# commit that recorded it, or the publication / effective time the body itself states. Each
# response carries it as its received-at stamp, which the recording keeps, so offers made from
# it carry their own date. GCP page 4 is constructed from a catalog of unknown date: it is
# dated like the oldest GCP recording, so its prices never pass for fresher than they are.
RECEIVED_AT = {
    # (feed, recording): when received
    ("aws/on-demand", "aws/ec2"): "2025-05-23T23:27:44+00:00",  # region index publicationDate
    ("aws/spot", "aws/spot"): "2021-04-06T00:00:00+00:00",  # spotinfo recording commit
    ("aws/savings-plan", "aws/savings-plan"): "2025-09-11T18:44:47+00:00",  # index publicationDate
    ("aws/spot-advisor", "aws/spot-advisor"): "2025-06-28T00:00:00+00:00",  # spotinfo commit
    ("azure/retail", "azure/eastus2"): "2026-01-11T00:00:00+00:00",  # page 1, recording commit
    ("azure/retail", "azure/mexicocentral"): "2026-08-14T00:00:00+00:00",  # page 2
    ("azure/retail", "azure/francecentral"): "2021-12-07T00:00:00+00:00",  # page 3
    ("azure/retail", "azure/unfiltered"): "2026-08-22T00:00:00+00:00",  # page 4
    ("gcp/catalog", "gcp/opencost"): "2023-03-24T00:00:00+00:00",  # page 1 effectiveTime
    ("gcp/catalog", "gcp/2024-09"): "2024-09-16T12:03:12+00:00",  # pages 2 and 3 effectiveTime
    ("gcp/catalog", "gcp/constructed"): "2023-03-24T00:00:00+00:00",  # page 4, see above
    ("oci/price-list", "oci/products"): "2026-08-22T00:00:00+00:00",  # recording's capture date
    ("lambda/instance-types", "lambda/constructed"): "2026-09-20T00:00:00+00:00",  # transcript
    ("runpod/gpu-types", "runpod/gpu-index"): "2026-08-22T00:00:00+00:00",  # recording's date
    ("vultr/plans", "vultr/excerpt"): "2025-01-08T00:00:00+00:00",  # the excerpt's commit
}
_BY_RECORDING = {recording: when for (_, recording), when in RECEIVED_AT.items()}

# When each feed's prices count as seen (OBSERVED_AT.json, the run's date): the oldest of its
# recordings, so the bundled prices never pass for fresh ones.
OBSERVED_AT = {
    feed: min(when for (of, _), when in RECEIVED_AT.items() if of == feed)
    for feed in dict.fromkeys(feed for feed, _ in RECEIVED_AT)
}


def _recorded_as(request: httpx.Request) -> str:
    """Which recording answers ``request`` (the second half of a :data:`RECEIVED_AT` key)."""
    host, path = request.url.host, request.url.path
    if host.startswith("website.spot."):
        return "aws/spot"
    if host.startswith("spot-bid-advisor."):
        return "aws/spot-advisor"
    if host.startswith("pricing."):
        return "aws/savings-plan" if "SavingsPlan" in path else "aws/ec2"
    if host == "prices.azure.com":
        pages = {"": "eastus2", "1000": "mexicocentral", "2000": "francecentral"}
        return "azure/" + pages.get(request.url.params.get("$skip", ""), "unfiltered")
    if host == "apexapps.oracle.com":
        return "oci/products"
    if host == "cloud.lambdalabs.com":
        return "lambda/constructed"
    if host == "api.runpod.io":
        return "runpod/gpu-index"
    if host == "api.vultr.com":
        return "vultr/excerpt"
    token = request.url.params.get("pageToken", "")
    if token == GCP_PAGE_FOUR:
        return "gcp/constructed"
    return "gcp/opencost" if not token else "gcp/2024-09"


def handler(request: httpx.Request) -> httpx.Response:
    response = _answer(request)
    if response.status_code == 200:
        response.headers[RECEIVED_AT_HEADER] = _BY_RECORDING[_recorded_as(request)]
    return response


def _answer(request: httpx.Request) -> httpx.Response:
    host, path = request.url.host, request.url.path
    if host.startswith(("pricing.", "website.spot.", "spot-bid-advisor.")):
        routes = aws_routes()
        key = "/spot.js" if host.startswith("website.spot.") else path
        if key in routes:
            return routes[key]()
    elif host == "prices.azure.com":
        return azure_page(request)
    elif host == "cloudbilling.googleapis.com":
        return gcp_page(request)
    elif host == "apexapps.oracle.com" and path == OCI_PRODUCTS_PATH:
        return oci_page(request)
    elif host == "cloud.lambdalabs.com" and path == LAMBDA_PATH:
        return _json(200, lambda_body())
    elif host == "api.runpod.io" and path == RUNPOD_PATH:
        return runpod_answer(request)
    elif host == "api.vultr.com" and path in ("/v2/plans", "/v2/plans-metal"):
        return vultr_answer(request)
    return httpx.Response(404, text=f"the snapshot builder has nothing for {request.url}")


def _gzip_bodies(directory: Path) -> None:
    for body in sorted(directory.rglob("*.body")):
        with (
            body.open("rb") as src,
            gzip.GzipFile(body.with_suffix(".body.gz"), "wb", compresslevel=9, mtime=0) as dst,
        ):
            shutil.copyfileobj(src, dst)
        body.unlink()


def main() -> int:
    os.environ.setdefault("GPUHOURS_GCP_API_KEY", "snapshot-builder")  # dropped from the keys
    # Lambda wants a key live (a bearer header, never recorded); replay asks for none.
    os.environ.setdefault("GPUHOURS_LAMBDA_API_KEY", "snapshot-builder")
    for name in (
        "GPUHOURS_AWS_REGIONS",
        "GPUHOURS_AZURE_REGIONS",
        "GPUHOURS_DATABASE_URL",
        "GPUHOURS_OCI_API_URL",
        "GPUHOURS_OCI_CURRENCY",
        "GPUHOURS_LAMBDA_API_URL",
        "GPUHOURS_RUNPOD_API_URL",
        "GPUHOURS_RUNPOD_API_KEY",
        "GPUHOURS_VULTR_API_URL",
    ):
        os.environ.pop(name, None)
    os.environ["GPUHOURS_PLUGINS"] = "aws,azure,gcp,oci,lambda,runpod,vultr"  # entry points

    from aggregator.plugins import load_registry
    from aggregator.settings import Settings
    from aggregator.sync import OBSERVED_AT_FILE, load_observed_at, sync_feeds
    from db.engine import make_engine
    from db.migrate import upgrade

    settings = Settings(http_retries=0)
    registry = load_registry(settings)
    refs = registry.select_feeds([])
    if OUT.exists():
        shutil.rmtree(OUT)
    with tempfile.TemporaryDirectory() as tmp:
        for phase in ("record", "replay"):
            engine = make_engine(f"sqlite:///{tmp}/{phase}.db")
            upgrade(engine)
            kwargs = (
                {"transport": httpx.MockTransport(handler), "record_dir": OUT}
                if phase == "record"
                else {"replay_dir": OUT, "observed_at": load_observed_at(OUT)}
            )
            outcomes = asyncio.run(sync_feeds(refs, registry, engine, settings, **kwargs))
            engine.dispose()
            for outcome in outcomes:
                run = outcome.run
                print(
                    f"{phase:7} {run.feed:21} {run.status.value:8} seen={run.seen:5} "
                    f"rejected={run.rejected} unknown={run.unknown} {run.error or ''}"
                )
            if any(o.run.status.value != "ok" for o in outcomes):
                print(f"{phase} failed; the snapshot is incomplete", file=sys.stderr)
                return 1
            if phase == "record":
                _gzip_bodies(OUT)
                (OUT / OBSERVED_AT_FILE).write_text(json.dumps(OBSERVED_AT, indent=2) + "\n")
    size = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"snapshot: {OUT.relative_to(ROOT)}, {size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
