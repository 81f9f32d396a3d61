import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { LiveProvider } from "../src/live/LiveProvider";

/** Accepts a connection and never answers: the provider's place in the tree is under test. */
class SilentSocket {
  readyState = 0;
  onopen = null;
  onmessage = null;
  onclose = null;
  onerror = null;
  constructor(readonly url: string) {}
  send() {}
  close() {}
}

afterEach(() => vi.unstubAllGlobals());

function tree(client: QueryClient, userId: string | null) {
  return (
    <QueryClientProvider client={client}>
      <LiveProvider userId={userId}>
        <label>
          Note <input />
        </label>
      </LiveProvider>
    </QueryClientProvider>
  );
}

describe("LiveProvider", () => {
  it("keeps the page mounted when the session loads, so typed input survives", async () => {
    vi.stubGlobal("WebSocket", SilentSocket);
    const client = new QueryClient();
    const { rerender } = render(tree(client, null));
    const input = screen.getByLabelText("Note");
    await userEvent.type(input, "half a form");

    rerender(tree(client, "u1"));

    expect(screen.getByLabelText("Note")).toBe(input);
    expect((screen.getByLabelText("Note") as HTMLInputElement).value).toBe("half a form");
  });
});
