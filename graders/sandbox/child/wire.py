"""Length-prefixed frames: the only format spoken between grader, zygote, supervisor and runner.

A frame is ``PREFIX | header | body``:

* ``PREFIX`` = magic ``b"MLG1"``, header length (u32, big-endian), body length (u64, big-endian);
* ``header`` = a UTF-8 JSON object (small: the schedule, limits, statuses);
* ``body`` = raw bytes, a safetensors blob of tensors or empty.

Readers check both lengths against their caps *before* reading, and reject a frame that stops short or is followed
by extra bytes. Nothing is ever pickled. Standard library only: the grading parent imports this module too.
"""

from __future__ import annotations

import json
import os
import select
import struct
import time
from typing import Any

MAGIC = b"MLG1"
PREFIX = struct.Struct(">4sIQ")
MAX_HEADER = 4 << 20  # 4 MiB: a schedule of a few thousand ops, or a 64 KiB source, fits easily


class FrameError(Exception):
    """The bytes on a channel are not exactly one well-formed frame (or the peer vanished)."""


class FrameTimeout(FrameError):
    """The peer did not send a whole frame before the deadline."""


def encode(header: dict[str, Any], body: bytes = b"") -> bytes:
    """One frame holding ``header`` (as JSON) and ``body``."""
    raw = json.dumps(header, separators=(",", ":"), allow_nan=False).encode("utf-8")
    if len(raw) > MAX_HEADER:
        raise FrameError(f"header of {len(raw)} bytes exceeds {MAX_HEADER}")
    return PREFIX.pack(MAGIC, len(raw), len(body)) + raw + body


def parse_prefix(prefix: bytes, *, max_body: int) -> tuple[int, int]:
    """Header and body lengths from a frame prefix, checked against the caps."""
    if len(prefix) != PREFIX.size:
        raise FrameError(f"frame prefix of {len(prefix)} bytes, expected {PREFIX.size}")
    magic, header_len, body_len = PREFIX.unpack(prefix)
    if magic != MAGIC:
        raise FrameError("bad frame magic")
    if header_len > MAX_HEADER:
        raise FrameError(f"header length {header_len} exceeds {MAX_HEADER}")
    if body_len > max_body:
        raise FrameError(f"body length {body_len} exceeds {max_body}")
    return header_len, body_len


def decode_header(raw: bytes) -> dict[str, Any]:
    """The JSON object of a frame header."""
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise FrameError(f"frame header is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise FrameError("frame header is not a JSON object")
    return header


def split_raw(data: bytes, *, max_body: int) -> tuple[bytes, bytes]:
    """Header bytes and body of ``data``, which must be exactly one frame: no missing and no extra bytes."""
    header_len, body_len = parse_prefix(data[: PREFIX.size], max_body=max_body)
    end = PREFIX.size + header_len + body_len
    if len(data) < end:
        raise FrameError(f"frame stops short: {len(data)} of {end} bytes")
    if len(data) > end:
        raise FrameError(f"{len(data) - end} extra bytes after the frame")
    return data[PREFIX.size : PREFIX.size + header_len], data[PREFIX.size + header_len :]


def split(data: bytes, *, max_body: int) -> tuple[dict[str, Any], bytes]:
    """Decode ``data`` that must be exactly one frame (see :func:`split_raw`)."""
    raw_header, body = split_raw(data, max_body=max_body)
    return decode_header(raw_header), body


def split_stream(data: bytes, *, max_body: int) -> list[tuple[dict[str, Any], bytes]]:
    """Decode ``data`` that must be whole frames back to back (the zygote's relay pipe)."""
    frames = []
    offset = 0
    while offset < len(data):
        header_len, body_len = parse_prefix(data[offset : offset + PREFIX.size], max_body=max_body)
        end = offset + PREFIX.size + header_len + body_len
        if end > len(data):
            raise FrameError(f"frame stops short: {len(data) - offset} of {end - offset} bytes")
        frames.append(split(data[offset:end], max_body=max_body))
        offset = end
    return frames


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` to ``fd`` (blocking)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def read_exact(fd: int, size: int, deadline: float | None = None) -> bytes:
    """Exactly ``size`` bytes from ``fd``; ``FrameError`` on EOF, ``FrameTimeout`` past ``deadline`` (monotonic)."""
    chunks: list[bytes] = []
    remaining = size
    poller = select.poll() if deadline is not None else None
    if poller is not None:
        poller.register(fd, select.POLLIN)
    while remaining:
        if poller is not None and deadline is not None:
            left_ms = int((deadline - time.monotonic()) * 1000)
            if left_ms <= 0 or not poller.poll(left_ms):
                raise FrameTimeout(
                    f"no complete frame before the deadline ({size - remaining} of {size} bytes)"
                )
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise FrameError(f"channel closed after {size - remaining} of {size} bytes")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int, *, max_body: int, deadline: float | None = None) -> tuple[dict[str, Any], bytes]:
    """Read one frame from a stream, checking each length before reading what it announces."""
    header_len, body_len = parse_prefix(read_exact(fd, PREFIX.size, deadline), max_body=max_body)
    header = decode_header(read_exact(fd, header_len, deadline))
    return header, read_exact(fd, body_len, deadline)


def pending(fd: int) -> bool:
    """Whether ``fd`` has bytes (or EOF) waiting right now; used to reject data after a complete answer."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))
