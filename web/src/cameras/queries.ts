// Camera-screen queries: one camera, its AI models, zones for pickers, the licence's models, PTZ.
import { useQuery } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "../api";
import { keys } from "../api/queries";

export type AiModel = Schemas["AiModel"];
export type CameraModelRead = Schemas["CameraModelRead"];
export type StreamInfo = Schemas["StreamInfo"];
export type DiscoveryJobRead = Schemas["DiscoveryJobRead"];
export type DiscoveredDevice = Schemas["DiscoveredDeviceRead"];
export type ImportReport = Schemas["ImportReport"];
export type PresetRead = Schemas["PresetRead"];
export type TourRead = Schemas["TourRead"];
export type TourStep = Schemas["TourStep"];

/** Display names of the ten AI models (the API's `title` where it sends one). */
export const MODEL_TITLES: Record<AiModel, string> = {
  intrusion: "Intrusion",
  motion: "Motion",
  tampering: "Tampering",
  fire_smoke: "Fire and smoke",
  crowd: "Crowd",
  missing_object: "Missing object",
  abnormal_behavior: "Abnormal behaviour",
  fallen: "Fallen person",
  tailgating: "Tailgating",
  anpr: "Number plates (ANPR)",
};

export const cameraKeys = {
  one: (id: string) => [...keys.cameras, "one", id] as const,
  models: (id: string) => [...keys.cameras, "models", id] as const,
  ptz: (id: string) => [...keys.cameras, "ptz", id] as const,
  zones: ["nodes", "zones"] as const,
  license: ["license"] as const,
};

export function useCamera(id: string) {
  return useQuery({
    queryKey: cameraKeys.one(id),
    queryFn: async () => unwrap(await api.GET("/api/v1/cameras/{camera_id}", { params: { path: { camera_id: id } } })),
    refetchInterval: 30_000,
  });
}

export function useCameraModels(id: string) {
  return useQuery({
    queryKey: cameraKeys.models(id),
    queryFn: async () =>
      unwrap(await api.GET("/api/v1/cameras/{camera_id}/models", { params: { path: { camera_id: id } } })),
  });
}

/** Every zone with its path, for zone pickers. */
export function useZones() {
  return useQuery({
    queryKey: cameraKeys.zones,
    queryFn: async () => unwrap(await api.GET("/api/v1/nodes", { params: { query: { kind: "zone", limit: 500 } } })),
    staleTime: 60_000,
  });
}

/** The AI models this customer's licence includes. */
export function useLicensedModels() {
  return useQuery({
    queryKey: cameraKeys.license,
    queryFn: async (): Promise<AiModel[]> => unwrap(await api.GET("/api/v1/license")).models,
    staleTime: 5 * 60_000,
  });
}
