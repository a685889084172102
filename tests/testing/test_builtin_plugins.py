"""The built-in plugins the bundled snapshot holds (AWS, Azure, GCP, OCI, Lambda, RunPod) pass
the provider test kit on it.

``plugins/snapshot/responses`` is what ``gpuhours sync --replay bundled`` answers from; the kit
replays the same directory, so these tests hold the built-ins to what third-party plugins are
asked to pass.
"""

from __future__ import annotations

import os

import pytest
from pydantic import SecretStr

from aggregator import Provider
from aggregator.testing import ProviderReport, check_provider
from plugins.aws import AwsProvider
from plugins.azure import AzureProvider
from plugins.gcp import GcpProvider
from plugins.gcp.settings import GcpSettings
from plugins.lambdacloud.provider import LambdaProvider
from plugins.oci.provider import OciProvider
from plugins.runpod.provider import RunpodProvider
from plugins.snapshot import SNAPSHOT_DIR

BUILTIN_FEEDS = {
    "aws": ["aws/on-demand", "aws/spot", "aws/savings-plan", "aws/spot-advisor"],
    "azure": ["azure/retail"],
    "gcp": ["gcp/catalog"],
    "oci": ["oci/price-list"],
    "lambda": ["lambda/instance-types"],
    "runpod": ["runpod/gpu-types"],
}


@pytest.fixture(autouse=True)
def default_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each provider with its default settings (URLs, all regions), whatever the shell says."""
    for name in list(os.environ):
        if name.startswith("GPUHOURS_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize(
    "provider",
    [
        AwsProvider(),
        AzureProvider(),
        GcpProvider(),
        OciProvider(),
        LambdaProvider(),  # no API key: a replay asks for none
        RunpodProvider(),
    ],
    ids=lambda p: p.name,
)
def test_builtin_provider_passes_the_kit_on_the_bundled_snapshot(provider: Provider) -> None:
    report = check_provider(provider, responses=SNAPSHOT_DIR)
    assert list(report.feeds) == BUILTIN_FEEDS[provider.name]
    assert all(
        (feed.offers > 0 or feed.interruption_rates > 0) and feed.invalid == 0
        for feed in report.feeds.values()
    )
    if provider.name == "aws":
        assert report.feeds["aws/spot-advisor"].interruption_rates == 682


def test_builtin_provider_passes_through_the_pytest_fixture(gpuhours_check: object) -> None:
    assert callable(gpuhours_check)
    report = gpuhours_check(AzureProvider(), responses=SNAPSHOT_DIR)
    assert isinstance(report, ProviderReport) and report.feeds["azure/retail"].offers > 0


def test_gcp_replays_with_an_api_key_too() -> None:
    """Keys are left out of recordings, so the snapshot answers a keyed request as well."""
    settings = GcpSettings(api_key=SecretStr("a-key-the-recording-never-saw"))
    report = check_provider(GcpProvider(), responses=SNAPSHOT_DIR, settings=settings)
    assert report.feeds["gcp/catalog"].offers > 0
