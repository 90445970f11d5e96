// The signed-in session's tokens, kept in sessionStorage: they survive a reload of this tab but
// not the closing of the browser, and other tabs sign in on their own (a refresh token is single
// use, so two tabs sharing one would revoke each other's session).
import type { TokenPair } from "./index";

export interface Tokens {
  accessToken: string;
  refreshToken: string;
  sessionId: string;
  /** Epoch ms when the access token expires. */
  expiresAt: number;
}

const KEY = "vms.session";
type Listener = () => void;
const listeners = new Set<Listener>();

function read(): Tokens | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    return raw ? (JSON.parse(raw) as Tokens) : null;
  } catch {
    return null;
  }
}

let current: Tokens | null = read();

export const session = {
  get(): Tokens | null {
    return current;
  },
  set(pair: Pick<TokenPair, "access_token" | "refresh_token" | "session_id" | "expires_in">): void {
    current = {
      accessToken: pair.access_token,
      refreshToken: pair.refresh_token,
      sessionId: pair.session_id,
      expiresAt: Date.now() + pair.expires_in * 1000,
    };
    sessionStorage.setItem(KEY, JSON.stringify(current));
    listeners.forEach((l) => l());
  },
  clear(): void {
    current = null;
    sessionStorage.removeItem(KEY);
    listeners.forEach((l) => l());
  },
  subscribe(listener: Listener): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
};
