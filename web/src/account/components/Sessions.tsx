import { ProblemAlert } from "../../app/components/ProblemAlert";
import { when } from "../../app/components/format";
import type { LoginSession } from "../../api/types";
import { useSessions } from "../hooks/useSessions";

/** A short name for a user agent string: the browser and the system, when they can be told. */
export function deviceName(userAgent: string): string {
  if (!userAgent) return "Unknown device";
  const browser = /Edg\//.test(userAgent)
    ? "Edge"
    : /Chrome\//.test(userAgent)
      ? "Chrome"
      : /Firefox\//.test(userAgent)
        ? "Firefox"
        : /Safari\//.test(userAgent)
          ? "Safari"
          : null;
  const system = /Windows/.test(userAgent)
    ? "Windows"
    : /Android/.test(userAgent)
      ? "Android"
      : /iPhone|iPad/.test(userAgent)
        ? "iOS"
        : /Mac OS X/.test(userAgent)
          ? "macOS"
          : /Linux/.test(userAgent)
            ? "Linux"
            : null;
  if (browser && system) return `${browser} on ${system}`;
  return userAgent.length > 60 ? userAgent.slice(0, 60) + "..." : userAgent;
}

function SessionRow({ session, onRevoke, busy }: { session: LoginSession; onRevoke: () => void; busy: boolean }) {
  const name = deviceName(session.user_agent);
  return (
    <tr>
      <td title={session.user_agent}>
        {name} {session.current ? <span className="tag">this device</span> : null}
      </td>
      <td>{session.ip || "unknown"}</td>
      <td>{when(session.last_used_at)}</td>
      <td>
        {session.current ? null : (
          <button type="button" className="danger" disabled={busy} onClick={onRevoke} aria-label={`Sign out ${name}, last used ${when(session.last_used_at)}`}>
            Sign out
          </button>
        )}
      </td>
    </tr>
  );
}

/** Where the account is signed in, with a way to end any other session. */
export function Sessions() {
  const { sessions, revoke, revokeOthers } = useSessions();
  const rows = sessions.data ?? [];
  const others = rows.filter((s) => !s.current).length;
  return (
    <section aria-labelledby="sessions-title">
      <h2 id="sessions-title">Signed-in sessions</h2>
      <ProblemAlert error={sessions.error ?? revoke.error ?? revokeOthers.error} />
      {sessions.isPending ? <p className="muted">Loading sessions...</p> : null}
      {rows.length ? (
        <table>
          <caption>Devices signed in to this account</caption>
          <thead>
            <tr>
              <th scope="col">Device</th>
              <th scope="col">IP address</th>
              <th scope="col">Last used</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((session) => (
              <SessionRow key={session.id} session={session} busy={revoke.isPending} onRevoke={() => revoke.mutate(session.id)} />
            ))}
          </tbody>
        </table>
      ) : null}
      {revokeOthers.isSuccess ? <p role="status">Signed out {revokeOthers.data.revoked} other session(s).</p> : null}
      <button type="button" disabled={others === 0 || revokeOthers.isPending} onClick={() => revokeOthers.mutate()}>
        Sign out other sessions
      </button>
    </section>
  );
}
