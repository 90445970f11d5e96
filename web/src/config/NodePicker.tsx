// Which node to configure: the system (provider staff), or the customer, one of its sites or one of
// its cameras (a camera resolves under the site its zone belongs to).
import { useEffect, useMemo } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { keys, useCameraNames, useSiteTree } from "../api/queries";
import type { NodeTree } from "../api";
import type { ConfigNode } from "./model";

function zonesUnder(node: NodeTree, out: Set<string>): Set<string> {
  if (node.kind === "zone") out.add(node.id);
  (node.children ?? []).forEach((c) => zonesUnder(c, out));
  return out;
}

export function NodePicker({ provider, node, onChange }: { provider: boolean; node: ConfigNode; onChange: (n: ConfigNode) => void }) {
  const tree = useSiteTree();
  const cameras = useCameraNames();
  const client = useQueryClient();
  // A camera's site comes from the tree: ask for the current sites and cameras when the page opens.
  useEffect(() => {
    void client.invalidateQueries({ queryKey: keys.tree });
    void client.invalidateQueries({ queryKey: [...keys.cameras, "names"] });
  }, [client]);
  const sites = useMemo(() => tree.data?.sites ?? [], [tree.data]);
  const siteOfZone = useMemo(() => {
    const m = new Map<string, string>();
    for (const s of sites) zonesUnder(s, new Set()).forEach((z) => m.set(z, s.id));
    return m;
  }, [sites]);
  if (provider) return <p className="muted">Provider staff edit the system level, the defaults for every customer.</p>;

  const pickLevel = (level: string) => {
    if (level === "customer") onChange({ level: "customer" });
    else if (level === "site" && sites[0]) onChange({ level: "site", id: sites[0].id });
    else if (level === "camera") {
      const first = cameras.data ? [...cameras.data.values()][0] : undefined;
      if (first) onChange({ level: "camera", id: first.id, siteId: siteOfZone.get(first.zone_id ?? "") });
    }
  };
  return (
    <div className="filters node-picker">
      <label>
        Level
        <select value={node.level} onChange={(e) => pickLevel(e.target.value)}>
          <option value="customer">Whole customer</option>
          <option value="site" disabled={sites.length === 0}>
            A site{sites.length === 0 ? " (none yet)" : ""}
          </option>
          <option value="camera" disabled={!cameras.data?.size}>
            A camera{cameras.data?.size ? "" : " (none yet)"}
          </option>
        </select>
      </label>
      {node.level === "site" && (
        <label>
          Site
          <select value={node.id} onChange={(e) => onChange({ level: "site", id: e.target.value })}>
            {sites.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name}
              </option>
            ))}
          </select>
        </label>
      )}
      {node.level === "camera" && (
        <label>
          Camera
          <select
            value={node.id}
            onChange={(e) => {
              const cam = cameras.data?.get(e.target.value);
              onChange({ level: "camera", id: e.target.value, siteId: siteOfZone.get(cam?.zone_id ?? "") });
            }}
          >
            {[...(cameras.data?.values() ?? [])].map((c) => (
              <option key={c.id} value={c.id}>
                {c.name}
              </option>
            ))}
          </select>
        </label>
      )}
    </div>
  );
}
