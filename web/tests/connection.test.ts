import { describe, expect, it } from "vitest";
import { LiveConnection, type ServerMessage } from "../src/live/connection";

/** A WebSocket stand-in the test drives: what the client sent, and server frames on demand. */
class FakeSocket {
  readyState = 0;
  sent: Record<string, unknown>[] = [];
  onmessage: ((event: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  constructor(readonly url: string) {}
  send(text: string) {
    this.sent.push(JSON.parse(text));
  }
  close() {
    this.readyState = 3;
    this.onclose?.();
  }
  open(seq: number) {
    this.readyState = 1;
    this.push({ type: "connected", seq, user_id: "u1" });
  }
  push(message: Record<string, unknown>) {
    this.onmessage?.({ data: JSON.stringify({ timestamp: "2026-01-01T00:00:00Z", ...message }) });
  }
  drop() {
    this.readyState = 3;
    this.onclose?.();
  }
}

function setup() {
  const sockets: FakeSocket[] = [];
  const timers: { fn: () => void; ms: number }[] = [];
  const connection = new LiveConnection({
    url: "ws://test/ws/u1",
    backoff: { initialMs: 100, maxMs: 1000, jitter: 0 },
    createSocket: (url) => {
      const socket = new FakeSocket(url);
      sockets.push(socket);
      return socket as unknown as WebSocket;
    },
    schedule: (fn, ms) => timers.push({ fn, ms }),
    cancel: () => undefined,
  });
  const received: ServerMessage[] = [];
  connection.subscribe((m) => received.push(m));
  return { connection, sockets, timers, received, steps: () => received.filter((m) => m.type === "run_update").map((m) => m.step?.id) };
}

const step = (seq: number, id: string) => ({ type: "run_update", seq, agent_id: "a1", run_id: "r1", status: "running", step: { id, status: "succeeded" } });

describe("LiveConnection", () => {
  it("reconnects with doubling delays capped at the maximum, and resets after a connect", () => {
    const { connection, sockets, timers } = setup();
    connection.start();
    for (let i = 0; i < 5; i++) {
      sockets.at(-1)!.drop();
      timers.at(-1)!.fn();
    }
    expect(timers.map((t) => t.ms)).toEqual([100, 200, 400, 800, 1000]);
    sockets.at(-1)!.open(0);
    sockets.at(-1)!.drop();
    expect(timers.at(-1)!.ms).toBe(100);
  });

  it("adds jitter below the base delay so tabs do not reconnect in step", () => {
    const connection = new LiveConnection({ url: "x", backoff: { initialMs: 1000, maxMs: 8000, jitter: 0.5 }, random: () => 0 });
    expect(connection.delayFor(1)).toBe(500);
    expect(connection.delayFor(4)).toBe(4000);
  });

  it("resubscribes, then resumes from the last seq it processed", () => {
    const { connection, sockets, timers, steps } = setup();
    connection.start();
    connection.watchAgent("a1");
    sockets[0].open(10);
    // Watched before the socket opened: the subscription goes out on connect.
    expect(sockets[0].sent).toEqual([{ type: "subscribe_agent", agent_id: "a1" }]);
    sockets[0].push(step(11, "fetch"));
    sockets[0].drop();
    timers[0].fn();
    sockets[1].open(13);
    expect(sockets[1].sent).toEqual([
      { type: "subscribe_agent", agent_id: "a1" },
      { type: "resume", since_seq: 11 },
    ]);
    // The server replays 12 and 13, then sends 14 live.
    sockets[1].push(step(12, "classify"));
    sockets[1].push(step(13, "notify"));
    sockets[1].push(step(14, "done"));
    expect(steps()).toEqual(["fetch", "classify", "notify", "done"]);
  });

  it("shows no step twice when a replay overlaps what already arrived", () => {
    const { connection, sockets, timers, steps } = setup();
    connection.start();
    sockets[0].open(0);
    sockets[0].push(step(1, "a"));
    sockets[0].push(step(2, "b"));
    sockets[0].drop();
    timers[0].fn();
    sockets[1].open(3);
    sockets[1].push(step(2, "b"));
    sockets[1].push(step(3, "c"));
    sockets[1].push(step(3, "c"));
    expect(steps()).toEqual(["a", "b", "c"]);
    expect(connection.lastSeq).toBe(3);
  });

  it("resumes from the start when it dropped before any event arrived", () => {
    const { connection, sockets, timers, steps } = setup();
    connection.start();
    sockets[0].open(5);
    sockets[0].drop();
    timers[0].fn();
    sockets[1].open(6);
    expect(sockets[1].sent).toEqual([{ type: "resume", since_seq: 5 }]);
    sockets[1].push(step(6, "missed-while-away"));
    expect(steps()).toEqual(["missed-while-away"]);
  });

  it("takes the server's seq after resync_required and lets pages reload", () => {
    const { connection, sockets, received } = setup();
    connection.start();
    sockets[0].open(2);
    sockets[0].push({ type: "resync_required", seq: 900, detail: "gone" });
    expect(connection.lastSeq).toBe(900);
    expect(received.map((m) => m.type)).toEqual(["connected", "resync_required"]);
  });

  it("counts subscriptions so one page leaving does not unsubscribe another", () => {
    const { connection, sockets } = setup();
    connection.start();
    sockets[0].open(0);
    const first = connection.watchAgent("a1");
    const second = connection.watchAgent("a1");
    first();
    second();
    expect(sockets[0].sent).toEqual([
      { type: "subscribe_agent", agent_id: "a1" },
      { type: "unsubscribe_agent", agent_id: "a1" },
    ]);
  });

  it("stops for good: no reconnect after stop()", () => {
    const { connection, sockets, timers } = setup();
    connection.start();
    sockets[0].open(0);
    connection.stop();
    expect(timers).toEqual([]);
    expect(connection.state).toBe("stopped");
  });
});
