// Configuration API hooks. The four node kinds (system, customer, site, camera) answer the same
// shapes under different paths, so requests are typed against the camera variant and the path is
// built here once (openapi-fetch ignores path params a path does not name).
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "../api";
import type { ConfigNode, Parameter } from "./model";

export type EffectiveConfig = Schemas["EffectiveConfig"];
export type ChangeResult = Schemas["ConfigChangeResult"];
export type ConfigVersion = Schemas["ConfigVersionRead"];
export type VersionDiff = Schemas["VersionDiff"];

const NODE = "/api/v1/config/camera/{camera_id}" as const;
const VERSIONS = "/api/v1/config/camera/{camera_id}/versions" as const;
const DIFF = "/api/v1/config/camera/{camera_id}/versions/diff" as const;
const ROLLBACK = "/api/v1/config/camera/{camera_id}/versions/{version}/rollback" as const;

function base(node: ConfigNode): string {
  return node.level === "system" || node.level === "customer" ? `/api/v1/config/${node.level}` : `/api/v1/config/${node.level}/${node.id}`;
}

function siteQuery(node: ConfigNode): { site_id?: string } {
  return node.level === "camera" && node.siteId ? { site_id: node.siteId } : {};
}

const key = (node: ConfigNode) => ["config", base(node)] as const;

export function useParameters() {
  return useQuery({
    queryKey: ["config", "parameters"],
    queryFn: async (): Promise<Parameter[]> => unwrap(await api.GET("/api/v1/config/parameters")),
    staleTime: 10 * 60_000,
  });
}

export function useEffectiveConfig(node: ConfigNode) {
  return useQuery({
    queryKey: [...key(node), "effective", siteQuery(node)],
    queryFn: async (): Promise<EffectiveConfig> =>
      unwrap(await api.GET((base(node) as typeof NODE), { params: { path: { camera_id: "" }, query: siteQuery(node) } })),
  });
}

export function useVersions(node: ConfigNode) {
  return useQuery({
    queryKey: [...key(node), "versions"],
    queryFn: async () =>
      unwrap(
        await api.GET(`${base(node)}/versions` as typeof VERSIONS, {
          params: { path: { camera_id: "" }, query: { ...siteQuery(node), limit: 50 } },
        }),
      ),
  });
}

export function useVersionDiff(node: ConfigNode, from: number | null, to: number | null) {
  return useQuery({
    queryKey: [...key(node), "diff", from, to],
    enabled: from !== null && to !== null && from !== to,
    queryFn: async (): Promise<VersionDiff> =>
      unwrap(
        await api.GET(`${base(node)}/versions/diff` as typeof DIFF, {
          params: { path: { camera_id: "" }, query: { ...siteQuery(node), from_version: from!, to_version: to! } },
        }),
      ),
  });
}

export interface PatchInput {
  values: Record<string, unknown>;
  unset: string[];
  reason: string;
  expected_version: number;
  dryRun: boolean;
}

/** PATCH the node; with `dryRun` the answer is the diff and nothing is saved. */
export function usePatchConfig(node: ConfigNode) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async ({ dryRun, ...body }: PatchInput): Promise<ChangeResult> =>
      unwrap(
        await api.PATCH(base(node) as typeof NODE, {
          params: { path: { camera_id: "" }, query: { ...siteQuery(node), dry_run: dryRun } },
          body,
        }),
      ),
    onSuccess: (result) => {
      if (result.saved) void client.invalidateQueries({ queryKey: key(node) });
    },
  });
}

export function useRollback(node: ConfigNode) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async ({ version, reason }: { version: number; reason: string }): Promise<ChangeResult> =>
      unwrap(
        await api.POST(`${base(node)}/versions/${version}/rollback` as typeof ROLLBACK, {
          params: { path: { camera_id: "", version }, query: siteQuery(node) },
          body: { reason },
        }),
      ),
    onSuccess: () => void client.invalidateQueries({ queryKey: key(node) }),
  });
}
