// Pure pieces of the configuration editor: which node is edited, how parameters are grouped, and
// how an editor's input becomes a value within the registry's bounds (checked again by the API).
import type { Schemas } from "../api";

export type Level = Schemas["Level"];
export type Parameter = Schemas["ParameterRead"];
export type EffectiveValue = Schemas["EffectiveValue"];

export type ConfigNode =
  | { level: "system" }
  | { level: "customer" }
  | { level: "site"; id: string }
  | { level: "camera"; id: string; siteId?: string };

export const GROUPS = ["video", "recording", "retention", "models", "notifications"] as const;
export type Group = (typeof GROUPS)[number];

export const GROUP_TITLES: Record<Group, string> = {
  video: "Video",
  recording: "Recording",
  retention: "Retention",
  models: "AI models",
  notifications: "Notifications",
};

export function groupOf(key: string): Group {
  const head = key.split(".")[0] ?? "";
  return (GROUPS as readonly string[]).includes(head) ? (head as Group) : "video";
}

/** Parameters this node may set, by group, in registry order. */
export function groupParameters(params: Parameter[], level: Level): Map<Group, Parameter[]> {
  const out = new Map<Group, Parameter[]>(GROUPS.map((g) => [g, []]));
  for (const p of params) if (p.levels.includes(level)) out.get(groupOf(p.key))!.push(p);
  return out;
}

export type EditorKind = "number" | "integer" | "choice" | "boolean" | "multi" | "json";

interface JsonSchema {
  type?: string;
  enum?: string[];
  minimum?: number;
  maximum?: number;
  items?: JsonSchema;
}

export function editorKind(schema: JsonSchema): EditorKind {
  if (schema.enum) return "choice";
  if (schema.type === "number") return "number";
  if (schema.type === "integer") return "integer";
  if (schema.type === "boolean") return "boolean";
  if (schema.type === "array" && schema.items?.enum) return "multi";
  return "json";
}

/** What an input holds: text for numbers and JSON, a flag, or the picked options. */
export type Draft = string | boolean | string[];

export function draftOf(kind: EditorKind, value: unknown): Draft {
  if (kind === "boolean") return Boolean(value);
  if (kind === "multi") return Array.isArray(value) ? (value as string[]) : [];
  if (kind === "choice") return String(value ?? "");
  if (kind === "number" || kind === "integer") return value === null || value === undefined ? "" : String(value);
  return JSON.stringify(value ?? null);
}

export type Parsed = { ok: true; value: unknown } | { ok: false; error: string };

/** The value a draft stands for, or why it cannot be saved (the registry's bounds). */
export function parseDraft(param: Pick<Parameter, "value_schema" | "bounds">, draft: Draft): Parsed {
  const schema = param.value_schema as JsonSchema;
  const kind = editorKind(schema);
  if (kind === "boolean" || kind === "multi") return { ok: true, value: draft };
  if (kind === "choice") {
    return schema.enum!.includes(String(draft)) ? { ok: true, value: draft } : { ok: false, error: `Pick one of ${schema.enum!.join(", ")}.` };
  }
  const text = String(draft).trim();
  if (kind === "json") {
    try {
      return { ok: true, value: JSON.parse(text) };
    } catch {
      return { ok: false, error: "Not valid JSON; strings need double quotes." };
    }
  }
  const n = Number(text);
  if (text === "" || !Number.isFinite(n)) return { ok: false, error: "Enter a number." };
  if (kind === "integer" && !Number.isInteger(n)) return { ok: false, error: "Enter a whole number." };
  const { minimum: lo, maximum: hi } = schema;
  if ((lo !== undefined && n < lo) || (hi !== undefined && n > hi)) return { ok: false, error: `Allowed: ${param.bounds}.` };
  return { ok: true, value: n };
}

export function formatValue(value: unknown): string {
  if (value === null || value === undefined) return "—";
  if (Array.isArray(value)) return value.length ? value.join(", ") : "none";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

export function nodeLabel(node: ConfigNode): string {
  return node.level === "system" ? "System" : node.level === "customer" ? "Customer" : `${node.level} ${node.id}`;
}
