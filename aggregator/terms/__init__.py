"""Your own prices: negotiated terms applied to list prices when a plan is computed.

:mod:`.model` states a term (:class:`PriceTerm`), :mod:`.file` reads them from
``GPUHOURS_TERMS_FILE``, :mod:`.apply` prices offers with them (as re-priced copies: the offers
themselves never change). What they promise (terms never change stored prices; the order they
apply in; no exchange rate ever assumed) is in ``docs/terms.md``.
"""

from __future__ import annotations

from aggregator.terms.apply import ActiveTerm, TermedOffer, apply_terms, list_price
from aggregator.terms.model import EFFECT_FIELDS, PriceTerm, parse_term_hours

__all__ = [
    "EFFECT_FIELDS",
    "ActiveTerm",
    "PriceTerm",
    "TermedOffer",
    "apply_terms",
    "list_price",
    "parse_term_hours",
]
