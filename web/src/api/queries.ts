// Query hooks shared by several screens (one key per resource, so invalidation is simple).
import { useQuery } from "@tanstack/react-query";
import { api, unwrap, type CameraRead, type SiteTree } from "./index";

export const keys = {
  tree: ["sites", "tree"] as const,
  cameras: ["cameras"] as const,
  events: ["events"] as const,
};

export function useSiteTree() {
  return useQuery({
    queryKey: keys.tree,
    queryFn: async (): Promise<SiteTree> => unwrap(await api.GET("/api/v1/sites/tree")),
    refetchInterval: 30_000, // status badges follow the ingest role's view without a reload
  });
}

/** Camera names by id, for screens that show events or other rows naming a camera. */
export function useCameraNames() {
  return useQuery({
    queryKey: [...keys.cameras, "names"],
    queryFn: async (): Promise<Map<string, CameraRead>> => {
      const page = unwrap(await api.GET("/api/v1/cameras", { params: { query: { limit: 500 } } }));
      return new Map(page.items.map((c) => [c.id, c]));
    },
    staleTime: 60_000,
  });
}
