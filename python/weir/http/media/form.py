"""An incremental multipart/form-data rewriter: the client's `model` field is taken out (its value kept) and every
other byte is passed on as it arrives, so an upload never has to be parsed whole or held in memory.

The body is scanned as if it began with CRLF, so every delimiter reads `CRLF--boundary` (RFC 2046 lets the first
one open the body without its CRLF). A part is then "its delimiter + its headers + its content", and dropping
whole parts leaves a valid body. The endpoint puts Weir's own `model` part (`model_part`) in front; the output of
the scanner always starts with a delimiter, so the two join up. The preamble and the client's `model` part are the
only bytes withheld; `withheld` counts them so that the upstream's Content-Length can be computed exactly.

The scanner also remembers the first bytes and the size of the first file part (a WAV header is enough to measure
the audio when the upstream does not say how long it was).
"""

from __future__ import annotations

from weir.errors import InvalidRequest, UnsupportedMediaType

MAX_HEADER_BYTES = 16 * 1024  # the headers of one part
MAX_MODEL_BYTES = 1024
FILE_HEAD_BYTES = 4096

_PREAMBLE, _DELIMITER, _CONTENT, _EPILOGUE = range(4)


def boundary_of(content_type: bytes | None) -> bytes:
    """The boundary of a multipart/form-data Content-Type; 415 for any other type."""
    kind, _, params = (content_type or b"").partition(b";")
    if kind.strip().lower() != b"multipart/form-data":
        shown = kind.strip().decode("latin-1") or "none"
        raise UnsupportedMediaType(f"This endpoint takes multipart/form-data, not {shown}.")
    boundary = header_params(params).get("boundary", "")
    if not 0 < len(boundary) <= 70:
        raise InvalidRequest("The multipart/form-data Content-Type has no valid boundary parameter.")
    return boundary.encode("latin-1")


def model_part(boundary: bytes, model: str) -> bytes:
    """The `model` field Weir sends first: a delimiter, its headers and the value, without a trailing CRLF (the
    scanner's output starts with one)."""
    head = b'--%s\r\nContent-Disposition: form-data; name="model"\r\n\r\n' % boundary
    return head + model.encode()


def header_params(raw: bytes) -> dict[str, str]:
    """`; name="a;b"; filename=x` -> {"name": "a;b", "filename": "x"}: quoted values may hold ';' and '\\"'."""
    params: dict[str, str] = {}
    text = raw.decode("utf-8", "replace")
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in "; \t":
            i += 1
        eq = text.find("=", i)
        if eq < 0:
            break
        key = text[i:eq].strip().lower()
        i = eq + 1
        if i < n and text[i] == '"':
            i += 1
            value = []
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                value.append(text[i])
                i += 1
            i += 1
            params[key] = "".join(value)
        else:
            end = text.find(";", i)
            end = n if end < 0 else end
            params[key] = text[i:end].strip()
            i = end
    return params


class FormScanner:
    """`feed(chunk)` returns the bytes to forward now; `finish()` checks the body ended properly."""

    def __init__(self, boundary: bytes) -> None:
        self.boundary = boundary
        self.delimiter = b"\r\n--" + boundary
        self._buf = bytearray(b"\r\n")  # the virtual CRLF (see the module docstring)
        self._state = _PREAMBLE
        self._in_model = False
        self._in_file = False
        self._value = bytearray()
        self.model: str | None = None  # the client's `model` field, once its part has ended
        self.withheld = 0  # bytes of the (virtual) body not forwarded: the preamble and the model part
        self.file_head = bytearray()  # the first FILE_HEAD_BYTES of the first file part
        self.file_bytes = 0  # its size
        self._files = 0

    def feed(self, chunk: bytes) -> bytes:
        self._buf += chunk
        out = bytearray()
        keep = len(self.delimiter) - 1  # a delimiter may be split across chunks: hold back what could start one
        while True:
            buf = self._buf
            if self._state == _EPILOGUE:
                out += buf
                buf.clear()
                return bytes(out)
            if self._state == _DELIMITER:
                if not self._part_start(out):
                    return bytes(out)
                continue
            at = buf.find(self.delimiter)
            end = at if at >= 0 else max(0, len(buf) - keep)
            if end:
                self._content(buf[:end], out)
                del buf[:end]
            if at < 0:
                return bytes(out)
            if self._state == _CONTENT:
                self._part_end()
            self._state = _DELIMITER

    def finish(self) -> None:
        if self._state != _EPILOGUE:
            raise InvalidRequest("The multipart body ended before its closing boundary.")

    def _content(self, data: bytearray, out: bytearray) -> None:
        if self._state == _PREAMBLE:
            self.withheld += len(data)
        elif self._in_model:
            self.withheld += len(data)
            self._value += data
            if len(self._value) > MAX_MODEL_BYTES:
                raise InvalidRequest("The form's 'model' field is too long.", param="model")
        else:
            out += data
            if self._in_file:
                self.file_bytes += len(data)
                room = FILE_HEAD_BYTES - len(self.file_head)
                if room > 0:
                    self.file_head += data[:room]

    def _part_end(self) -> None:
        if self._in_model:
            value = bytes(self._value).decode("utf-8", "replace").strip()
            if not value:
                raise InvalidRequest("The form's 'model' field is empty.", param="model")
            self.model = value
        self._in_model = self._in_file = False

    def _part_start(self, out: bytearray) -> bool:
        """At a delimiter: the closing one, or a part whose headers are complete. False: more bytes needed."""
        buf = self._buf
        after = len(self.delimiter)
        if len(buf) < after + 2:
            return False
        if buf[after : after + 2] == b"--":
            out += buf
            buf.clear()
            self._state = _EPILOGUE
            return True
        head_end = buf.find(b"\r\n\r\n", after)
        if head_end < 0:
            if len(buf) > MAX_HEADER_BYTES:
                raise InvalidRequest("A part of the multipart body has headers over 16 KiB.")
            return False
        name, filename = _disposition(bytes(buf[after:head_end]))
        head = buf[: head_end + 4]
        if name == "model":
            if self.model is not None:
                raise InvalidRequest("The form has more than one 'model' field.", param="model")
            self._in_model = True
            self.withheld += len(head)
        else:
            out += head
            self._in_file = filename is not None and self._files == 0
            self._files += filename is not None
        del buf[: head_end + 4]
        self._state = _CONTENT
        return True


def _disposition(headers: bytes) -> tuple[str | None, str | None]:
    """(name, filename) from a part's Content-Disposition header."""
    for line in headers.split(b"\r\n"):
        key, _, value = line.partition(b":")
        if key.strip().lower() == b"content-disposition":
            _, _, rest = value.partition(b";")
            params = header_params(rest)
            return params.get("name"), params.get("filename")
    return None, None
