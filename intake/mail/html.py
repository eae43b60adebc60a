"""HTML from mail: sanitising for display, and converting to readable plain text."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import nh3

_TAGS = set(nh3.ALLOWED_TAGS) | {"font", "tfoot"}
_ATTRIBUTES: dict[str, set[str]] = {
    tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()
}
_GENERIC_ATTRIBUTES = {
    "style", "align", "valign", "width", "height", "bgcolor", "dir", "lang", "title",
}  # fmt: skip
_ATTRIBUTES["*"] = _GENERIC_ATTRIBUTES
_ATTRIBUTES.setdefault("font", set()).update({"color", "face", "size"})
_ATTRIBUTES.setdefault("table", set()).update({"border", "cellpadding", "cellspacing"})
_ATTRIBUTES["img"] = {"src", "alt", "width", "height", "align"}
# Layout properties only; anything that can take url() (background, list-style, content...)
# stays out so that CSS cannot fetch remote resources.
_STYLE_PROPERTIES = {
    "color", "background-color", "font", "font-family", "font-size", "font-style", "font-weight",
    "text-align", "text-decoration", "text-indent", "text-transform", "line-height", "white-space",
    "vertical-align", "margin", "margin-top", "margin-bottom", "margin-left", "margin-right",
    "padding", "padding-top", "padding-bottom", "padding-left", "padding-right", "border",
    "border-top", "border-bottom", "border-left", "border-right", "border-color", "border-style",
    "border-width", "border-collapse", "border-spacing", "width", "height", "max-width",
    "min-width", "display", "direction",
}  # fmt: skip
_URL_SCHEMES = {"http", "https", "mailto", "tel", "cid"}
_CLEAN_CONTENT = {"script", "style", "title", "head", "iframe", "object", "embed", "noscript",
                  "form", "select", "textarea", "template", "svg", "math"}  # fmt: skip


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    if tag == "img" and attribute == "src":
        # Remote images are tracking beacons; only message-internal cid: images may load.
        return value if value.strip().lower().startswith("cid:") else None
    return value


def sanitize_html(html: str) -> str:
    """HTML safe to show in the agent UI: no scripts, handlers, forms, frames or remote loads."""
    try:
        return nh3.clean(
            html,
            tags=_TAGS,
            clean_content_tags=_CLEAN_CONTENT,
            attributes=_ATTRIBUTES,
            attribute_filter=_filter_attribute,
            url_schemes=_URL_SCHEMES,
            filter_style_properties=_STYLE_PROPERTIES,
            link_rel="noopener noreferrer nofollow",
            strip_comments=True,
        )
    except Exception:  # the sanitizer must fail closed, never open
        return _escape(html_to_text(html))


def _escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "<br>")
    )


_BLOCK = {
    "p", "div", "section", "article", "header", "footer", "blockquote", "pre", "table", "tr",
    "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "dl", "dt", "dd", "hr", "address", "center",
    "form", "fieldset", "figure", "figcaption", "nav", "aside", "main", "tbody", "thead", "tfoot",
}  # fmt: skip
_SKIP = {"script", "style", "head", "title", "template", "noscript", "svg", "math", "object"}
_WS = re.compile(r"[ \t\r\n\f\u00a0]+")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.skip_depth = 0
        self.pre_depth = 0
        self.links: list[tuple[str, int]] = []
        self.list_stack: list[list[int]] = []

    def _break(self, blank: bool = False, force: bool = False) -> None:
        """End the current line; ``force`` (a <br>) ends it even when empty."""
        line = "".join(self.current).strip(" ")
        self.current = []
        if line or force:
            self.lines.append(line)
        if blank and self.lines and self.lines[-1] != "":
            self.lines.append("")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip_depth += 1
            return
        if tag == "br":
            self._break(force=True)
        elif tag == "li":
            self._break()
            if self.list_stack and self.list_stack[-1]:
                self.list_stack[-1][0] += 1
                self.current.append(f"{self.list_stack[-1][0]}. ")
            else:
                self.current.append("- ")
        elif tag in ("ul", "ol"):
            self._break()
            self.list_stack.append([0] if tag == "ol" else [])
        elif tag in ("td", "th"):
            if self.current and "".join(self.current).strip():
                self.current.append("\t")
        elif tag == "a":
            href = dict(attrs).get("href") or ""
            self.links.append((href.strip(), len("".join(self.current))))
        elif tag == "img":
            alt = (dict(attrs).get("alt") or "").strip()
            if alt:
                self.current.append(f"[{alt}]")
        elif tag in _BLOCK:
            self._break(blank=tag in ("p", "blockquote", "table", "h1", "h2", "h3"))
            if tag == "pre":
                self.pre_depth += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "img", "hr"):
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip_depth = max(0, self.skip_depth - 1)
            return
        if tag == "a" and self.links:
            href, start = self.links.pop()
            label = "".join(self.current)[start:].strip()
            if href and not href.lower().startswith(("javascript:", "cid:", "#")):
                shown = href[7:] if href.lower().startswith("mailto:") else href
                if shown and shown != label:
                    self.current.append(f" ({shown})")
        elif tag in ("ul", "ol"):
            if self.list_stack:
                self.list_stack.pop()
            self._break()
        elif tag in _BLOCK or tag == "li":
            if tag == "pre":
                self.pre_depth = max(0, self.pre_depth - 1)
            self._break(blank=tag in ("p", "blockquote", "table", "h1", "h2", "h3"))

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        if self.pre_depth:
            parts = data.split("\n")
            for index, part in enumerate(parts):
                if index:
                    self._break()
                self.current.append(part)
            return
        text = _WS.sub(" ", data)
        if not "".join(self.current).strip():
            text = text.lstrip(" ")
        if text:
            self.current.append(text)

    def text(self) -> str:
        self._break()
        text = "\n".join(line.rstrip() for line in self.lines)
        return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


def html_to_text(html: str) -> str:
    """Readable plain text: paragraphs, line breaks, list items, links as ``text (url)``."""
    parser = _TextExtractor()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # HTMLParser is lenient, but never let markup crash intake
        return _WS.sub(" ", re.sub(r"<[^>]*>", " ", html)).strip()
    return parser.text()
