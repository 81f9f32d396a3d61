import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router";
import { api } from "../../api/client";
import { unwrap } from "../../api/problem";
import { ProblemAlert } from "../../app/components/ProblemAlert";
import { when } from "../../app/components/format";
import { usePageTitle } from "../../app/components/usePageTitle";
import { NOTIFICATIONS_KEY } from "../hooks/useUnreadCount";

export default function NotificationsPage() {
  usePageTitle("Notifications");
  const client = useQueryClient();
  const [unreadOnly, setUnreadOnly] = useState(false);
  const list = useQuery({
    queryKey: [...NOTIFICATIONS_KEY, "list", unreadOnly],
    queryFn: () => unwrap(api.GET("/api/v1/notifications", { params: { query: { unread: unreadOnly, limit: 100 } } })),
  });
  const refresh = () => client.invalidateQueries({ queryKey: NOTIFICATIONS_KEY });
  const readOne = useMutation({
    mutationFn: (id: string) => unwrap(api.POST("/api/v1/notifications/{notification_id}/read", { params: { path: { notification_id: id } } })),
    onSuccess: refresh,
  });
  const readAll = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/notifications/read-all")),
    onSuccess: refresh,
  });
  const items = list.data?.items ?? [];
  return (
    <section aria-labelledby="notifications-title">
      <h1 id="notifications-title">Notifications</h1>
      <div className="toolbar">
        <label>
          <input type="checkbox" checked={unreadOnly} onChange={(e) => setUnreadOnly(e.target.checked)} /> Unread only
        </label>
        <button type="button" onClick={() => readAll.mutate()} disabled={readAll.isPending}>
          Mark all as read
        </button>
      </div>
      <ProblemAlert error={list.error ?? readAll.error ?? readOne.error} />
      {list.isPending ? <p role="status">Loading...</p> : null}
      {!list.isPending && items.length === 0 ? <p>No notifications.</p> : null}
      <ul className="cards">
        {items.map((n) => (
          <li key={n.id} className={`card level-${n.level}`}>
            <h2 className="card-title">
              {n.title} <span className="tag">{n.level}</span> {n.read_at ? <span className="tag">read</span> : <span className="tag">unread</span>}
            </h2>
            <p>{n.message}</p>
            <p className="muted">
              {when(n.created_at)}
              {n.agent_id ? (
                <>
                  {" "}
                  - <Link to={`/agents/${n.agent_id}`}>Open the agent</Link>
                </>
              ) : null}
            </p>
            {!n.read_at ? (
              <button type="button" onClick={() => readOne.mutate(n.id)}>
                Mark "{n.title}" as read
              </button>
            ) : null}
          </li>
        ))}
      </ul>
    </section>
  );
}
