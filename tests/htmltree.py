"""A small element tree over the standard library's HTML parser, for asserting on pages.

Tests look at what a browser would build, not at strings: ``parse(page)``
gives the document element; ``find_all`` walks it like ``querySelectorAll``
for a tag (and optionally a class or attribute), and ``text`` joins the
text of an element and its children as ``textContent`` does (whitespace
runs collapsed)::

    doc = parse(page)
    rows = doc.find_all("tr", attrs={"data-role": "root"})
    assert rows[0].text() == "root 1 @alice (1 of 1 required) ..."
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

# Elements without an end tag (HTML's void elements).
_VOID = frozenset({
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
    "source", "track", "wbr",
})  # fmt: skip


@dataclass
class Element:
    """An element: tag, attributes, children (elements and text, in order)."""

    tag: str
    attrs: dict[str, str | None] = field(default_factory=dict)
    children: list[Element | str] = field(default_factory=list)

    def elements(self) -> list[Element]:
        """Child elements, in order."""
        return [c for c in self.children if isinstance(c, Element)]

    def iter(self) -> list[Element]:
        """This element and every descendant, in document order."""
        found = [self]
        for child in self.elements():
            found += child.iter()
        return found

    def find_all(
        self, tag: str, *, cls: str | None = None, attrs: dict[str, str] | None = None
    ) -> list[Element]:
        """Descendants (and self) with ``tag``, the class ``cls`` and the ``attrs`` values."""
        return [
            e
            for e in self.iter()
            if e.tag == tag
            and (cls is None or cls in (e.attrs.get("class") or "").split())
            and all(e.attrs.get(k) == v for k, v in (attrs or {}).items())
        ]

    def find(self, tag: str, **kwargs: str) -> Element:
        """The first element :meth:`find_all` finds for ``tag`` and an ``id`` or ``cls``."""
        attrs = {"id": kwargs["id"]} if "id" in kwargs else None
        found = self.find_all(tag, cls=kwargs.get("cls"), attrs=attrs)
        if not found:
            raise AssertionError(f"no <{tag}> {kwargs} in the page")
        return found[0]

    def raw_text(self) -> str:
        """The text of this element and its descendants, as it is."""
        return "".join(c if isinstance(c, str) else c.raw_text() for c in self.children)

    def text(self) -> str:
        """:meth:`raw_text` with whitespace runs collapsed and the ends stripped."""
        return re.sub(r"\s+", " ", self.raw_text()).strip()


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document")
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, dict(attrs))
        self.stack[-1].children.append(element)
        if tag not in _VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Element(tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        # Close up to the matching open element (HTML lets some end tags be implied).
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(page: str) -> Element:
    """The document of ``page`` (an ``#document`` element holding ``<html>``)."""
    builder = _Builder()
    builder.feed(page)
    builder.close()
    return builder.root
