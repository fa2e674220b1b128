"""Text exports: detect the encoding, skip title lines, find the header, split the rows.

Cyclers write UTF-8, UTF-16 (Arbin, some Neware tools) or Windows-1252/Latin-1 (``°C``,
``µA`` in headers); Maccor and BioLogic put title or parameter lines before the header. The
result keeps each data row's file line number, so any later error can name file and line.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError

#: Lines searched for the header row (title blocks are short; EC-Lab states its own length).
HEADER_SEARCH_LINES = 200
_NUMBER = re.compile(r"^[-+]?(\d+([.,]\d*)?|[.,]\d+)([eE][-+]?\d+)?$")
#: A cell cut inside a number: '3.', '-', '1e', '2.5e-'.
_CUT_NUMBER = re.compile(r"^[-+]?(\d+[.,]|[-+]|\d+([.,]\d+)?[eE][-+]?)$")


def decode(path: Path) -> tuple[str, str]:
    """The file's text and the encoding it was read with (BOM, UTF-8, else cp1252/Latin-1)."""
    return decode_bytes(path.read_bytes(), path)


def decode_bytes(raw: bytes, path: Path | str) -> tuple[str, str]:
    """Text and encoding of ``raw`` (the bytes of ``path``, named in errors)."""
    for bom, enc in (
        (b"\xef\xbb\xbf", "utf-8-sig"),
        (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"),
    ):
        if raw.startswith(bom):
            return _strict(raw, enc, path), enc
    head = raw[:4096]
    if head and head.count(0) > len(head) // 4:  # UTF-16 without a BOM: every other byte NUL
        enc = "utf-16-le" if head[1::2].count(0) > head[0::2].count(0) else "utf-16-be"
        return _strict(raw, enc, path), enc
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:  # the five bytes cp1252 leaves undefined
        return raw.decode("latin-1"), "latin-1"


def _strict(raw: bytes, encoding: str, path: Path | str) -> str:
    """Decode, reporting an undecodable byte by line and byte offset."""
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n" if "16" not in encoding else "\n".encode(encoding)) + 1
        raise AnalysisError(
            f"{path}:{line}: byte offset {exc.start}: cannot decode as {encoding} ({exc.reason})"
        ) from None


def is_number(text: str) -> bool:
    """A plain decimal number (point or comma decimal)."""
    return bool(_NUMBER.match(text.strip()))


@dataclass
class Table:
    """Cells as text with each row's file line number; ``title`` is what came before the header."""

    frame: pd.DataFrame
    lines: np.ndarray
    header_line: int
    title: list[str]
    encoding: str
    delimiter: str


def _split(line: str, sep: str) -> list[str]:
    return next(csv.reader([line], delimiter=sep))


def find_header(lines: list[str], start: int = 0) -> tuple[int, str]:
    """Index of the header line and the delimiter: the first line of >= 3 fields followed by a
    line with as many fields, mostly numbers (title lines like 'Today's Date …' are skipped)."""
    stop = min(len(lines) - 1, start + HEADER_SEARCH_LINES)
    for k in range(start, stop):
        for sep in ("\t", ",", ";"):
            if sep not in lines[k]:
                continue
            head = [h for h in _split(lines[k], sep)]
            while head and not head[-1].strip():
                head.pop()
            if len(head) < 3 or sum(is_number(h) for h in head) > len(head) // 2:
                continue
            nxt = _next_data(lines, k + 1)
            if nxt is None:
                continue
            row = _split(lines[nxt], sep)
            if len(row) >= len(head) and sum(is_number(c) for c in row) >= len(head) / 3:
                return k, sep
    raise AnalysisError("no header row followed by numeric rows found")


def _next_data(lines: list[str], k: int) -> int | None:
    while k < len(lines) and not lines[k].strip():
        k += 1
    return k if k < len(lines) else None


def read_delimited(path: Path, *, header_index: int | None = None, sep: str | None = None) -> Table:
    """Parse a delimited export into a :class:`Table` (all cells as stripped text)."""
    text, encoding = decode(path)
    if not text.strip():
        raise AnalysisError(f"{path}: empty file")
    lines = text.splitlines()
    if header_index is None or sep is None:
        try:
            header_index, sep = find_header(lines)
        except AnalysisError as exc:
            raise AnalysisError(f"{path}: {exc} in the first {HEADER_SEARCH_LINES} lines") from None
    header = [h.strip() for h in _split(lines[header_index], sep)]
    while header and not header[-1]:
        header.pop()
    width = len(header)
    rows: list[list[str]] = []
    numbers: list[int] = []
    for k in range(header_index + 1, len(lines)):
        if not lines[k].strip():
            continue
        cells = [c.strip() for c in _split(lines[k], sep)]
        if len(cells) < width:
            cut = k == len(lines) - 1 and not text.endswith(("\n", "\r"))
            raise AnalysisError(
                f"{path}:{k + 1}: row has {len(cells)} of {width} fields"
                + (" (the file ends inside this row: truncated?)" if cut else "")
            )
        rows.append(cells[:width])
        numbers.append(k + 1)
    frame = pd.DataFrame(rows, columns=_unique(header), dtype=object)
    table = Table(frame, np.asarray(numbers), header_index + 1, lines[:header_index], encoding, sep)
    check_cut_numbers(table, str(path), ends_cleanly=text.endswith(("\n", "\r")))
    return table


def _unique(names: list[str]) -> list[str]:
    """Header names made unique (a repeated name gets ' (2)', ' (3)')."""
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n} ({seen[n]})")
    return out


def check_cut_numbers(table: Table, where: str, *, ends_cleanly: bool = True) -> None:
    """Refuse cells cut inside a number ('3.' for '3.3817') with file, line and column; a file
    that ends without a newline has its last row compared with the rows before it."""
    frame = table.frame
    if frame.empty:
        return
    for col in frame.columns:
        values = frame[col]
        cut = values.str.match(_CUT_NUMBER.pattern)
        if cut.any():
            k = int(np.flatnonzero(cut.to_numpy())[0])
            raise AnalysisError(
                f"{where}:{table.lines[k]}: column {col!r}: {values.iat[k]!r} is a truncated or "
                "malformed number"
            )
    if ends_cleanly or len(frame) < 3:
        return
    last, before = frame.iloc[-1], frame.iloc[-21:-1]
    for col in frame.columns:
        prev = before[col]
        numeric = prev.map(is_number).all() and is_number(last[col])
        if numeric and len(last[col]) < prev.str.len().min():
            raise AnalysisError(
                f"{where}:{table.lines[-1]}: column {col!r}: {last[col]!r} is shorter than "
                "every value before it and the file ends without a newline: truncated?"
            )
