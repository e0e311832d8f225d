"""Streaming multipart upload -> one temporary file, with a size limit. No web framework needed here.

The request body is fed chunk by chunk to :class:`UploadReceiver`; the bytes of the file field go straight to
a file on disk (never all in memory), and the moment the file passes ``max_bytes`` an :class:`UploadError`
(413) is raised so the caller stops reading. The client's file name is only kept, sanitised, for display.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

#: the multipart field that carries the video
FILE_FIELD = "file"
#: bytes of multipart framing (boundaries, part headers, small extra fields) allowed beyond the file limit
MULTIPART_OVERHEAD_BYTES = 64 * 1024
#: all non-file fields together may hold at most this many bytes (they are read and ignored)
MAX_OTHER_FIELD_BYTES = 16 * 1024
#: at most this many parts in one request
MAX_PARTS = 16
#: display names are cut to this many characters
MAX_DISPLAY_NAME = 120
#: used when the client sends no usable file name
DEFAULT_DISPLAY_NAME = "upload"
#: characters kept in a display name (everything else becomes "_")
_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9._()\- ]")
#: a temporary file keeps the client's extension only when it matches this (helps the demuxer; never a path)
_SAFE_SUFFIX = re.compile(r"^\.[A-Za-z0-9]{1,8}$")
BYTES_PER_MB = 1024 * 1024


class UploadError(Exception):
    """An upload that cannot be accepted: HTTP ``status``, machine-readable ``reason``, human ``message``."""

    def __init__(self, status: int, reason: str, message: str):
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


def display_name(filename: str | None) -> str:
    """The client's file name made safe to show and to put in JSON: last path component only, printable
    ASCII letters/digits/``._()- `` (others -> ``_``), at most MAX_DISPLAY_NAME characters. Never a path."""
    if not filename:
        return DEFAULT_DISPLAY_NAME
    name = re.split(r"[\\/]", str(filename))[-1]
    name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    name = _UNSAFE_NAME_CHARS.sub("_", name).strip(" .")
    if len(name) > MAX_DISPLAY_NAME:
        stem, dot, ext = name.rpartition(".")
        ext = ext if dot and len(ext) <= 8 else ""
        name = name[: MAX_DISPLAY_NAME - len(ext) - 1] + ("." + ext if ext else "")
    return name or DEFAULT_DISPLAY_NAME


def safe_suffix(filename: str | None) -> str:
    """``.mp4``-style extension of the client's name when it is plain alphanumeric, else ``""``."""
    suffix = Path(display_name(filename)).suffix.lower()
    return suffix if _SAFE_SUFFIX.match(suffix) else ""


def too_large(max_bytes: int) -> UploadError:
    return UploadError(413, "too-large", f"upload exceeds the limit of {max_bytes / BYTES_PER_MB:g} MB")


def check_content_length(value: str | None, max_bytes: int) -> None:
    """Refuse before reading when the declared body is bigger than the file limit plus framing."""
    if value is None:
        return
    try:
        n = int(value)
    except ValueError:
        raise UploadError(400, "bad-request", f"invalid Content-Length header: {value!r}") from None
    if n < 0:
        raise UploadError(400, "bad-request", f"invalid Content-Length header: {value!r}")
    if n > max_bytes + MULTIPART_OVERHEAD_BYTES:
        raise too_large(max_bytes)


@dataclass
class ReceivedFile:
    path: Path  # the temporary file (server-chosen name)
    size: int  # bytes
    filename: str  # sanitised display name
    content_type: str | None  # as declared by the client (not trusted)


class UploadReceiver:
    """Incremental ``multipart/form-data`` parser writing the ``field`` part to ``dest``.

    ``feed(chunk)`` for each body chunk, then ``finish()``. Raises :class:`UploadError`: 415 not multipart,
    400 malformed / missing field / more than one file, 413 over ``max_bytes``. ``dest`` is created on the
    first byte of the file part; the caller owns and removes it (and its folder) whatever happens.
    """

    def __init__(self, content_type: str | None, dest: Path, max_bytes: int, field: str = FILE_FIELD):
        from python_multipart.multipart import MultipartParser, parse_options_header

        mime, params = parse_options_header(content_type or "")
        if mime != b"multipart/form-data":
            raise UploadError(415, "unsupported-media-type",
                              f"send multipart/form-data with the video in the '{field}' field "
                              f"(got Content-Type {content_type!r})")
        boundary = params.get(b"boundary")
        if not boundary:
            raise UploadError(400, "bad-request", "multipart body without a boundary")
        self.dest = Path(dest)
        self.max_bytes = int(max_bytes)
        self.field = field
        self._parse_options_header = parse_options_header
        self._fh = None
        self._size = 0
        self._other_bytes = 0
        self._body_bytes = 0
        self._parts = 0
        self._found = False
        self._in_file = False
        self._filename: str | None = None
        self._ctype: str | None = None
        self._hname = b""
        self._hvalue = b""
        self._headers: dict[bytes, bytes] = {}
        self._done = False
        callbacks = {
            "on_part_begin": self._part_begin, "on_part_data": self._part_data, "on_part_end": self._part_end,
            "on_header_field": self._header_field, "on_header_value": self._header_value,
            "on_header_end": self._header_end, "on_headers_finished": self._headers_finished, "on_end": self._end,
        }
        self._parser = MultipartParser(boundary, callbacks)

    # ------------------------------------------------------------------ callbacks
    def _part_begin(self):
        self._parts += 1
        if self._parts > MAX_PARTS:
            raise UploadError(400, "bad-request", f"too many multipart parts (> {MAX_PARTS})")
        self._headers = {}
        self._in_file = False

    def _header_field(self, data, start, end):
        self._hname += data[start:end]

    def _header_value(self, data, start, end):
        self._hvalue += data[start:end]

    def _header_end(self):
        self._headers[self._hname.lower()] = self._hvalue
        self._hname, self._hvalue = b"", b""

    def _headers_finished(self):
        _, options = self._parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name")
        if name is None:
            raise UploadError(400, "bad-request", "a multipart part has no name")
        if name.decode("latin-1") != self.field:
            if b"filename" in options:  # a file in another field: say where it belongs
                raise UploadError(400, "missing-field", f"unexpected file field {display_name(name.decode('latin-1'))!r}: "
                                                        f"send the video in the '{self.field}' field")
            return
        if self._found:
            raise UploadError(400, "too-many-files", f"send exactly one file in the '{self.field}' field")
        self._found = True
        self._in_file = True
        raw_name = options.get(b"filename")
        self._filename = raw_name.decode("utf-8", "replace") if raw_name is not None else None
        ctype = self._headers.get(b"content-type")
        self._ctype = ctype.decode("latin-1")[:100] if ctype else None
        self._fh = open(self.dest, "wb")  # noqa: SIM115 - closed in _part_end / close()

    def _part_data(self, data, start, end):
        n = end - start
        if self._in_file:
            self._size += n
            if self._size > self.max_bytes:
                raise too_large(self.max_bytes)
            self._fh.write(data[start:end])
        else:
            self._other_bytes += n
            if self._other_bytes > MAX_OTHER_FIELD_BYTES:
                raise UploadError(413, "too-large", f"non-file fields exceed {MAX_OTHER_FIELD_BYTES} bytes")

    def _part_end(self):
        if self._in_file and self._fh is not None:
            self._fh.close()
        self._in_file = False

    def _end(self):
        self._done = True

    # ------------------------------------------------------------------ API
    def feed(self, chunk: bytes) -> None:
        from python_multipart.exceptions import FormParserError

        self._body_bytes += len(chunk)
        if self._body_bytes > self.max_bytes + MULTIPART_OVERHEAD_BYTES:
            raise too_large(self.max_bytes)
        try:
            self._parser.write(chunk)
        except FormParserError as exc:
            raise UploadError(400, "bad-request", f"malformed multipart body: {exc}") from None

    def finish(self) -> ReceivedFile:
        from python_multipart.exceptions import FormParserError

        try:
            self._parser.finalize()
        except FormParserError as exc:
            raise UploadError(400, "bad-request", f"malformed multipart body: {exc}") from None
        finally:
            self.close()
        if not self._done:
            raise UploadError(400, "bad-request", "incomplete multipart body (no closing boundary)")
        if not self._found:
            raise UploadError(400, "missing-field", f"no '{self.field}' field in the upload (send the video as "
                                                    f"multipart field '{self.field}')")
        if self._size == 0:
            raise UploadError(400, "empty-file", "the uploaded file is empty (0 bytes)")
        return ReceivedFile(self.dest, self._size, display_name(self._filename), self._ctype)

    def close(self) -> None:
        if self._fh is not None and not self._fh.closed:
            self._fh.close()
