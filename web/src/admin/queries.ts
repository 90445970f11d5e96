// Users (Admin) and customers with their licenses (provider staff).
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "../api";

export type CustomerRead = Schemas["CustomerRead"];
export type UserUpdate = Schemas["UserUpdate"];

export function useUsers(q: string) {
  return useQuery({
    queryKey: ["users", q],
    queryFn: async () => unwrap(await api.GET("/api/v1/users", { params: { query: { q: q || undefined, limit: 100 } } })),
  });
}

/** Every user change: create, update, reset MFA, unlock, delete; each refreshes the list. */
export function useUserActions() {
  const client = useQueryClient();
  const done = () => void client.invalidateQueries({ queryKey: ["users"] });
  return {
    create: useMutation({
      mutationFn: async (body: Schemas["UserCreate"]) => unwrap(await api.POST("/api/v1/users", { body })),
      onSuccess: done,
    }),
    update: useMutation({
      mutationFn: async ({ id, body }: { id: string; body: UserUpdate }) =>
        unwrap(await api.PATCH("/api/v1/users/{user_id}", { params: { path: { user_id: id } }, body })),
      onSuccess: done,
    }),
    resetMfa: useMutation({
      mutationFn: async (id: string) => unwrap(await api.POST("/api/v1/users/{user_id}/mfa-reset", { params: { path: { user_id: id } } })),
      onSuccess: done,
    }),
    unlock: useMutation({
      mutationFn: async (id: string) => unwrap(await api.POST("/api/v1/users/{user_id}/unlock", { params: { path: { user_id: id } } })),
      onSuccess: done,
    }),
    remove: useMutation({
      mutationFn: async (id: string) => unwrap(await api.DELETE("/api/v1/users/{user_id}", { params: { path: { user_id: id } } })),
      onSuccess: done,
    }),
  };
}

export function useCustomers(q: string) {
  return useQuery({
    queryKey: ["customers", q],
    queryFn: async () => unwrap(await api.GET("/api/v1/customers", { params: { query: { q: q || undefined, limit: 100 } } })),
  });
}

export function useCustomerActions() {
  const client = useQueryClient();
  const done = () => void client.invalidateQueries({ queryKey: ["customers"] });
  return {
    create: useMutation({
      mutationFn: async (body: Schemas["CustomerCreate"]) => unwrap(await api.POST("/api/v1/customers", { body })),
      onSuccess: done,
    }),
    setStatus: useMutation({
      mutationFn: async ({ id, status }: { id: string; status: "active" | "suspended" }) =>
        unwrap(await api.PATCH("/api/v1/customers/{customer_id}", { params: { path: { customer_id: id } }, body: { status } })),
      onSuccess: done,
    }),
    license: useMutation({
      mutationFn: async ({ id, body }: { id: string; body: Schemas["LicenseWrite"] }) =>
        unwrap(await api.PUT("/api/v1/customers/{customer_id}/license", { params: { path: { customer_id: id } }, body })),
      onSuccess: done,
    }),
  };
}
