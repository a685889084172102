"""A page's query string (or posted form) read into the model the JSON API validates with.

A web form sends every field, empty ones as ``name=``, and one text box for a list
(``H100, A100``): empty values count as absent and list boxes are split at commas, then the
model checks the values exactly as the API does, so a bad value gets the API's message. Unknown
parameters (an old shared link, a typo) are ignored and named, never an error page.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from pydantic import BaseModel, ValidationError

from aggregator.api.errors import shorten
from aggregator.errors import InvalidInput
from aggregator.limits import MAX_LIST_ITEMS, validation_message

__all__ = ["GENERAL", "Form", "read_form"]

M = TypeVar("M", bound=BaseModel)

GENERAL = ""
"""The errors key of a message about the request as a whole (no one field is at fault)."""


@dataclass
class Form(Generic[M]):
    """What a page was sent: the checked values, or the messages saying what is wrong.

    ``raw`` keeps the text of each known field as sent, to fill the form in again; ``errors``
    maps a field (or :data:`GENERAL`) to the API's message; ``ignored`` names unknown
    parameters. ``values`` is ``None`` when any field is wrong.
    """

    values: M | None
    fields: frozenset[str] = frozenset()
    raw: dict[str, list[str]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)

    def text(self, name: str) -> str:
        """The field's text as sent (list values joined), for the form's input."""
        return ", ".join(self.raw.get(name, []))

    def add_error(self, exc: InvalidInput) -> None:
        """Show an :class:`InvalidInput` the core raised next to its field, in its words."""
        name = exc.field if exc.field in self.fields else GENERAL
        self.errors[name or GENERAL] = shorten(str(exc))
        self.values = None


def read_form(model: type[M], params: Iterable[tuple[str, str]], lists: frozenset[str]) -> Form[M]:
    """``params`` (name, value pairs) checked by ``model``; ``lists`` are its list fields."""
    raw: dict[str, list[str]] = {}
    ignored: list[str] = []
    for name, value in params:
        if name not in model.model_fields:
            if len(ignored) < MAX_LIST_ITEMS and name not in ignored:
                ignored.append(shorten(name, 40))
            continue
        text = value.strip()
        if not text:
            continue
        parts = [p.strip() for p in text.split(",")] if name in lists else [text]
        raw.setdefault(name, []).extend(p for p in parts if p)
    values = {name: texts if name in lists else texts[-1] for name, texts in raw.items()}
    form: Form[M] = Form(
        values=None, fields=frozenset(model.model_fields), raw=raw, ignored=ignored
    )
    try:
        form.values = model.model_validate(values)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            loc = error.get("loc", ())
            name = str(loc[0]) if loc else GENERAL
            form.errors.setdefault(name, shorten(validation_message(str(error["msg"]))))
    return form
