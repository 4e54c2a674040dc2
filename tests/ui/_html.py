"""Reading pages as a person (and an attacker) would: text, tags, attributes, links."""

from __future__ import annotations

from html.parser import HTMLParser


class Page(HTMLParser):
    """A parsed page: its text, every element with its attributes, and ids."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.chunks: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag in ("style", "script", "title"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script", "title"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.chunks.append(data)

    @property
    def text(self) -> str:
        """The visible text, whitespace collapsed."""
        return " ".join(" ".join(self.chunks).split())

    @property
    def tags(self) -> set[str]:
        return {tag for tag, _ in self.elements}

    @property
    def ids(self) -> set[str]:
        return {a["id"] or "" for _, a in self.elements if "id" in a}

    def links(self) -> list[str]:
        return [a.get("href") or "" for tag, a in self.elements if tag == "a"]

    def urls(self) -> list[str]:
        """Every URL the page refers to (href, src, action)."""
        return [
            value or ""
            for _, attrs in self.elements
            for name, value in attrs.items()
            if name in ("href", "src", "action", "formaction", "srcset", "data")
        ]


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page
