"""Live messages written straight to a socket's transport (no task wake-up per
socket): only when nothing is queued before them, and never around push-back."""

from __future__ import annotations

import json
import uuid

from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from botskis.realtime.frames import text_frame
from botskis.realtime.hub import Connection


def parse(data: bytes) -> list[str]:
    """Server frames back into texts, parsed by the websockets library itself."""
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    texts = []
    while reader.buffer:
        parser = Frame.parse(reader.read_exact, mask=False)
        try:
            next(parser)
        except StopIteration as done:
            frame: Frame = done.value
            assert frame.opcode is Opcode.TEXT and frame.fin
            texts.append(frame.data.decode())
    return texts


class Transport:
    def __init__(self) -> None:
        self.written = b""
        self.accepting = True

    def write(self, frame: bytes) -> bool:
        if not self.accepting:
            return False
        self.written += frame
        return True


def test_text_frames_round_trip_at_every_length_encoding() -> None:
    texts = ["", "x" * 125, "y" * 126, "é" * 40_000, json.dumps({"type": "pong", "seq": 3})]
    assert parse(b"".join(text_frame(t) for t in texts)) == texts


def test_live_messages_go_straight_out_while_nothing_is_queued() -> None:
    transport = Transport()
    conn = Connection(user_id=uuid.uuid4(), queue_limit=10, write_now=transport.write)
    conn.offer("one")
    conn.offer("two", frame=text_frame("two"))
    assert parse(transport.written) == ["one", "two"]
    assert conn.queue.empty()


def test_once_something_is_queued_later_messages_queue_behind_it() -> None:
    transport = Transport()
    conn = Connection(user_id=uuid.uuid4(), queue_limit=10, write_now=transport.write)
    transport.accepting = False  # the transport pushes back: the message queues
    conn.offer("first")
    transport.accepting = True
    conn.offer("second")  # must not overtake "first"
    conn.offer("replayed", replay=True)
    assert transport.written == b""
    assert [conn.queue.get_nowait()[0] for _ in range(3)] == ["first", "second", "replayed"]
    conn.busy = True  # the send loop is inside a send that suspended
    conn.offer("third")
    assert transport.written == b""
    assert conn.queue.get_nowait()[0] == "third"


def test_push_back_still_ends_in_1013_at_the_queue_bound() -> None:
    transport = Transport()
    transport.accepting = False
    conn = Connection(user_id=uuid.uuid4(), queue_limit=2, write_now=transport.write)
    for index in range(3):
        conn.offer(f"m{index}")
    assert conn.close_code == 1013
    conn.offer("after close")
    assert transport.written == b"" and conn.queue.empty()
