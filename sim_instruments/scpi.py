"""A small SCPI engine for emulators: command tree, message parsing, error queue.

It follows IEEE 488.2 / SCPI message rules as instruments apply them: ``;`` separates message
units in one line, a unit without a leading ``:`` continues the path of the previous unit,
headers match their short or long form case-insensitively (``SOUR`` or ``SOURCE``, not
``SOURC``), optional nodes are written in brackets (``SOURce[1]:CURRent[:LEVel]``), several
query replies of one line are joined with ``;``. Errors go to a bounded queue read with
``SYST:ERR?`` using the standard SCPI codes.
"""

from __future__ import annotations

import logging
import re
from collections import deque
from collections.abc import Callable

from sim_instruments.lineserver import LineDevice

log = logging.getLogger(__name__)

#: standard SCPI error texts (SCPI-99 vol. 2, chapter 21)
SCPI_ERRORS: dict[int, str] = {
    0: "No error",
    -100: "Command error",
    -102: "Syntax error",
    -104: "Data type error",
    -108: "Parameter not allowed",
    -109: "Missing parameter",
    -113: "Undefined header",
    -200: "Execution error",
    -221: "Settings conflict",
    -222: "Data out of range",
    -224: "Illegal parameter value",
    -230: "Data corrupt or stale",
    -300: "Device-specific error",
    -350: "Queue overflow",
}


class ScpiError(Exception):
    """An error the instrument puts into its queue; ``detail`` is appended after ``;``."""

    def __init__(self, code: int, detail: str = "") -> None:
        self.code = code
        self.detail = detail
        super().__init__(f"{code}: {detail}")

    def text(self) -> str:
        base = SCPI_ERRORS.get(self.code, "Error")
        return f"{base}; {self.detail}" if self.detail else base


class ErrorQueue:
    """FIFO of (code, text); when full the newest entry becomes -350 "Queue overflow"."""

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._q: deque[tuple[int, str]] = deque()

    def push(self, code: int, text: str) -> None:
        if len(self._q) >= self.size:
            self._q[-1] = (-350, SCPI_ERRORS[-350])
            return
        self._q.append((code, text))

    def pop(self) -> tuple[int, str]:
        return self._q.popleft() if self._q else (0, SCPI_ERRORS[0])

    def clear(self) -> None:
        self._q.clear()

    def __len__(self) -> int:
        return len(self._q)


def split_outside_quotes(text: str, sep: str) -> list[str]:
    """Split ``text`` on ``sep`` except inside '...' or "..." strings."""
    if '"' not in text and "'" not in text:
        return text.split(sep)
    parts, current, quote = [], [], ""
    for ch in text:
        if quote:
            current.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
            current.append(ch)
        elif ch == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    if quote:
        raise ScpiError(-102, "unterminated string")
    parts.append("".join(current))
    return parts


def _node_regex(node: str) -> str:
    """Regex for one pattern node such as ``SOURce[1]`` or ``*IDN``."""
    suffix = ""
    if node.endswith("[1]"):
        node, suffix = node[:-3], "1?"
    if node.startswith("*"):
        return re.escape(node.upper()) + suffix
    short = "".join(ch for ch in node if ch.isupper() or ch.isdigit())
    long = node.upper()
    forms = {short, long}
    return "(?:" + "|".join(sorted(forms, key=len, reverse=True)) + ")" + suffix


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """``"SOURce[1]:CURRent[:LEVel]"`` -> a regex matching the upper-cased header."""
    regex = []
    for optional, node in re.findall(r"(\[:)?([^:\[\]]+(?:\[1\])?)\]?", pattern.lstrip(":")):
        piece = _node_regex(node)
        if optional:
            regex.append(f"(?::{piece})?")
        else:
            regex.append((":" if regex else "") + piece)
    return re.compile("".join(regex))


#: handler(params, is_query) -> reply text or None
Handler = Callable[[list[str], bool], "str | None"]


class CommandTree:
    """Maps headers to handlers; resolutions are cached so a repeated header costs a dict hit."""

    def __init__(self) -> None:
        self._entries: list[tuple[re.Pattern[str], Handler, bool, bool]] = []
        self._cache: dict[str, tuple[Handler, bool, bool] | None] = {}

    def add(self, pattern: str, handler: Handler, *, query: bool = True, command: bool = True):
        """Register ``pattern``; ``query``/``command`` say whether ``X?`` / ``X`` are allowed."""
        self._entries.append((compile_pattern(pattern), handler, query, command))
        self._cache.clear()

    def resolve(self, header: str) -> tuple[Handler, bool, bool]:
        """Handler for an upper-cased header without ``?``; ScpiError(-113) if unknown."""
        found = self._cache.get(header, False)
        if found is False:
            found = None
            for regex, handler, query, command in self._entries:
                if regex.fullmatch(header):
                    found = (handler, query, command)
                    break
            if len(self._cache) > 4096:
                self._cache.clear()
            self._cache[header] = found
        if found is None:
            raise ScpiError(-113, header)
        return found


class ScpiDevice(LineDevice):
    """A LineDevice that dispatches SCPI message units through a :class:`CommandTree`.

    ``received`` logs every command line the device got (tests check that nothing was sent).
    """

    def __init__(self, faults=None) -> None:
        super().__init__(faults)
        self.tree = CommandTree()
        self.errors = ErrorQueue()
        self.esr = 0  # IEEE 488.2 standard event status register
        self.received: deque[str] = deque(maxlen=100_000)

    def error(self, code: int, detail: str = "") -> None:
        """Queue an instrument error and set its event bit (also used by fault injection)."""
        self.errors.push(code, ScpiError(code, detail).text())
        self.esr |= _esr_bit(code)

    def handle(self, command: str) -> str | None:
        self.received.append(command)
        replies: list[str] = []
        path = ""
        for unit in split_units(command, self):
            unit = unit.strip()
            if not unit:
                continue
            header, *tail = unit.split(None, 1)
            rest = tail[0] if tail else ""
            header = header.upper()
            if header.startswith(":*"):
                header = header[1:]
            if header.startswith("*"):
                full = header
            elif header.startswith(":"):
                full = header[1:]
            else:
                full = f"{path}:{header}" if path else header
            if not header.startswith("*"):
                path = full.rpartition(":")[0]
            try:
                reply = self.dispatch(full, rest.strip())
            except ScpiError as exc:
                self.error(exc.code, exc.detail)
                continue
            except Exception:  # a bug in a handler must not kill the connection thread
                log.exception("emulator failed on %r", unit)
                self.error(-300, f"emulator failure on {unit}")
                continue
            if reply is not None:
                replies.append(reply)
        return ";".join(replies) if replies else None

    def dispatch(self, header: str, rest: str) -> str | None:
        """Execute one message unit (full upper-case header, raw parameter text)."""
        is_query = header.endswith("?")
        if is_query:
            header = header[:-1]
        handler, query_ok, command_ok = self.tree.resolve(header)
        if (is_query and not query_ok) or (not is_query and not command_ok):
            raise ScpiError(-113, header + ("?" if is_query else ""))
        params = [p.strip() for p in split_outside_quotes(rest, ",")] if rest else []
        if any(p == "" for p in params):
            raise ScpiError(-102, "empty parameter")
        return handler(params, is_query)


def split_units(command: str, device: ScpiDevice) -> list[str]:
    """Message units of one line; a syntax error is queued on ``device`` and nothing runs."""
    try:
        return split_outside_quotes(command, ";")
    except ScpiError as exc:
        device.error(exc.code, exc.detail)
        return []


def _esr_bit(code: int) -> int:
    """*ESR? bit for an error code: command 32, execution 16, device 8, query 4."""
    if -199 <= code <= -100:
        return 32
    if -299 <= code <= -200:
        return 16
    if -399 <= code <= -300 or code > 0:
        return 8
    if -499 <= code <= -400:
        return 4
    return 0


# -- parameter helpers used by SCPI handlers -------------------------------------------------------

_BOOL = {"ON": True, "1": True, "OFF": False, "0": False}


def param_count(params: list[str], low: int, high: int | None = None) -> None:
    """Raise -109 / -108 unless ``low <= len(params) <= high``."""
    high = low if high is None else high
    if len(params) < low:
        raise ScpiError(-109)
    if len(params) > high:
        raise ScpiError(-108)


def as_float(text: str, specials: dict[str, float] | None = None) -> float:
    """SCPI <NRf> (or MIN/MAX/DEF via ``specials``); -104 if it is not a number."""
    key = text.upper()
    if specials:
        for name, value in specials.items():
            if key in (name, name[:3]):
                return value
    try:
        value = float(text)
    except ValueError:
        raise ScpiError(-104, f"not a number: {text}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ScpiError(-104, f"not a finite number: {text}")
    return value


def as_int(text: str) -> int:
    value = as_float(text)
    if value != int(value):
        raise ScpiError(-104, f"not an integer: {text}")
    return int(value)


def as_bool(text: str) -> bool:
    try:
        return _BOOL[text.upper()]
    except KeyError:
        raise ScpiError(-224, f"expected ON|OFF|1|0, got {text}") from None


def as_string(text: str) -> str:
    """A quoted SCPI string parameter, unquoted; -104 when the quotes are missing."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    raise ScpiError(-104, f"expected a quoted string, got {text}")


def as_choice(text: str, choices: dict[str, str]) -> str:
    """Match ``text`` against long forms like "CURRent" (short or long, any case)."""
    key = text.upper()
    for pattern, canonical in choices.items():
        short = "".join(ch for ch in pattern if ch.isupper())
        if key in (short, pattern.upper()):
            return canonical
    raise ScpiError(-224, f"{text} not one of {', '.join(choices)}")


def in_range(value: float, low: float, high: float, what: str) -> float:
    if not low <= value <= high:
        raise ScpiError(-222, f"{what} {value:g} outside [{low:g}, {high:g}]")
    return value
