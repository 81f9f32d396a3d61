import { type ReactNode } from "react";
import { Link, NavLink } from "react-router";
import { VerifyBanner } from "../account/components/VerifyBanner";
import { useSession } from "../account/session";
import { useUnreadCount } from "../notifications/hooks/useUnreadCount";
import { useLiveState } from "../live/LiveProvider";
import { NAV } from "./nav";

function UnreadBadge() {
  const unread = useUnreadCount();
  if (!unread) return null;
  return <span className="badge"> ({unread} unread)</span>;
}

function LiveIndicator() {
  const state = useLiveState();
  const words = { open: "Live", connecting: "Connecting", reconnecting: "Reconnecting", stopped: "Offline" } as const;
  return (
    <span className={`live live-${state}`} role="status" aria-live="polite">
      {words[state]}
    </span>
  );
}

export function Layout({ children }: { children: ReactNode }) {
  const { user, logOut } = useSession();
  const items = NAV.filter((item) => user || !item.private);
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <Link to={user ? "/agents" : "/marketplace"} className="brand">
          Botskis
        </Link>
        <nav aria-label="Main">
          <ul>
            {items.map((item) => (
              <li key={item.to}>
                <NavLink to={item.to}>
                  {item.label}
                  {item.to === "/notifications" && user ? <UnreadBadge /> : null}
                </NavLink>
              </li>
            ))}
          </ul>
        </nav>
        <div className="who">
          {user ? (
            <>
              <LiveIndicator />
              <span className="email">{user.email}</span>
              <button type="button" onClick={() => void logOut()}>
                Log out
              </button>
            </>
          ) : (
            <>
              <Link to="/login">Log in</Link> <Link to="/signup">Sign up</Link>
            </>
          )}
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <VerifyBanner />
        {children}
      </main>
    </>
  );
}
