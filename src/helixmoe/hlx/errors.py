"""The one error type of the HLX codecs (spec §8.4).

Every rejection — malformed text, bad bytes, a value outside the model, a limit exceeded — raises
:class:`HLXError`, which carries the notation, a message and the position (offset, line, column; for
LC-B bytes the byte offset). ``str(err)`` shows the offending line with a caret under the position.
"""

from __future__ import annotations

__all__ = ["HLXError", "position"]

_CONTEXT = 60  # characters of the offending line shown on each side of the caret


def position(src: str | bytes, offset: int) -> tuple[int, int]:
    """Return the 1-based ``(line, column)`` of ``offset`` in ``src`` (bytes: line 1, column offset+1)."""
    if isinstance(src, (bytes, bytearray)):
        return 1, offset + 1
    line = src.count("\n", 0, offset) + 1
    column = offset - (src.rfind("\n", 0, offset) + 1) + 1
    return line, column


class HLXError(ValueError):
    """A value, text or byte string rejected by an HLX codec.

    Attributes:
        notation: the notation being read or written (``"hlxl"``, ``"lc-t"``, ...) or ``"value"`` for a
            Python value outside the HLX value model.
        message: what is wrong, without position.
        offset: character offset (byte offset for LC-B bytes) of the problem, or ``None``.
        line: 1-based line of the problem, or ``None``.
        column: 1-based column of the problem, or ``None``.
    """

    def __init__(
        self,
        notation: str,
        message: str,
        src: str | bytes | None = None,
        offset: int | None = None,
    ) -> None:
        super().__init__(notation, message)
        self.notation = notation
        self.message = message
        self.offset = offset
        # line, column and the text are worked out when asked for: free-text scanning
        # (:func:`helixmoe.hlx.find_values`, every routed request) raises and drops thousands of these
        if offset is None:
            src = None
        elif isinstance(src, bytearray):
            src = bytes(src)  # the text is rendered later: keep what the error saw
        self._src = src
        self._where: tuple[int | None, int | None] | None = None if self._src is not None else (None, None)
        self._text: str | None = None

    @property
    def line(self) -> int | None:
        return self._position()[0]

    @property
    def column(self) -> int | None:
        return self._position()[1]

    def _position(self) -> tuple[int | None, int | None]:
        if self._where is None:
            assert self._src is not None and self.offset is not None
            self._where = position(self._src, self.offset)
        return self._where

    def __str__(self) -> str:
        if self._text is None:
            snippet = (
                _snippet(self._src, self.offset) if self._src is not None and self.offset is not None else ""
            )
            self._text = self._render(snippet)
            self._position()
            self._src = None  # the text and the position are worked out: let the source go
        return self._text

    def _render(self, snippet: str) -> str:
        if self.offset is None:
            return f"{self.notation}: {self.message}"
        if self.notation == "lc-b":
            where = f"byte {self.offset}"
        else:
            where = f"line {self.line}, column {self.column}"
        head = f"{self.notation}: {self.message} (at {where})"
        return f"{head}\n{snippet}" if snippet else head

    def __reduce__(self) -> tuple[object, ...]:  # keep the error picklable for multiprocessing
        return (_rebuild, (self.notation, self.message, self.offset, self.line, self.column, str(self)))


def _rebuild(
    notation: str, message: str, offset: int | None, line: int | None, column: int | None, text: str
) -> HLXError:
    err = HLXError(notation, message)
    err.offset, err._where, err._text = offset, (line, column), text
    return err


def _snippet(src: str | bytes, offset: int) -> str:
    if isinstance(src, (bytes, bytearray)):
        lo = max(0, offset - 16)
        chunk = bytes(src[lo : offset + 16])
        caret = 3 * (offset - lo)
        return f"  {chunk.hex(' ')}\n  {' ' * caret}^"
    start = src.rfind("\n", 0, offset) + 1
    end = src.find("\n", offset)
    if end < 0:
        end = len(src)
    lo = max(start, offset - _CONTEXT)
    hi = min(end, offset + _CONTEXT)
    text = src[lo:hi].replace("\t", " ").replace("\r", " ")
    prefix = "…" if lo > start else ""
    suffix = "…" if hi < end else ""
    return f"  {prefix}{text}{suffix}\n  {' ' * (len(prefix) + offset - lo)}^"
