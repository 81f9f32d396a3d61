import { useQuery } from "@tanstack/react-query";
import { api } from "../../api/client";
import { unwrap } from "../../api/problem";

export const NOTIFICATIONS_KEY = ["notifications"] as const;

/** The unread count; a `notification` event on the live socket invalidates it. */
export function useUnreadCount(): number {
  const query = useQuery({
    queryKey: [...NOTIFICATIONS_KEY, "unread"],
    queryFn: () => unwrap(api.GET("/api/v1/notifications", { params: { query: { unread: true, limit: 1 } } })),
  });
  return query.data?.total ?? 0;
}
