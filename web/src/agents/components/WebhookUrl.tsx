import { useState } from "react";

/** A webhook URL, shown only in the response that created it, with a copy button. */
export function WebhookUrl({ url }: { url: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <div className="webhook" role="group" aria-label="Webhook URL">
      <p>Send JSON with POST to this URL to start a run. It is shown only now: copy it somewhere safe.</p>
      <code className="url" data-testid="webhook-url">
        {url}
      </code>{" "}
      <button
        type="button"
        onClick={() => {
          void navigator.clipboard?.writeText(url).then(() => setCopied(true), () => setCopied(false));
        }}
      >
        Copy webhook URL
      </button>
      <span role="status">{copied ? " Copied." : ""}</span>
    </div>
  );
}
