"""Negotiated price terms: the model, the TOML file, the hook, and how terms price offers.

Planning with terms (totals, which offer wins, stored prices untouched, CLI and API) is in
``tests/planner/test_terms_plan.py``.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pydantic
import pytest

from aggregator import PriceTerm, hookimpl
from aggregator.errors import InvalidInput
from aggregator.gpus import default_vocabulary
from aggregator.models import Offer, PurchaseOption
from aggregator.plugins import load_registry
from aggregator.settings import Settings
from aggregator.terms import ActiveTerm, TermedOffer, apply_terms, list_price
from aggregator.terms.file import load_terms_file
from tests.offers import build_offer

# The three terms of the requirement, written out as docs/plugins.md shows them.
DOCS_EXAMPLE = """\
# "aws on_demand -12 %"
[[term]]
name = "AWS EDP: 12 % off on-demand"
provider = "aws"
purchase_option = "on_demand"
discount_percent = 12

# "azure ND H100 v5 in eastus at $X/h"
[[term]]
name = "Azure private offer: ND H100 v5 in eastus"
provider = "azure"
region = "eastus"
instance_type = "Standard_ND*_H100_v5"
purchase_option = "on_demand"
price_per_hour = 79.50
currency = "USD"

# "gcp committed 3y -5 % more"
[[term]]
name = "GCP: 10 % off"
provider = "gcp"
discount_percent = 10

[[term]]
name = "GCP 3-year commitments: 5 % more"
provider = "gcp"
purchase_option = "committed"
term = "3y"
discount_percent = 5
"""

AZURE = build_offer(
    provider="azure",
    region="eastus",
    instance_type="Standard_ND96isr_H100_v5",
    price_per_hour=98.32,
    source={"meter": "M-1"},
)
GCP_3Y = build_offer(
    provider="gcp",
    region="us-central1",
    instance_type="a3-highgpu-8g",
    purchase_option=PurchaseOption.COMMITTED,
    term_hours=26280,
    price_per_hour=60.0,
    source={"sku": "CUD-3Y"},
)
GCP_OD = build_offer(
    provider="gcp", region="us-central1", instance_type="a3-highgpu-8g", price_per_hour=88.0
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "terms.toml"
    path.write_text(textwrap.dedent(text))
    return path


def active(**fields: Any) -> ActiveTerm:
    return ActiveTerm.of(PriceTerm(**fields), default_vocabulary(), origin="test")


def priced(offer: Offer, *terms: ActiveTerm) -> float:
    (result,) = apply_terms([offer], terms)
    return result.price_per_hour


# -- the file --------------------------------------------------------------------------------


def test_the_documented_example_file_reads_as_written(tmp_path: Path) -> None:
    terms = load_terms_file(write(tmp_path, DOCS_EXAMPLE), default_vocabulary())
    assert [t.label for t in terms] == [
        "AWS EDP: 12 % off on-demand",
        "Azure private offer: ND H100 v5 in eastus",
        "GCP: 10 % off",
        "GCP 3-year commitments: 5 % more",
    ]
    aws, azure, gcp, gcp_3y = (t.term for t in terms)
    assert (aws.provider, aws.purchase_option, aws.discount_percent) == (
        "aws",
        PurchaseOption.ON_DEMAND,
        12,
    )
    assert (azure.price_per_hour, azure.priced_currency) == (79.5, "USD")
    assert (gcp.purchase_option, gcp.term) == (None, None)
    assert (gcp_3y.term, gcp_3y.discount_percent) == (26280, 5)
    assert terms[3].origin.endswith("term #4 (line 24, 'GCP 3-year commitments: 5 % more')")

    prices = apply_terms([build_offer(price_per_hour=80.0), AZURE, GCP_3Y, GCP_OD], terms)
    assert [p.price_per_hour for p in prices] == [
        80.0 * 0.88,
        79.5,
        60.0 * 0.9 * 0.95,  # 51.30: the second GCP term stacks on the first
        88.0 * 0.9,
    ]


def test_an_empty_file_has_no_terms(tmp_path: Path) -> None:
    assert (
        load_terms_file(write(tmp_path, "# nothing negotiated yet\n"), default_vocabulary()) == []
    )


GOOD = """\
[[term]]
provider = "aws"
discount_percent = 3

"""

BAD_FILES = [
    pytest.param('[[term]\nprovider = "aws"\n', ["is not valid TOML", "line 1"], id="toml-syntax"),
    pytest.param(
        GOOD + '[[term]]\nname = "typo"\ndiscount = 12\n',
        [
            "term #2 (line 5, 'typo'), field discount: unknown key",
            "did you mean 'discount_percent'",
        ],
        id="unknown-key",
    ),
    pytest.param(
        GOOD + "[[term]]\ndiscount_percent = 100\n",
        ["term #2 (line 5), field discount_percent", "less than 100"],
        id="discount-100",
    ),
    pytest.param(
        GOOD + '[[term]]\ndiscount_percent = "twelve"\n',
        ["term #2 (line 5), field discount_percent", "valid number"],
        id="discount-not-a-number",
    ),
    pytest.param(
        GOOD + "[[term]]\nprice_per_hour = 0\n",
        ["term #2 (line 5), field price_per_hour", "greater than 0"],
        id="price-zero",
    ),
    pytest.param(
        GOOD + "[[term]]\ndiscount_percent = 5\nprice_per_hour = 10.0\n",
        ["term #2 (line 5)", "exactly one effect", "gives discount_percent and price_per_hour"],
        id="two-effects",
    ),
    pytest.param(
        GOOD + '[[term]]\nprovider = "aws"\n',
        ["term #2 (line 5)", "exactly one effect", "discount_percent, price_per_hour or"],
        id="no-effect",
    ),
    pytest.param(
        GOOD + '[[term]]\ngpu = "H1000"\ndiscount_percent = 5\n',
        ["term #2 (line 5), field gpu: unknown GPU 'H1000'", "H100"],
        id="unknown-gpu",
    ),
    pytest.param(
        GOOD + '[[term]]\npurchase_option = "ondemand"\ndiscount_percent = 5\n',
        ["term #2 (line 5), field purchase_option: 'ondemand' is not allowed", "'on_demand'"],
        id="unknown-purchase-option",
    ),
    pytest.param(
        GOOD + '[[term]]\nterm = "2 decades"\ndiscount_percent = 5\n',
        ["term #2 (line 5), field term", "'1y', '3y'"],
        id="bad-term",
    ),
    pytest.param(
        GOOD + '[[term]]\npurchase_option = "on_demand"\nterm = "1y"\ndiscount_percent = 5\n',
        ["term #2 (line 5)", "on_demand is pay-as-you-go and has no term"],
        id="term-on-pay-as-you-go",
    ),
    pytest.param(
        GOOD + '[[term]]\ncurrency = "dollars"\nprice_per_hour = 5.0\n',
        ["term #2 (line 5), field currency", "ISO 4217"],
        id="bad-currency",
    ),
    pytest.param(
        GOOD + '[[term]]\nregion = ""\ndiscount_percent = 5\n',
        ["term #2 (line 5), field region"],
        id="empty-glob",
    ),
    pytest.param(
        "discount_percent = 12\n", ["unknown top-level key 'discount_percent'"], id="top-level"
    ),
    pytest.param(
        "[term]\ndiscount_percent = 12\n", ["must be a list of [[term]] tables"], id="one-table"
    ),
]


@pytest.mark.parametrize(("text", "expected"), BAD_FILES)
def test_a_bad_file_is_invalid_input_naming_file_term_and_field(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InvalidInput) as caught:
        load_terms_file(path, default_vocabulary())
    message = str(caught.value)
    assert caught.value.field == "terms_file"
    assert str(path) in message
    for part in expected:
        assert part in message
    assert "unset GPUHOURS_TERMS_FILE" in message  # says what to do


def test_a_missing_or_unreadable_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        load_terms_file(tmp_path / "nope.toml", default_vocabulary())
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe[[term]]")
    with pytest.raises(InvalidInput, match="not UTF-8"):
        load_terms_file(binary, default_vocabulary())


def test_terms_in_an_inline_array_still_read_without_line_numbers(tmp_path: Path) -> None:
    path = write(tmp_path, 'term = [{provider = "aws", discount_percent = 5}, {x = 1}]\n')
    with pytest.raises(InvalidInput, match=r"term #2, field x: unknown key"):
        load_terms_file(path, default_vocabulary())


# -- the model -------------------------------------------------------------------------------


def test_spellings_are_normalized_and_labels_describe_unnamed_terms() -> None:
    term = PriceTerm(
        provider="GCP",
        purchase_option="Committed",
        term="3 years",
        discount_percent=5,
    )
    assert (term.provider, term.purchase_option, term.term) == (
        "gcp",
        PurchaseOption.COMMITTED,
        26280,
    )
    assert term.label == "gcp committed 3y -5 %"
    assert PriceTerm(provider="aws", discount_percent=-5).label == "aws +5 %"
    fixed = PriceTerm(region="eastus", instance_type="Standard_ND*", price_per_hour=79.5)
    assert fixed.label == "Standard_ND* in eastus at 79.5 USD/h"
    per_gpu = PriceTerm(gpu="h100", currency="eur", price_per_gpu_hour=2.5)
    assert per_gpu.label == "h100 at 2.5 EUR/GPU-h"
    assert PriceTerm(discount_percent=1, currency="eur").label == "in EUR -1 %"
    assert PriceTerm(term=8760, discount_percent=1).term == 8760
    assert PriceTerm(term="0", discount_percent=1).term == 0


@pytest.mark.parametrize(
    "fields",
    [
        {"discount_percent": 100},
        {"discount_percent": float("nan")},
        {"discount_percent": -1001},
        {"price_per_hour": -1.0},
        {"price_per_gpu_hour": float("inf")},
        {"discount_percent": 1, "price_per_gpu_hour": 1.0},
        {"provider": "aws"},
        {"term": True, "discount_percent": 1},
        {"term": 1.5, "discount_percent": 1},
        {"term": -8760, "discount_percent": 1},
        {"purchase_option": "reserved", "term": 0, "discount_percent": 1},
        {"purchase_option": "spot", "offering_class": "standard", "discount_percent": 1},
        {"name": "  ", "discount_percent": 1},
        {"colour": "red", "discount_percent": 1},
    ],
)
def test_invalid_terms_are_rejected(fields: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError):
        PriceTerm(**fields)


# -- applying terms --------------------------------------------------------------------------


def test_percentages_compound_in_order_and_fixed_prices_replace() -> None:
    ten, five = active(discount_percent=10), active(discount_percent=5)
    fixed = active(price_per_hour=70.0)
    offer = build_offer(price_per_hour=80.0)
    assert priced(offer, ten, five) == 80.0 * 0.9 * 0.95
    assert priced(offer, ten, fixed) == 70.0  # a fixed price replaces what came before
    assert priced(offer, fixed, ten) == 70.0 * 0.9  # and later terms apply to it
    assert priced(offer, active(discount_percent=-5)) == 80.0 * 1.05  # a surcharge
    assert priced(offer, active(price_per_gpu_hour=9.0)) == 72.0  # 8 GPUs per instance


def test_every_match_field_must_agree() -> None:
    offer = build_offer(price_per_hour=80.0)  # aws us-east-1 p5.48xlarge H100 80 GB on demand
    matching: list[dict[str, Any]] = [
        {"provider": "aws"},
        {"region": "US-EAST-*"},
        {"region": "us-east-?"},
        {"instance_type": "P5.*"},
        {"gpu": "nvidia h100"},
        {"gpu": "h100:80"},
        {"purchase_option": "on-demand"},
        {"term": 0},
        {"currency": "USD"},
        {"provider": "aws", "region": "us-*", "gpu": "H100", "purchase_option": "on_demand"},
    ]
    missing: list[dict[str, Any]] = [
        {"provider": "gcp"},
        {"region": "us-west-*"},
        {"region": "us-east"},  # a glob matches the whole code
        {"instance_type": "p4d.*"},
        {"gpu": "A100"},
        {"purchase_option": "spot"},
        {"term": "1y"},
        {"payment": "all_upfront"},
        {"currency": "EUR"},
        {"provider": "aws", "gpu": "A100"},
    ]
    for fields in matching:
        assert active(**fields, discount_percent=50).matches(offer), fields
    for fields in missing:
        assert not active(**fields, discount_percent=50).matches(offer), fields
    a100 = build_offer(instance_type="p4d.24xlarge", gpu="A100", gpu_memory_gb=40)
    assert active(gpu="a100:40", discount_percent=1).matches(a100)
    assert active(gpu="A100", discount_percent=1).matches(a100)
    assert not active(gpu="a100:80", discount_percent=1).matches(a100)  # another variant


def test_a_fixed_price_applies_in_its_own_currency_only() -> None:
    euro = build_offer(price_per_hour=80.0, currency="EUR")
    dollar = build_offer(price_per_hour=80.0)
    assert priced(euro, active(price_per_hour=50.0)) == 80.0  # USD unless told otherwise
    assert priced(dollar, active(price_per_hour=50.0)) == 50.0
    assert priced(euro, active(price_per_hour=45.0, currency="EUR")) == 45.0
    assert priced(euro, active(discount_percent=10)) == 80.0 * 0.9  # percentages: any currency
    assert priced(euro, active(discount_percent=10, currency="USD")) == 80.0


def test_terms_never_change_the_offer_and_never_compound_when_applied_twice() -> None:
    offer = build_offer(price_per_hour=80.0)
    untouched = build_offer(provider="gcp", price_per_hour=88.0)
    terms = [active(provider="aws", discount_percent=12, name="edp")]
    once = apply_terms([offer, untouched], terms)
    assert once[1] is untouched  # nothing matched: passed through as it is
    termed = once[0]
    assert isinstance(termed, TermedOffer)
    assert (termed.price_per_hour, termed.list_price_per_hour, termed.terms) == (
        80.0 * 0.88,
        80.0,
        ("edp",),
    )
    assert termed.price_per_gpu_hour == 80.0 * 0.88 / 8
    assert (termed.id, termed.provider, termed.observed_at) == (offer.id, "aws", None)
    assert list_price(termed) == (80.0, ("edp",)) and list_price(untouched) == (88.0, ())
    twice = apply_terms(once, terms)
    assert twice[0].price_per_hour == 80.0 * 0.88
    assert offer.price_per_hour == 80.0
    assert apply_terms([offer], []) == [offer]


# -- loading through the registry ------------------------------------------------------------


def _info(registry: Any, name: str) -> Any:
    return next(p for p in registry.plugins if p.name == name)


def test_hook_register_price_terms(fake_plugins: None, tmp_path: Path) -> None:
    class Contract:
        @hookimpl
        def register_price_terms(self, register: Callable[[PriceTerm], None]) -> None:
            register(PriceTerm(name="edp", provider="aws", discount_percent=10))
            register(PriceTerm(name="h100 deal", gpu="nvidia-h100", price_per_gpu_hour=9.0))

    class Raising:
        @hookimpl
        def register_price_terms(self, register: Callable[[PriceTerm], None]) -> None:
            register(PriceTerm(name="half", discount_percent=50))
            raise RuntimeError("contract system down")

    class Sloppy:
        @hookimpl
        def register_price_terms(self, register: Callable[[Any], None]) -> None:
            register({"discount_percent": 50})
            register(PriceTerm(name="ghost", gpu="H1000", discount_percent=50))
            register(PriceTerm(name="valid but dropped", discount_percent=50))

    path = write(tmp_path, '[[term]]\nname = "file"\nprovider = "aws"\ndiscount_percent = 5\n')
    registry = load_registry(
        Settings(terms_file=path),
        extra_plugins=[("contract", Contract()), ("raising", Raising()), ("sloppy", Sloppy())],
    )
    # Plugin terms first (load order), then the file's; the broken plugins contribute nothing.
    terms = registry.active_terms()
    assert [(t.label, t.origin) for t in terms] == [
        ("edp", "plugin contract"),
        ("h100 deal", "plugin contract"),
        ("file", f"terms file {path}, term #1 (line 1, 'file')"),
    ]
    assert terms[1].gpu is not None and terms[1].gpu.name == "H100"
    assert _info(registry, "contract").ok
    assert _info(registry, "raising").errors == [
        "register_price_terms raised RuntimeError: contract system down",
        "register_price_terms: none of its terms apply (1 valid term dropped too)",
    ]
    sloppy = _info(registry, "sloppy").errors
    assert "is not a PriceTerm" in sloppy[0]
    assert "term 'ghost': unknown GPU 'H1000'" in sloppy[1]
    assert "none of its terms apply" in sloppy[2]
    # The other plugins load as usual.
    assert "fakecloud" in registry.providers and registry.gpus.canonical("fakegpu") == "FAKEGPU"

    offer = build_offer(price_per_hour=80.0)
    (result,) = apply_terms([offer], terms)
    assert result.price_per_hour == 72.0 * 0.95
    assert list_price(result) == (80.0, ("edp", "h100 deal", "file"))


def test_plugin_terms_may_name_plugin_gpus(fake_plugins: None) -> None:
    class FakeGpuDeal:
        @hookimpl
        def register_price_terms(self, register: Callable[[PriceTerm], None]) -> None:
            register(PriceTerm(gpu="fakegpu", discount_percent=1))

    registry = load_registry(Settings(), extra_plugins=[("deal", FakeGpuDeal())])
    assert [t.label for t in registry.active_terms()] == ["fakegpu -1 %"]


def test_a_bad_terms_file_does_not_stop_loading_but_stops_using_terms(
    fake_plugins: None, tmp_path: Path
) -> None:
    path = write(tmp_path, GOOD + "[[term]]\ndiscount_percent = 250\n")
    registry = load_registry(Settings(terms_file=path))
    assert "fakecloud" in registry.providers  # syncing and listing offers go on
    assert registry.terms_error is not None and "term #2 (line 5)" in registry.terms_error
    for _ in range(2):  # a fresh error each time: raising one object twice would grow it
        with pytest.raises(InvalidInput, match="field discount_percent") as caught:
            registry.active_terms()
        assert caught.value.field == "terms_file"


def test_no_terms_file_means_no_terms(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPUHOURS_TERMS_FILE", "")
    settings = Settings()
    assert settings.terms_file is None
    registry = load_registry(settings, load_entrypoints=False)
    assert registry.active_terms() == () and registry.terms_error is None
