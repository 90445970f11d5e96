// How the camera's main stream is doing as the ingest role sees it: why it is not online (fault and the
// reader's last error), since when, when video last arrived, and the measured figures (bitrate, frame
// rate, keyframe interval, reconnects). The row is written on status changes and about once a minute.
import { Fragment } from "react";
import type { CameraRead, Schemas } from "../api";

const FAULT_WORDS: Record<string, string> = {
  unreachable: "The camera cannot be reached",
  disconnected: "The stream was cut",
  stalled: "The stream stopped sending video",
  auth_failed: "The camera refuses the stored credentials",
  bad_stream: "The camera sends something that is not usable video",
  storage: "Recording storage is failing; video waits on the server",
};

const WHAT_TO_DO: Record<string, string> = {
  unreachable: "Check that the camera has power and network, and that its address has not changed.",
  disconnected: "It is reconnected on its own; frequent cuts point at the network or the camera's load.",
  stalled: "It is restarted on its own; check the camera's encoder settings if this repeats.",
  auth_failed: "Update the credentials under “Edit details” (retries are spaced out so the account is not locked).",
  bad_stream: "Check the stream URL and the camera's codec (H.264, H.265 or MJPEG).",
  storage: "Free space or fix the storage; waiting segments are stored once it is back.",
};

export function faultWords(fault: string): string {
  return FAULT_WORDS[fault] ?? fault;
}

function ago(iso: string, now: number): string {
  const s = Math.max(0, Math.round((now - new Date(iso).getTime()) / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min ago`;
  if (s < 36 * 3600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
}

function figures(stats: Schemas["StreamStats"]): [string, string][] {
  const rows: [string, string][] = [];
  if (stats.format) rows.push(["Format", stats.format]);
  if (stats.bitrate_kbps != null) rows.push(["Bitrate", `${Math.round(stats.bitrate_kbps)} kbit/s`]);
  if (stats.fps != null) rows.push(["Frame rate", `${stats.fps.toFixed(1)} fps`]);
  if (stats.keyframe_interval_s != null) rows.push(["Keyframe interval", `${stats.keyframe_interval_s.toFixed(1)} s`]);
  rows.push(["Reconnects", String(stats.reconnects)]);
  if (stats.clock) rows.push(["Clock", stats.clock === "camera" ? "camera (RTCP)" : "server receive time"]);
  if (stats.pending_segments) rows.push(["Waiting for storage", `${stats.pending_segments} segments`]);
  if (stats.lost_segments) rows.push(["Lost", `${stats.lost_segments} segments`]);
  return rows;
}

export function StreamHealth({ camera: c, now = Date.now() }: { camera: CameraRead; now?: number }) {
  return (
    <section className="panel" aria-labelledby="health-title">
      <h2 id="health-title">Stream health</h2>
      {c.fault ? (
        <div className="problem" role="status">
          <p>
            <strong>{faultWords(c.fault)}.</strong> {WHAT_TO_DO[c.fault] ?? ""}
          </p>
          {c.last_error && <p className="mono">{c.last_error}</p>}
        </div>
      ) : null}
      <dl className="facts">
        <dt>Status since</dt>
        <dd>{c.status_changed_at ? ago(c.status_changed_at, now) : "not recorded yet"}</dd>
        <dt>Last video</dt>
        <dd>{c.last_frame_at ? ago(c.last_frame_at, now) : "none received yet"}</dd>
        {c.stream_stats &&
          figures(c.stream_stats).map(([name, value]) => (
            <Fragment key={name}>
              <dt>{name}</dt>
              <dd>{value}</dd>
            </Fragment>
          ))}
      </dl>
      {!c.stream_stats && !c.fault && (
        <p className="muted">Measured figures appear here about a minute after recording starts.</p>
      )}
    </section>
  );
}
