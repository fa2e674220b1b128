"""Text exports: detect the encoding, skip title lines, find the header, split the rows.

Cyclers write UTF-8, UTF-16 (Arbin, some Neware tools) or Windows-1252/Latin-1 (``°C``,
``µA`` in headers); Maccor and BioLogic put title or parameter lines before the header. The
result keeps each data row's file line number, so any later error can name file and line.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from itertools import compress, repeat
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError

#: Lines searched for the header row (title blocks are short; EC-Lab states its own length).
HEADER_SEARCH_LINES = 200
_NUMBER = re.compile(r"^[-+]?(\d+([.,]\d*)?|[.,]\d+)([eE][-+]?\d+)?$")


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


def _decimal(line: str, sep: str) -> str:
    """',' when the data row writes decimal commas (only possible when ',' is not the separator)."""
    if sep == ",":
        return "."
    cells = [c.strip() for c in line.split(sep)]
    commas = sum(bool(re.match(r"^[-+]?\d+,\d+([eE][-+]?\d+)?$", c)) for c in cells)
    points = sum(bool(re.match(r"^[-+]?\d+\.\d+([eE][-+]?\d+)?$", c)) for c in cells)
    return "," if commas > points else "."


def read_delimited(path: Path, *, header_index: int | None = None, sep: str | None = None) -> Table:
    """Parse a delimited export into a :class:`Table`: numeric columns as floats (pandas' C
    parser), text columns stripped, each row's file line number kept."""
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
    rest = lines[header_index + 1 :]
    filled = np.fromiter(map(len, map(str.strip, rest)), dtype=np.int64, count=len(rest)) > 0
    numbers = np.flatnonzero(filled) + header_index + 2
    body = list(zip(numbers.tolist(), compress(rest, filled), strict=True))
    ends_cleanly = text.endswith(("\n", "\r"))
    _check_row_widths(body, sep, width, str(path), ends_cleanly)
    check_cut_numbers(body, header, sep, str(path), ends_cleanly=ends_cleanly)
    if not body:
        frame = pd.DataFrame(columns=_unique(header))
    else:
        try:
            frame = pd.read_csv(
                io.StringIO("\n".join(line for _, line in body)),
                sep=sep,
                header=None,
                decimal=_decimal(body[0][1], sep),
                skipinitialspace=True,
                keep_default_na=False,
                na_values=[""],
                low_memory=False,
            )
        except pd.errors.ParserError as exc:
            m = re.search(r"line (\d+)", str(exc))
            where = f"{path}:{numbers[int(m.group(1)) - 1]}" if m else str(path)
            raise AnalysisError(f"{where}: cannot split the row ({exc})") from None
        frame = frame.iloc[:, :width]
        frame.columns = _unique(header)
    return Table(frame, numbers, header_index + 1, lines[:header_index], encoding, sep)


def _check_row_widths(
    body: list[tuple[int, str]], sep: str, width: int, where: str, ends_cleanly: bool
) -> None:
    """Refuse a row with fewer fields than the header (a file cut inside its last row)."""
    lines = [line for _, line in body]
    counts = np.fromiter(map(str.count, lines, repeat(sep)), dtype=np.int64, count=len(body))
    short = np.flatnonzero(counts < width - 1)
    if short.size:
        k = int(short[0])
        fields = len(_split(body[k][1], sep))
        if fields < width:
            cut = k == len(body) - 1 and not ends_cleanly
            raise AnalysisError(
                f"{where}:{body[k][0]}: row has {fields} of {width} fields"
                + (" (the file ends inside this row: truncated?)" if cut else "")
            )


def _unique(names: list[str]) -> list[str]:
    """Header names made unique (a repeated name gets ' (2)', ' (3)')."""
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n} ({seen[n]})")
    return out


def _cut_at(text: str, sep: str) -> int | None:
    """Position of the first field that ends in a digit and then '.', 'e' or 'e-' ('3.', '1e',
    '2.5e-'): found with str.find (C speed), each hit checked for the digit before it."""
    tails = [".", "e", "E", "e-", "e+", "E-", "E+"] + ([","] if sep != "," else [])
    best: int | None = None
    for tail in tails:
        for end in (sep, "\n"):
            start = 0
            while (k := text.find(tail + end, start)) >= 0:
                if k > 0 and text[k - 1].isdigit() and (best is None or k < best):
                    best = k
                    break
                start = k + 1
        if text.endswith(tail) and len(text) > len(tail) and text[-len(tail) - 1].isdigit():
            k = len(text) - len(tail)
            best = k if best is None else min(best, k)
    return best


def check_cut_numbers(
    body: list[tuple[int, str]],
    header: list[str],
    sep: str,
    where: str,
    *,
    ends_cleanly: bool = True,
) -> None:
    """Refuse cells cut inside a number ('3.' for '3.3817') with file, line and column (one
    regex scan of the text); a file that ends without a newline has its last row compared with
    the rows before it (a value shorter than all of them was cut)."""
    if not body:
        return
    joined = "\n".join(line for _, line in body)
    at = _cut_at(joined, sep)
    if at is not None:
        line_start = joined.rfind("\n", 0, at) + 1
        field_start = max(joined.rfind(sep, line_start, at) + 1, line_start)
        field = re.compile(rf"[^{re.escape(sep)}\n]*").match(joined, field_start).group().strip()
        k = joined.count("\n", 0, field_start)
        col = joined.count(sep, line_start, field_start)
        name = header[col] if col < len(header) else f"field {col + 1}"
        raise AnalysisError(
            f"{where}:{body[k][0]}: column {name!r}: {field!r} is a truncated or malformed number"
        )
    if ends_cleanly or len(body) < 3:
        return
    last = [c.strip() for c in _split(body[-1][1], sep)]
    before = [[c.strip() for c in _split(line, sep)] for _, line in body[-21:-1]]
    for j, cell in enumerate(last[: len(header)]):
        prev = [row[j] for row in before if j < len(row)]
        numeric = prev and all(map(is_number, prev)) and is_number(cell)
        if numeric and len(cell) < min(map(len, prev)):
            raise AnalysisError(
                f"{where}:{body[-1][0]}: column {header[j]!r}: {cell!r} is shorter than every "
                "value before it and the file ends without a newline: truncated?"
            )
