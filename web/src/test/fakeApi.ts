// A fake of the HTTP API for component tests: route handlers by "METHOD /path", every request
// recorded (method, path, query, body, authorization) so tests can assert what the screens sent.
import { vi } from "vitest";

export interface Call {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
  authorization: string | null;
}
type Handler = (call: Call) => Response | Promise<Response>;

export function json(body: unknown, status = 200): Response {
  const type = status >= 400 ? "application/problem+json" : "application/json";
  return new Response(JSON.stringify(body), { status, headers: { "content-type": type } });
}

export function problem(status: number, title: string, detail: string): Response {
  return json({ type: "about:blank", title, status, detail, request_id: "req-1" }, status);
}

export const MULTIPART = "(multipart upload)";

/** JSON bodies parsed; anything else kept as its text. */
function parseBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function fakeApi(handlers: Record<string, Handler>) {
  const calls: Call[] = [];
  const fetch = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = input instanceof Request ? input : new Request(input, init);
    const url = new URL(request.url);
    // jsdom's File cannot be streamed by Node's fetch, so an upload's body is not read: tests see
    // MULTIPART and check the FormData they built (e.g. by spying on FormData.prototype.append).
    const multipart = request.headers.get("content-type")?.startsWith("multipart/form-data");
    const text = request.method === "GET" || request.method === "HEAD" || multipart ? "" : await request.text();
    const call: Call = {
      method: request.method,
      path: url.pathname,
      query: url.searchParams,
      body: multipart ? MULTIPART : text ? parseBody(text) : undefined,
      authorization: request.headers.get("authorization"),
    };
    calls.push(call);
    const key = `${call.method} ${call.path}`;
    const handler =
      handlers[key] ??
      Object.entries(handlers).find(([pattern]) => new RegExp(`^${pattern.replace(/\{[^}]+\}/g, "[^/]+")}$`).test(key))?.[1];
    if (!handler) return problem(404, "Not found", `no fake for ${key}`);
    return handler(call);
  });
  vi.stubGlobal("fetch", fetch);
  return { calls, fetch, called: (key: string) => calls.filter((c) => `${c.method} ${c.path}` === key) };
}

export const ME = {
  id: "00000000-0000-0000-0000-0000000000aa",
  tenant_id: "00000000-0000-0000-0000-0000000000cc",
  email: "admin@acme.example",
  full_name: "Ada Admin",
  role: "admin",
  is_active: true,
  mfa_enrolled: true,
  locked_until: null,
  last_sign_in_at: null,
  created_at: "2026-01-01T00:00:00Z",
};

export const EMPTY_TREE = {
  sites: [],
  unassigned: { camera_count: 0, online_count: 0, offline_count: 0 },
  total: { camera_count: 0, online_count: 0, offline_count: 0 },
};

export function tokens(n: number, extra: Record<string, unknown> = {}) {
  return {
    access_token: `access-${n}`,
    refresh_token: `refresh-${n}`,
    token_type: "bearer",
    expires_in: 900,
    session_id: "00000000-0000-0000-0000-0000000000ss",
    recovery_codes: null,
    ...extra,
  };
}
