/**
 * Holds the one LiveConnection for the logged-in user and turns account-wide
 * events into cache invalidations, so every page that shows agents or
 * notifications stays current without its own socket.
 */
import { useQueryClient } from "@tanstack/react-query";
import { createContext, useContext, useEffect, useMemo, useSyncExternalStore, type ReactNode } from "react";
import { LiveConnection, socketUrl, type ConnectionState, type ServerMessage } from "./connection";

const LiveContext = createContext<LiveConnection | null>(null);

/**
 * Always in the tree, with or without a user: wrapping the pages only once the
 * session loads would remount them, and a form would lose what was typed in it.
 * A new user gets a new connection.
 */
export function LiveProvider({ userId, children }: { userId: string | null; children: ReactNode }) {
  const client = useQueryClient();
  const connection = useMemo(() => (userId ? new LiveConnection({ url: socketUrl(userId) }) : null), [userId]);

  useEffect(() => {
    if (!connection) return undefined;
    let first = true;
    const off = connection.subscribe((message) => {
      switch (message.type) {
        case "connected":
          // After a reconnect, whatever a page shows is refreshed once over HTTP.
          if (!first) void client.invalidateQueries();
          first = false;
          break;
        case "resync_required":
          void client.invalidateQueries();
          break;
        case "agent_update":
          void client.invalidateQueries({ queryKey: ["agents"] });
          void client.invalidateQueries({ queryKey: ["usage"] });
          break;
        case "notification":
          void client.invalidateQueries({ queryKey: ["notifications"] });
          break;
        case "run_update":
          if (message.agent_id && !message.step) {
            void client.invalidateQueries({ queryKey: ["agents", message.agent_id] });
            void client.invalidateQueries({ queryKey: ["agents", "list"] });
          }
          break;
      }
    });
    connection.start();
    return () => {
      off();
      connection.stop();
    };
  }, [client, connection]);

  return <LiveContext.Provider value={connection}>{children}</LiveContext.Provider>;
}

export function useLive(): LiveConnection {
  const connection = useContext(LiveContext);
  if (!connection) throw new Error("useLive outside LiveProvider");
  return connection;
}

/** Calls `listener` for every message while the component is mounted. */
export function useLiveMessages(listener: (message: ServerMessage) => void): void {
  const connection = useLive();
  useEffect(() => connection.subscribe(listener), [connection, listener]);
}

/** Receive this agent's run events while mounted (subscriptions are shared). */
export function useWatchAgent(agentId: string | undefined): void {
  const connection = useLive();
  useEffect(() => (agentId ? connection.watchAgent(agentId) : undefined), [connection, agentId]);
}

/** Run events of every agent a list shows, so its counters and last run stay current. */
export function useWatchAgents(agentIds: string[]): void {
  const connection = useLive();
  const key = [...agentIds].sort().join(",");
  useEffect(() => {
    const stops = key ? key.split(",").map((id) => connection.watchAgent(id)) : [];
    return () => stops.forEach((stop) => stop());
  }, [connection, key]);
}

export function useLiveState(): ConnectionState {
  const connection = useLive();
  return useSyncExternalStore(
    (notify) => connection.onState(notify),
    () => connection.state,
  );
}
