import { describe as suite, expect, it } from "vitest";
import { ApiError, describe, waitInWords } from "../src/api/problem";

const limited = (retryAfter: number | null) => new ApiError({ title: "Too Many Requests", status: 429, detail: "Rate limit exceeded" }, retryAfter);

suite("problem", () => {
  it("says how long to wait after a 429, in words", () => {
    expect(describe(limited(1))).toBe("Too many attempts. Try again in 1 second.");
    expect(describe(limited(42))).toBe("Too many attempts. Try again in 42 seconds.");
    expect(describe(limited(3599))).toBe("Too many attempts. Try again in 60 minutes.");
    expect(describe(limited(null))).toBe("Too many attempts. Try again in a moment.");
  });

  it("rounds long waits up to minutes and hours", () => {
    expect(waitInWords(119)).toBe("119 seconds");
    expect(waitInWords(121)).toBe("3 minutes");
    expect(waitInWords(3 * 3600)).toBe("3 hours");
  });

  it("shows the problem's detail for any other error", () => {
    expect(describe(new ApiError({ title: "Bad Request", status: 400, detail: "This link has already been used; ask for a new one" }))).toBe(
      "This link has already been used; ask for a new one",
    );
  });
});
