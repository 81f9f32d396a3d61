/**
 * The dashboard's one WebSocket to `/ws/{user_id}`, shared by every page.
 *
 * It reconnects with exponential backoff and jitter, re-sends the agent
 * subscriptions and then `resume`s from the last seq it processed, so the server
 * replays exactly the events this socket missed. Subscriptions go first because
 * the server replays only what the socket wants at that moment. Events whose seq
 * is not above the last one processed are dropped, so a replay that overlaps
 * live delivery never shows a step twice. The browser's session cookie
 * authenticates the socket; no token is kept in JavaScript.
 */

export const EVENT_TYPES = ["agent_update", "run_update", "notification", "system_update"] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface ServerMessage {
  type: string;
  seq: number;
  timestamp: string;
  agent_id?: string;
  run_id?: string;
  status?: string;
  step?: { id: string; status: string };
  data?: Record<string, unknown>;
  detail?: string;
  [field: string]: unknown;
}

export type ConnectionState = "connecting" | "open" | "reconnecting" | "stopped";

export interface Backoff {
  initialMs: number;
  maxMs: number;
  /** 0..1: how much of each delay is random, so many tabs do not reconnect in step. */
  jitter: number;
}

export interface LiveOptions {
  url: string;
  backoff?: Backoff;
  createSocket?: (url: string) => WebSocket;
  random?: () => number;
  schedule?: (fn: () => void, ms: number) => unknown;
  cancel?: (handle: unknown) => void;
}

type Listener = (message: ServerMessage) => void;
type StateListener = (state: ConnectionState) => void;

const DEFAULT_BACKOFF: Backoff = { initialMs: 500, maxMs: 15_000, jitter: 0.3 };
const EVENTS = new Set<string>(EVENT_TYPES);

export class LiveConnection {
  lastSeq = 0;
  /** True once a first `connected` fixed where this client's events start. */
  synced = false;
  state: ConnectionState = "stopped";
  attempt = 0;

  private socket: WebSocket | null = null;
  private retryHandle: unknown = null;
  private readonly agents = new Map<string, number>();
  private readonly listeners = new Set<Listener>();
  private readonly stateListeners = new Set<StateListener>();
  private readonly options: Required<LiveOptions>;

  constructor(options: LiveOptions) {
    this.options = {
      backoff: DEFAULT_BACKOFF,
      createSocket: (url) => new WebSocket(url),
      random: Math.random,
      schedule: (fn, ms) => setTimeout(fn, ms),
      cancel: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
      ...options,
    };
  }

  start(): void {
    if (this.state !== "stopped") return;
    this.open("connecting");
  }

  stop(): void {
    this.setState("stopped");
    if (this.retryHandle !== null) this.options.cancel(this.retryHandle);
    this.retryHandle = null;
    const socket = this.socket;
    this.socket = null;
    socket?.close(1000, "bye");
  }

  /** Every event and reply this connection receives (events once each, in seq order). */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onState(listener: StateListener): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Ask for an agent's run events; reference-counted across pages, kept across reconnects. */
  watchAgent(agentId: string): () => void {
    const count = this.agents.get(agentId) ?? 0;
    this.agents.set(agentId, count + 1);
    if (count === 0) this.send({ type: "subscribe_agent", agent_id: agentId });
    return () => {
      const left = (this.agents.get(agentId) ?? 1) - 1;
      if (left > 0) {
        this.agents.set(agentId, left);
        return;
      }
      this.agents.delete(agentId);
      this.send({ type: "unsubscribe_agent", agent_id: agentId });
    };
  }

  /** The wait before reconnect attempt `attempt` (1-based): doubling, capped, with jitter. */
  delayFor(attempt: number): number {
    const { initialMs, maxMs, jitter } = this.options.backoff;
    const base = Math.min(maxMs, initialMs * 2 ** (attempt - 1));
    return Math.round(base * (1 - jitter + jitter * this.options.random()));
  }

  private send(message: Record<string, unknown>): void {
    if (this.socket && this.socket.readyState === 1) this.socket.send(JSON.stringify(message));
  }

  private setState(state: ConnectionState): void {
    if (this.state === state) return;
    this.state = state;
    this.stateListeners.forEach((listener) => listener(state));
  }

  private open(state: ConnectionState): void {
    this.setState(state);
    const socket = this.options.createSocket(this.options.url);
    this.socket = socket;
    socket.onmessage = (event) => {
      if (this.socket !== socket) return;
      this.receive(typeof event.data === "string" ? event.data : "");
    };
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.state === "stopped") return;
      this.attempt += 1;
      this.setState("reconnecting");
      this.retryHandle = this.options.schedule(() => {
        this.retryHandle = null;
        if (this.state !== "stopped") this.open("reconnecting");
      }, this.delayFor(this.attempt));
    };
  }

  private receive(text: string): void {
    let message: ServerMessage;
    try {
      message = JSON.parse(text) as ServerMessage;
    } catch {
      return;
    }
    if (message.type === "connected") {
      this.attempt = 0;
      this.setState("open");
      this.agents.forEach((_, agentId) => this.send({ type: "subscribe_agent", agent_id: agentId }));
      if (this.synced) this.send({ type: "resume", since_seq: this.lastSeq });
      else this.lastSeq = message.seq;
      this.synced = true;
    } else if (message.type === "resync_required") {
      // Some events are gone from the server's log: pages reload over HTTP.
      this.lastSeq = message.seq;
    } else if (EVENTS.has(message.type)) {
      if (message.seq <= this.lastSeq) return;
      this.lastSeq = message.seq;
    }
    this.listeners.forEach((listener) => listener(message));
  }
}

/** ws(s)://<this origin>/ws/<user id>. */
export function socketUrl(userId: string, location: Location = window.location): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws/${userId}`;
}
