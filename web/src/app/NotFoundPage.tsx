import { Link } from "react-router";
import { usePageTitle } from "./components/usePageTitle";

export function NotFoundPage({ what = "page" }: { what?: string }) {
  usePageTitle("Not found");
  return (
    <section aria-labelledby="not-found">
      <h1 id="not-found">Not found</h1>
      <p>This {what} does not exist, or you do not have access to it.</p>
      <p>
        <Link to="/agents">Back to your agents</Link>
      </p>
    </section>
  );
}

export default NotFoundPage;
