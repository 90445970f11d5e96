// Who is signed in: the session's tokens (sessionStorage) and /auth/me.
import { useSyncExternalStore } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap, type UserRead } from "../api";
import { session, type Tokens } from "../api/session";

export function useSession(): Tokens | null {
  return useSyncExternalStore(session.subscribe, session.get, session.get);
}

export function useMe() {
  const tokens = useSession();
  return useQuery({
    queryKey: ["me", tokens?.sessionId],
    queryFn: async (): Promise<UserRead> => unwrap(await api.GET("/api/v1/auth/me")),
    enabled: tokens !== null,
    staleTime: 5 * 60_000,
  });
}

/** Whether the user's role may change cameras and act on events (Admin, Supervisor). */
export function canOperate(user: UserRead | undefined): boolean {
  return user?.role === "admin" || user?.role === "supervisor";
}

export function useSignOut(): () => Promise<void> {
  const client = useQueryClient();
  return async () => {
    try {
      await api.POST("/api/v1/auth/logout"); // the server revokes both tokens at once
    } catch {
      // offline: forgetting the tokens here still signs this browser out
    }
    session.clear();
    client.clear();
  };
}
