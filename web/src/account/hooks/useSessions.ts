import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../../api/client";
import { unwrap } from "../../api/problem";

export const SESSIONS_KEY = ["sessions"] as const;

/** The account's signed-in sessions, and the two ways to end them. */
export function useSessions() {
  const client = useQueryClient();
  const sessions = useQuery({ queryKey: SESSIONS_KEY, queryFn: () => unwrap(api.GET("/api/v1/users/me/sessions")) });
  const settled = () => client.invalidateQueries({ queryKey: SESSIONS_KEY });
  const revoke = useMutation({
    mutationFn: (id: string) => unwrap(api.DELETE("/api/v1/users/me/sessions/{session_id}", { params: { path: { session_id: id } } })),
    onSettled: settled,
  });
  const revokeOthers = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/users/me/sessions/revoke-others")),
    onSettled: settled,
  });
  return { sessions, revoke, revokeOthers };
}
