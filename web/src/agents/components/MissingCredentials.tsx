import { Link } from "react-router";

export function MissingCredentials({ kinds }: { kinds: string[] }) {
  if (!kinds.length) return null;
  return (
    <div className="notice" role="note">
      <p>
        This agent needs credentials you have not added yet: <strong>{kinds.join(", ")}</strong>. Its runs fail until they exist.
      </p>
      <ul>
        {kinds.map((kind) => (
          <li key={kind}>
            <Link to={`/credentials?add=${encodeURIComponent(kind)}`}>Add a {kind} credential</Link>
          </li>
        ))}
      </ul>
    </div>
  );
}
