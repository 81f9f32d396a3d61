import { createElement, type ReactNode } from "react";

/** A heading whose level its place on the page decides (the same view sits under an h1 or an h2). */
export function Heading({ level, id, children }: { level: number; id?: string; children: ReactNode }) {
  return createElement(`h${Math.min(level, 6)}`, { id }, children);
}
