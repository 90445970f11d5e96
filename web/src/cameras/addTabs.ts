// The add-camera tabs, apart from the panel so the cameras list can read ?add= without loading it.
export const ADD_TABS = [
  { key: "rtsp", label: "RTSP address" },
  { key: "discover", label: "Discover on the network" },
  { key: "import", label: "Import a sheet" },
] as const;
export type AddTab = (typeof ADD_TABS)[number]["key"];

/** The open tab from `?add=`; null when the panel is closed ("?add=1", from older links, is the RTSP form). */
export function parseAddTab(raw: string | null): AddTab | null {
  if (!raw) return null;
  return ADD_TABS.find((t) => t.key === raw)?.key ?? "rtsp";
}
