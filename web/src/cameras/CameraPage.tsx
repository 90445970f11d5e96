// One camera: status, identity and place (editable: CameraEditForm), both streams as probed, its control interface, the AI models
// (with why the unavailable ones are off), PTZ when the camera has a control interface, and links to
// live view and playback.
import { lazy, Suspense, useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useParams } from "react-router-dom";
import { api, ApiError, unwrap, type CameraRead } from "../api";
import { keys } from "../api/queries";
import { canOperate, useMe } from "../auth/useAuth";
import { EmptyState, ErrorState, Loading, ProblemMessage } from "../components/States";
import { StatusBadge } from "../components/StatusBadge";
import { CameraEditForm } from "./CameraEditForm";
import { DevicePanel } from "./DevicePanel";
import { ModelsPanel } from "./ModelsPanel";
import { StreamHealth } from "./StreamHealth";
import { cameraKeys, useCamera, type StreamInfo } from "./queries";
import "./cameras.css";
import { TableHead } from "../components/TableHead";

const PtzPanel = lazy(() => import("./PtzPanel"));

export default function CameraPage() {
  const { id = "" } = useParams();
  const camera = useCamera(id);
  const me = useMe();
  const operator = canOperate(me.data);
  const [editing, setEditing] = useState(false);

  if (camera.isPending) return <Loading label="Loading the camera…" />;
  if (camera.isError) {
    if (camera.error instanceof ApiError && camera.error.status === 404)
      return (
        <EmptyState title="No such camera">
          <p>
            It may have been removed, or it belongs to a part of the site you cannot see.{" "}
            <Link to="/cameras">Back to the cameras</Link>
          </p>
        </EmptyState>
      );
    return <ErrorState error={camera.error} onRetry={() => void camera.refetch()} />;
  }
  const c = camera.data;
  return (
    <article className="camera-page" aria-labelledby="camera-title">
      <p className="crumbs">
        <Link to="/cameras">Cameras</Link> › {c.name}
      </p>
      <div className="page-head">
        <h1 id="camera-title">
          {c.name} <StatusBadge status={c.status} />
        </h1>
        <div className="row">
          {operator && (
            <button type="button" aria-expanded={editing} onClick={() => setEditing(!editing)}>
              {editing ? "Close editing" : "Edit details"}
            </button>
          )}
          <Link className="button" to={`/live?camera=${c.id}`}>
            Watch live
          </Link>
          <Link className="button" to={`/playback?camera=${c.id}`}>
            Play back
          </Link>
        </div>
      </div>
      {editing && operator && <CameraEditForm camera={c} onDone={() => setEditing(false)} />}
      <div className="camera-grid">
        <Identity camera={c} />
        <StreamHealth camera={c} />
        <Streams camera={c} operator={operator} />
        <DevicePanel camera={c} operator={operator} />
        <ModelsPanel camera={c} operator={operator} />
      </div>
      {c.device && c.device.kind !== "rtsp" ? (
        <Suspense fallback={<Loading />}>
          <PtzPanel cameraId={c.id} operator={operator} />
        </Suspense>
      ) : (
        <section className="panel" aria-labelledby="ptz-title">
          <h2 id="ptz-title">Pan, tilt and zoom</h2>
          <p className="muted">
            PTZ goes through the camera's control interface (ONVIF, Hikvision ISAPI or Dahua). This camera has none
            linked{operator ? "; link one under “Control interface” to move it from here." : "."}
          </p>
        </section>
      )}
    </article>
  );
}

function Identity({ camera: c }: { camera: CameraRead }) {
  const zone = useQuery({
    queryKey: ["nodes", "one", c.zone_id],
    queryFn: async () => unwrap(await api.GET("/api/v1/nodes/{node_id}", { params: { path: { node_id: c.zone_id! } } })),
    enabled: Boolean(c.zone_id),
    staleTime: 60_000,
  });
  return (
    <section className="panel" aria-labelledby="identity-title">
      <h2 id="identity-title">Camera</h2>
      <dl className="facts">
        <dt>Place</dt>
        <dd>{!c.zone_id ? "No zone" : zone.data ? zone.data.path.join(" › ") : "…"}</dd>
        <dt>Device</dt>
        <dd>{[c.manufacturer, c.model].filter(Boolean).join(" ") || "unknown"}</dd>
        {c.firmware && (
          <>
            <dt>Firmware</dt>
            <dd>{c.firmware}</dd>
          </>
        )}
        <dt>Credentials</dt>
        <dd>{c.has_credentials ? `stored (${c.auth_method})` : "none"}</dd>
        {c.external_id && (
          <>
            <dt>External id</dt>
            <dd className="mono">{c.external_id}</dd>
          </>
        )}
        <dt>Tags</dt>
        <dd>{c.tags.length ? c.tags.join(", ") : "none"}</dd>
        <dt>Added</dt>
        <dd>{new Date(c.created_at).toLocaleString()}</dd>
      </dl>
    </section>
  );
}

function streamCells(s: StreamInfo | null | undefined) {
  if (!s) return null;
  const bitrate =
    s.declared_bitrate_kbps && s.declared_bitrate_kbps !== s.bitrate_kbps
      ? `${s.bitrate_kbps} kbit/s (declared ${s.declared_bitrate_kbps})`
      : `${s.bitrate_kbps} kbit/s`;
  return [
    s.codec.toUpperCase(),
    `${s.width}×${s.height}`,
    s.fps ? `${s.fps.toFixed(1)} fps` : "unknown",
    bitrate,
    s.gop_s != null ? `${s.gop_s.toFixed(1)} s` : "unknown",
  ];
}

function Streams({ camera: c, operator }: { camera: CameraRead; operator: boolean }) {
  const client = useQueryClient();
  const probe = useMutation({
    mutationFn: async () =>
      unwrap(await api.POST("/api/v1/cameras/{camera_id}/probe", { params: { path: { camera_id: c.id } } })),
    onSuccess: (fresh) => {
      client.setQueryData(cameraKeys.one(c.id), fresh);
      void client.invalidateQueries({ queryKey: cameraKeys.models(c.id) });
      void client.invalidateQueries({ queryKey: keys.cameras });
    },
  });
  const rows: [string, string | null, StreamInfo | null][] = [
    ["Main", c.main_url, c.main_stream],
    ["Sub", c.sub_url, c.sub_stream],
  ];
  return (
    <section className="panel streams" aria-labelledby="streams-title">
      <h2 id="streams-title">Streams</h2>
      <div className="table-wrap">
        <table className="table" aria-label="Streams" data-testid="streams">
          <TableHead columns={["Stream", "Codec", "Resolution", "Frame rate", "Bitrate", "Keyframe interval (GOP)"]} />
          <tbody>
            {rows.map(([label, url, info]) => {
              const cells = streamCells(info);
              return (
                <tr key={label}>
                  <th scope="row">
                    {label}
                    <div className="mono muted url">{url ?? "none"}</div>
                  </th>
                  {cells ? (
                    cells.map((v, i) => <td key={i}>{v}</td>)
                  ) : (
                    <td colSpan={5} className="muted">
                      {!url ? "No sub stream configured." : c.probed_at ? "Not measured." : "Not probed yet."}
                    </td>
                  )}
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <p className="muted">
        {c.probed_at ? `Probed ${new Date(c.probed_at).toLocaleString()}.` : "Never probed."}{" "}
        {operator && (
          <button type="button" onClick={() => probe.mutate()} disabled={probe.isPending}>
            {probe.isPending ? "Probing…" : "Probe again"}
          </button>
        )}
      </p>
      {probe.isError && <ProblemMessage error={probe.error} />}
    </section>
  );
}
