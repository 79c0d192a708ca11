"""Physical lines of a text stream, whatever their line ends, in bounded memory.

LF, CRLF and CR alone (Excel for Mac) each end one line, mixed in one file as they come. A
line longer than the limit is never held whole: it is skipped chunk by chunk and stands as
`None`, so the reader can reject it alone and go on with the next line.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

CHUNK_CHARS = 64 * 1024


class TextSource(Protocol):
    def read(self, size: int = -1, /) -> str: ...


def physical_lines(text: TextSource, limit: int) -> Iterator[str | None]:
    """Each line of `text` without its line end, or None for a line longer than `limit`.

    A final line without a line end is still a line; an empty file has none.
    """
    source = NormalisedText(text)
    pending = ""
    skipping = False  # inside a line already known to be too long
    while True:
        chunk = source.read(CHUNK_CHARS)
        if not chunk:
            break
        parts = chunk.split("\n")
        if len(parts) > 1:
            if skipping:
                skipping = False
                yield None
            else:
                first = pending + parts[0]
                yield first if len(first) <= limit else None
            for line in parts[1:-1]:
                yield line if len(line) <= limit else None
            pending = ""
        if not skipping:
            pending += parts[-1]
            if len(pending) > limit:
                pending, skipping = "", True
    if skipping:
        yield None
    elif pending:
        yield pending


class NormalisedText:
    """`text` with every CRLF and lone CR read as LF (for readers that count LFs)."""

    def __init__(self, text: TextSource) -> None:
        self._text = text

    def read(self, size: int = -1, /) -> str:
        chunk = self._text.read(size)
        if not chunk:
            return chunk
        while chunk[-1] == "\r":  # a CR at the end may be the first half of a CRLF
            more = self._text.read(1)
            if not more:
                break
            chunk += more
        if "\r" in chunk:
            chunk = chunk.replace("\r\n", "\n").replace("\r", "\n")
        return chunk
