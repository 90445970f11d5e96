// fetch for the API client: adds the bearer token, and on a 401 exchanges the refresh token once
// (one exchange in flight at a time: the API revokes a session whose refresh token is reused) and
// retries the request. When the refresh fails the session is cleared, which sends the app to sign-in.
import { session } from "./session";

const NO_AUTH = ["/api/v1/auth/login", "/api/v1/auth/mfa", "/api/v1/auth/refresh"];
let refreshing: Promise<boolean> | null = null;

function withToken(request: Request): Request {
  const tokens = session.get();
  if (tokens) request.headers.set("Authorization", `Bearer ${tokens.accessToken}`);
  return request;
}

/** Exchange the refresh token for a new pair; true when it worked. Concurrent callers share one exchange. */
export function refreshSession(): Promise<boolean> {
  refreshing ??= (async () => {
    const tokens = session.get();
    if (!tokens) return false;
    try {
      const r = await globalThis.fetch(new Request(`${window.location.origin}/api/v1/auth/refresh`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ refresh_token: tokens.refreshToken }),
      }));
      if (!r.ok) {
        session.clear();
        return false;
      }
      session.set(await r.json());
      return true;
    } catch {
      return false; // offline: keep the tokens, the next request tries again
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

export async function authFetch(request: Request): Promise<Response> {
  const path = new URL(request.url).pathname;
  if (NO_AUTH.includes(path)) return globalThis.fetch(request);
  const retry = request.clone();
  const response = await globalThis.fetch(withToken(request));
  if (response.status !== 401 || !session.get()) return response;
  if (!(await refreshSession())) return response;
  return globalThis.fetch(withToken(retry));
}
