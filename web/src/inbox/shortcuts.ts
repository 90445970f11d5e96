// Keyboard triage. One table drives the handler, the "?" help and docs/web.md, so they cannot drift.
import { useEffect, useRef } from "react";

export type Command =
  | "next"
  | "previous"
  | "acknowledge"
  | "resolve"
  | "false_positive"
  | "note"
  | "ticket"
  | "play"
  | "search"
  | "help";

export interface Shortcut {
  keys: string[];
  command: Command;
  description: string;
  /** Only for Admins and Supervisors (they change events). */
  operator?: boolean;
}

export const SHORTCUTS: Shortcut[] = [
  { keys: ["j", "ArrowDown"], command: "next", description: "Next event" },
  { keys: ["k", "ArrowUp"], command: "previous", description: "Previous event" },
  { keys: ["a"], command: "acknowledge", description: "Acknowledge", operator: true },
  { keys: ["r"], command: "resolve", description: "Resolve", operator: true },
  { keys: ["f"], command: "false_positive", description: "Mark as false positive", operator: true },
  { keys: ["n"], command: "note", description: "Write a note", operator: true },
  { keys: ["t"], command: "ticket", description: "Escalate to a ticket", operator: true },
  { keys: ["p"], command: "play", description: "Play or pause the clip" },
  { keys: ["/"], command: "search", description: "Search (notes, object class)" },
  { keys: ["?"], command: "help", description: "Show these shortcuts" },
];

const BY_KEY = new Map(SHORTCUTS.flatMap((s) => s.keys.map((k) => [k, s] as const)));

/** Typing in a field (a filter, a note) is never a command. */
function typing(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  return Boolean(el && (/^(INPUT|SELECT|TEXTAREA)$/.test(el.tagName) || el.isContentEditable));
}

/** Calls `run` for each shortcut pressed outside a field; `run` returns false for a key it did not use. */
export function useShortcuts(run: (command: Command) => boolean | void, enabled = true): void {
  const latest = useRef(run);
  latest.current = run;
  useEffect(() => {
    if (!enabled) return;
    function onKey(e: KeyboardEvent) {
      if (e.altKey || e.ctrlKey || e.metaKey || e.defaultPrevented || typing(e.target)) return;
      if ((e.target as HTMLElement | null)?.tagName === "VIDEO" && e.key.startsWith("Arrow")) return; // the player seeks
      const shortcut = BY_KEY.get(e.key);
      if (!shortcut) return;
      if (latest.current(shortcut.command) !== false) e.preventDefault();
    }
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [enabled]);
}

/** How a key is written in the help. */
export function keyLabel(key: string): string {
  return ({ ArrowDown: "↓", ArrowUp: "↑" } as Record<string, string>)[key] ?? key;
}
