import { Outlet } from "react-router";
import { SessionProvider, useSession } from "../account/session";
import { LiveProvider } from "../live/LiveProvider";
import { Layout } from "./Layout";

function Shell() {
  const { user } = useSession();
  const page = (
    <Layout>
      <Outlet />
    </Layout>
  );
  // One socket per logged-in user, shared by every page.
  return <LiveProvider userId={user?.id ?? null}>{page}</LiveProvider>;
}

export function Root() {
  return (
    <SessionProvider>
      <Shell />
    </SessionProvider>
  );
}
