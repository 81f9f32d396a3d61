import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { ConfigForm } from "../src/agents/components/ConfigForm";
import { toErrorSchema } from "../src/agents/components/configErrors";

const schema = {
  type: "object",
  required: ["url"],
  properties: {
    url: { type: "string", format: "uri", description: "The page to probe." },
    method: { type: "string", enum: ["GET", "HEAD"], default: "GET" },
    expected_status: { type: "integer", minimum: 100, maximum: 599, default: 200 },
    recipients: { type: "array", items: { type: "string", format: "email" }, default: ["ops@example.com"] },
    slack: { type: "object", properties: { channel: { type: "string", default: "#ops" } } },
  },
};

describe("ConfigForm", () => {
  it("fills defaults, renders enums as selects, arrays and nested objects as editable fields", () => {
    render(<ConfigForm schema={schema} submitLabel="Deploy" onSubmit={() => undefined} />);
    expect((screen.getByLabelText("Method") as HTMLSelectElement).tagName).toBe("SELECT");
    expect((screen.getByLabelText("Method") as HTMLSelectElement).selectedOptions[0].textContent).toBe("GET");
    expect((screen.getByLabelText("Expected status") as HTMLInputElement).value).toBe("200");
    expect((screen.getByDisplayValue("ops@example.com") as HTMLInputElement).tagName).toBe("INPUT");
    expect(screen.getByDisplayValue("#ops")).toBeTruthy();
    expect(screen.getByText("The page to probe.")).toBeTruthy();
  });

  it("validates formats and bounds in the browser and does not submit", async () => {
    const submit = vi.fn();
    render(<ConfigForm schema={schema} submitLabel="Deploy" onSubmit={submit} />);
    await userEvent.type(screen.getByLabelText(/^Url/), "not a url");
    fireEvent.change(screen.getByLabelText("Expected status"), { target: { value: "42" } });
    await userEvent.click(screen.getByRole("button", { name: "Deploy" }));
    expect(submit).not.toHaveBeenCalled();
    expect((await screen.findAllByText(/must match format "uri"/)).length).toBeGreaterThan(0);
    expect((await screen.findAllByText(/must be >= 100/)).length).toBeGreaterThan(0);
  });

  it("submits the config with defaults included", async () => {
    const submit = vi.fn();
    render(<ConfigForm schema={schema} submitLabel="Deploy" onSubmit={submit} />);
    await userEvent.type(screen.getByLabelText(/^Url/), "https://example.com/health");
    await userEvent.click(screen.getByRole("button", { name: "Deploy" }));
    await waitFor(() => expect(submit).toHaveBeenCalled());
    expect(submit.mock.calls[0][0]).toEqual({
      url: "https://example.com/health", method: "GET", expected_status: 200, recipients: ["ops@example.com"], slack: { channel: "#ops" },
    });
  });

  it("places the API's 422 errors on the fields they name, nested and array items too", () => {
    const { container } = render(
      <ConfigForm
        schema={schema}
        initial={{ url: "https://example.com" }}
        submitLabel="Deploy"
        onSubmit={() => undefined}
        serverErrors={[
          { field: "url", message: "host is not allowed" },
          { field: "recipients.0", message: "domain is blocked" },
          { field: "slack.channel", message: "no such channel" },
        ]}
      />,
    );
    const near = (id: string) => container.querySelector(`#${id}`)!.closest(".form-group")!.textContent;
    expect(near("root_url")).toContain("host is not allowed");
    expect(near("root_recipients_0")).toContain("domain is blocked");
    expect(near("root_slack_channel")).toContain("no such channel");
  });

  it("turns dotted paths into rjsf's error tree", () => {
    expect(toErrorSchema([{ field: "a.0.b", message: "x" }, { field: "a.0.b", message: "y" }])).toEqual({ a: { 0: { b: { __errors: ["x", "y"] } } } });
  });
});
