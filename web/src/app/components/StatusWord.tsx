/** A status written as a word; the colour only repeats what the word says. */
export function StatusWord({ status, reason }: { status: string; reason?: string | null }) {
  return (
    <span className={`status status-${status}`}>
      {status}
      {reason ? <span className="reason"> ({reason})</span> : null}
    </span>
  );
}
