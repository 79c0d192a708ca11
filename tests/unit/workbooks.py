"""Minimal .xlsx workbooks built with zipfile, laid out as Excel writes them.

`xlsx()` takes sheets as (name, sheet XML body) pairs in tab order; `sheet_xml()` and `cell()`
write the <sheetData> rows, and `shared_strings()` the strings table. Parts can be overridden
or added (`extra`), so a test can damage exactly one of them.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from xml.sax.saxutils import escape

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
# A part's content: text, bytes, or bytes in pieces (written as they come).
Part = str | bytes | Iterable[bytes]
HEADER = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

CONTENT_TYPES = (
    HEADER + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/></Types>'
)
ROOT_RELS = (
    HEADER + f'<Relationships xmlns="{PACKAGE_RELS}">'
    f'<Relationship Id="rId1" Type="{RELS}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)


def cell(ref: str, value: object, kind: str | None = None) -> str:
    """One <c>: a str is an inline string unless `kind` says otherwise, an int or float a
    number, a bool a boolean."""
    if kind is None:
        kind = "b" if isinstance(value, bool) else "inlineStr" if isinstance(value, str) else "n"
    if kind == "inlineStr":
        return f'<c r="{ref}" t="inlineStr"><is><t>{escape(str(value))}</t></is></c>'
    text = str(int(value)) if isinstance(value, bool) else escape(str(value))
    kind_attribute = "" if kind == "n" else f' t="{kind}"'
    return f'<c r="{ref}"{kind_attribute}><v>{text}</v></c>'


def row(number: int, *cells: str) -> str:
    return f'<row r="{number}">{"".join(cells)}</row>'


def sheet_xml(*rows: str) -> str:
    return worksheet("".join(rows))


def worksheet(sheet_data: str) -> str:
    return (
        HEADER + f'<worksheet xmlns="{MAIN}" xmlns:r="{RELS}">'
        '<dimension ref="A1"/><sheetViews><sheetView workbookViewId="0"/></sheetViews>'
        f"<sheetData>{sheet_data}</sheetData>"
        '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" '
        'footer="0.3"/></worksheet>'
    )


def shared_strings(*items: str) -> str:
    """A strings table; each item is the XML inside its <si> (e.g. "<t>Lyon</t>")."""
    body = "".join(f"<si>{item}</si>" for item in items)
    return (
        HEADER + f'<sst xmlns="{MAIN}" count="{len(items)}" uniqueCount="{len(items)}">{body}</sst>'
    )


def plain(*texts: str) -> str:
    """A strings table of plain texts."""
    return shared_strings(*(f"<t>{escape(text)}</t>" for text in texts))


def xlsx(
    sheets: Iterable[tuple[str, Part]],
    strings: str | None = None,
    *,
    hidden: Iterable[str] = (),
    extra: Mapping[str, Part] | None = None,
    sheet_paths: Mapping[str, str] | None = None,
) -> bytes:
    """A workbook whose tabs are `sheets` in order. The n-th sheet's part is
    xl/worksheets/sheet<n>.xml unless `sheet_paths` maps its name elsewhere."""
    parts: dict[str, Part] = {"[Content_Types].xml": CONTENT_TYPES, "_rels/.rels": ROOT_RELS}
    entries, relationships = [], []
    hidden = set(hidden)
    for number, (name, xml) in enumerate(sheets, 1):
        path = (sheet_paths or {}).get(name, f"worksheets/sheet{number}.xml")
        state = ' state="hidden"' if name in hidden else ""
        entries.append(f'<sheet name="{name}" sheetId="{number}"{state} r:id="rId{number}"/>')
        relationships.append(
            f'<Relationship Id="rId{number}" Type="{RELS}/worksheet" Target="{path}"/>'
        )
        parts[f"xl/{path}"] = xml
    if strings is not None:
        relationships.append(
            f'<Relationship Id="rIdS" Type="{RELS}/sharedStrings" Target="sharedStrings.xml"/>'
        )
        parts["xl/sharedStrings.xml"] = strings
    parts["xl/workbook.xml"] = (
        HEADER + f'<workbook xmlns="{MAIN}" xmlns:r="{RELS}">'
        f"<sheets>{''.join(entries)}</sheets></workbook>"
    )
    parts["xl/_rels/workbook.xml.rels"] = (
        HEADER + f'<Relationships xmlns="{PACKAGE_RELS}">{"".join(relationships)}</Relationships>'
    )
    parts.update(extra or {})
    return archive(parts)


def archive(parts: Mapping[str, Part]) -> bytes:
    """A deflated ZIP of `parts`; a part given as pieces (bytes) is written as they come."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name, data in parts.items():
            if isinstance(data, str | bytes):
                zipped.writestr(name, data)
            else:
                with zipped.open(name, "w") as member:
                    for piece in data:
                        member.write(piece)
    return buffer.getvalue()


def streamed_sheet(rows: Iterator[str]) -> Iterator[bytes]:
    """A worksheet part in pieces, for sheets too large to build as one string."""
    head, tail = worksheet("\x00").encode().split(b"\x00")
    yield head
    for piece in rows:
        yield piece.encode()
    yield tail
