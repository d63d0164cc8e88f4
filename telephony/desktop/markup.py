"""HTML built by functions, escaped by construction.

Every ``str`` given to :func:`el` — text or attribute value — is escaped with ``html.escape``; only
:class:`Html` (what ``el`` itself returns) passes through unchanged.  So a caller name such as
``<img src=x onerror=alert(1)>`` can only ever become text on the page, whoever writes the page.
"""
from __future__ import annotations

import html
import json
from typing import Any, Iterable, Union

__all__ = ["Html", "el", "json_block", "join"]


class Html(str):
    """Markup that is already safe: produced by :func:`el`, :func:`join` or :func:`json_block`."""


Child = Union["Html", str, int, float, None, Iterable["Child"]]


def _text(value: Child) -> str:
    if value is None:
        return ""
    if isinstance(value, Html):
        return value
    if isinstance(value, (str, int, float)):
        return html.escape(str(value), quote=True)
    return "".join(_text(v) for v in value)


def el(tag: str, attrs: dict[str, Any] | None = None, *children: Child) -> Html:
    """``<tag attrs>children</tag>``; attributes that are None or False are left out, True is bare.

    ``tag`` and attribute names come from our code, never from data; values and children are escaped.
    Void elements (meta, link, br, input) get no closing tag.
    """
    parts = [tag]
    for name, value in (attrs or {}).items():
        if value is None or value is False:
            continue
        parts.append(name if value is True else f'{name}="{html.escape(str(value), quote=True)}"')
    opening = f"<{' '.join(parts)}>"
    if tag in _VOID:
        return Html(opening)
    return Html(f"{opening}{_text(children)}</{tag}>")


def join(*children: Child) -> Html:
    """Several pieces as one, each escaped unless already Html."""
    return Html(_text(children))


def json_block(element_id: str, data: Any) -> Html:
    """A ``<script type="application/json">`` data block (not executed, so allowed by the CSP).

    ``<``, ``>`` and ``&`` are written as JSON escapes so no value can close the element early.
    """
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Html(f'<script type="application/json" id="{html.escape(element_id, quote=True)}">{text}</script>')


_VOID = frozenset({"meta", "link", "br", "input", "hr", "img"})
