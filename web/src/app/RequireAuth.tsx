import { Navigate, Outlet, useLocation } from "react-router";
import { loginPath, useSession } from "../account/session";

/** Private pages: nothing of them renders until the session is known to be valid. */
export function RequireAuth() {
  const { user, loading, expired } = useSession();
  const location = useLocation();
  if (loading) return <p role="status">Loading...</p>;
  if (!user) return <Navigate to={loginPath(location.pathname + location.search, expired)} replace />;
  return <Outlet />;
}
