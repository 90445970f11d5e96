// Cameras: the location tree with status counts (editable: SiteTree.tsx), a filtered and paged camera list (each name opens
// the camera page), and adding cameras by RTSP address, discovery or import (loaded on demand).
import { lazy, Suspense, useState } from "react";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { Link, useSearchParams } from "react-router-dom";
import { api, unwrap, type CameraRead, type CameraStatus } from "../api";
import { keys } from "../api/queries";
import { canOperate, useMe } from "../auth/useAuth";
import { StatusBadge } from "../components/StatusBadge";
import { EmptyState, ErrorState, Loading } from "../components/States";
import { Pager } from "../components/Pager";
import { parseAddTab } from "./addTabs";
import { SiteTreePanel } from "./SiteTree";
import { TableHead } from "../components/TableHead";

const AddCameraPanel = lazy(() => import("./AddCameraPanel"));
const PAGE = 25;
const STATUSES: CameraStatus[] = ["online", "offline", "degraded", "auth_failed", "unknown"];

export default function CamerasPage() {
  const [params, setParams] = useSearchParams();
  const me = useMe();
  const q = params.get("q") ?? "";
  const status = (params.get("status") as CameraStatus | null) || undefined;
  const nodeId = params.get("node") || undefined;
  const offset = Number(params.get("offset") ?? 0) || 0;
  const adding = parseAddTab(params.get("add"));
  const [text, setText] = useState(q);

  const update = (changes: Record<string, string | undefined>) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) (v ? next.set(k, v) : next.delete(k));
    if (!("offset" in changes) && !("add" in changes)) next.delete("offset"); // a new filter starts at page one
    if (changes.add === undefined && "add" in changes) next.delete("job"); // closing the panel forgets the discovery job
    setParams(next, { replace: true });
  };

  const cameras = useQuery({
    queryKey: [...keys.cameras, "list", { q, status, nodeId, offset }],
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/cameras", {
          params: { query: { q: q || undefined, status, node_id: nodeId, limit: PAGE, offset } },
        }),
      ),
    placeholderData: keepPreviousData,
    refetchInterval: 30_000,
  });
  const filtered = Boolean(q || status || nodeId);

  return (
    <section aria-labelledby="cameras-title" className="cameras">
      <div className="page-head">
        <h1 id="cameras-title">Cameras</h1>
        {canOperate(me.data) && (
          <button type="button" className="primary" onClick={() => update({ add: adding ? undefined : "rtsp" })}>
            {adding ? "Close" : "Add camera"}
          </button>
        )}
      </div>
      {adding && (
        <Suspense fallback={<Loading />}>
          <AddCameraPanel tab={adding} onTab={(t) => update({ add: t })} onClose={() => update({ add: undefined })} />
        </Suspense>
      )}
      <div className="split">
        <SiteTreePanel selected={nodeId} onSelect={(id) => update({ node: id })} />
        <div className="list-pane">
          <form
            className="filters"
            role="search"
            onSubmit={(e) => {
              e.preventDefault();
              update({ q: text.trim() || undefined });
            }}
          >
            <label>
              Search
              <input type="search" value={text} onChange={(e) => setText(e.target.value)} placeholder="Camera name" />
            </label>
            <label>
              Status
              <select value={status ?? ""} onChange={(e) => update({ status: e.target.value || undefined })}>
                <option value="">Any</option>
                {STATUSES.map((s) => (
                  <option key={s} value={s}>
                    {s.replace("_", " ")}
                  </option>
                ))}
              </select>
            </label>
            <button type="submit">Filter</button>
            {filtered && (
              <button
                type="button"
                className="link"
                onClick={() => {
                  setText("");
                  update({ q: undefined, status: undefined, node: undefined });
                }}
              >
                Clear filters
              </button>
            )}
          </form>
          {cameras.isPending ? (
            <Loading label="Loading cameras…" />
          ) : cameras.isError ? (
            <ErrorState error={cameras.error} onRetry={() => void cameras.refetch()} />
          ) : cameras.data.items.length === 0 ? (
            filtered ? (
              <EmptyState title="No camera matches these filters">
                <p>Change the search or status, or pick another place in the tree.</p>
              </EmptyState>
            ) : (
              <EmptyState title="No cameras yet">
                <p>
                  {canOperate(me.data)
                    ? "Use “Add camera”: give an RTSP address, discover cameras on the network, or import a sheet. The server probes each stream and shows what it found."
                    : "An Admin or Supervisor of your organisation can add cameras."}
                </p>
              </EmptyState>
            )
          ) : (
            <>
              <CameraTable items={cameras.data.items} />
              <Pager
                offset={offset}
                total={cameras.data.total}
                shown={cameras.data.items.length}
                onPage={(o) => update({ offset: String(o) })}
              />
            </>
          )}
        </div>
      </div>
    </section>
  );
}

export function streamSummary(c: CameraRead): string {
  const s = c.main_stream;
  if (!s) return c.probed_at ? "—" : "Not probed";
  const fps = s.fps ? ` ${Math.round(s.fps)} fps` : "";
  return `${s.codec.toUpperCase()} ${s.width}×${s.height}${fps} ${s.bitrate_kbps} kbit/s`;
}

function CameraTable({ items }: { items: CameraRead[] }) {
  return (
    <div className="table-wrap">
      <table className="table" aria-label="Cameras">
        <TableHead columns={["Name", "Status", "Main stream", "Address", "Tags"]} />
        <tbody>
          {items.map((c) => (
            <tr key={c.id} data-testid="camera-row">
              <th scope="row">
                <Link to={`/cameras/${c.id}`}>{c.name}</Link>
              </th>
              <td>
                <StatusBadge status={c.status} />
              </td>
              <td>{streamSummary(c)}</td>
              <td className="mono">{c.main_url}</td>
              <td>{c.tags.join(", ")}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
