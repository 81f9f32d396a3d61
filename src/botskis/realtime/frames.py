"""WebSocket frames built once per event instead of once per socket.

A server-to-client text frame (RFC 6455: not masked) is the same bytes for every
socket that gets the event, so the hub serialises it once and each socket's
direct writer (api/websocket.py) writes those bytes as they are.
"""

from __future__ import annotations

from websockets.frames import Frame, Opcode


def text_frame(text: str) -> bytes:
    """One complete, unfragmented, uncompressed text frame as a server sends it."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False, extensions=[])
