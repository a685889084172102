"""Build the offline price snapshot shipped in ``plugins/snapshot/responses``.

``gpuhours sync --replay bundled`` answers every request of the three built-in plugins from
that directory. It is made here by running the real feeds against a stand-in server that
serves the provenance-noted fixtures of ``tests/fixtures/`` (real recorded responses wherever
one exists), recording what they receive with the ordinary record transport, gzipping the
bodies, and then replaying the result once into a fresh store to prove it is complete.

Run from the repository root: ``python tools/build_snapshot.py``. Deterministic: the same
fixtures give the same files (apart from gzip, which is written with mtime 0).
"""

from __future__ import annotations

import asyncio
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
FIXTURES = ROOT / "tests" / "fixtures"
OUT = ROOT / "plugins" / "snapshot" / "responses"

AWS_EC2_INDEX = "/offers/v1.0/aws/AmazonEC2/current/region_index.json"
AWS_SP_INDEX = "/savingsPlan/v1.0/aws/AWSComputeSavingsPlan/current/region_index.json"
AWS_REGIONS = ("us-east-1",)  # the regions the fixtures have offer files for
GCP_PAGE_THREE = "FIXT-PAGE-3"

# When each feed's recorded prices were seen at the source: the oldest date among the
# recordings it replays (see the fixtures' PROVENANCE.md). Replayed offers carry this as their
# observed_at, so the bundled prices never pass for fresh ones.
OBSERVED_AT = {
    "aws/on-demand": "2025-05-23T23:27:44+00:00",  # EC2 region index publicationDate
    "aws/spot": "2021-04-06T00:00:00+00:00",  # spotinfo recording commit
    "aws/savings-plan": "2025-09-11T18:44:47+00:00",  # Savings Plans index publicationDate
    "azure/retail": "2026-01-11T00:00:00+00:00",  # eastus2 page recording commit
    "gcp/catalog": "2023-03-24T00:00:00+00:00",  # OpenCost page effectiveTime
}


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
            200, content=(aws / "ec2-us-east-1-gpu.csv").read_bytes()
        ),
        AWS_SP_INDEX: lambda: _json(200, sp_index),
        _version_csv_path(sp_index, "us-east-1"): lambda: httpx.Response(
            200, content=(aws / "savingsplan-us-east-1-gpu.csv").read_bytes()
        ),
        "/spot.js": lambda: httpx.Response(
            200, content=spot, headers={"content-type": "text/javascript"}
        ),
    }


def azure_page(request: httpx.Request) -> httpx.Response:
    """Page 1 is the real eastus2 page; its real NextPageLink gets the mexicocentral items."""
    azure = FIXTURES / "azure"
    if "$skip=1000" in request.url.query.decode():
        return _json(200, (azure / "mexicocentral_virtual_machines_slice.json").read_bytes())
    return _json(200, (azure / "virtual_machines_eastus2.json").read_bytes())


def gcp_page(request: httpx.Request) -> httpx.Response:
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
        return _json(200, (gcp / "constructed_page.json").read_bytes())
    return _json(400, b'{"error": {"message": "bad page token"}}')


def handler(request: httpx.Request) -> httpx.Response:
    host, path = request.url.host, request.url.path
    if host.startswith("pricing.") or host.startswith("website.spot."):
        routes = aws_routes()
        key = "/spot.js" if host.startswith("website.spot.") else path
        if key in routes:
            return routes[key]()
    elif host == "prices.azure.com":
        return azure_page(request)
    elif host == "cloudbilling.googleapis.com":
        return gcp_page(request)
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
    for name in ("GPUHOURS_AWS_REGIONS", "GPUHOURS_AZURE_REGIONS", "GPUHOURS_DATABASE_URL"):
        os.environ.pop(name, None)
    os.environ["GPUHOURS_PLUGINS"] = "aws,azure,gcp"

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
                    f"{phase:7} {run.feed:18} {run.status.value:8} seen={run.seen:5} "
                    f"rejected={run.rejected} unknown={run.unknown} {run.error or ''}"
                )
            if any(o.run.status.value != "ok" for o in outcomes):
                print(f"{phase} failed; the snapshot is incomplete", file=sys.stderr)
                return 1
            if phase == "record":
                _gzip_bodies(OUT)
                (OUT / OBSERVED_AT_FILE).write_text(
                    json.dumps(OBSERVED_AT, indent=2) + "\n"
                )
    size = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"snapshot: {OUT.relative_to(ROOT)}, {size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
