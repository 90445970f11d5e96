import type { CameraStatus } from "../api";

const LABELS: Record<CameraStatus, string> = {
  online: "Online",
  offline: "Offline",
  degraded: "Degraded",
  auth_failed: "Credentials refused",
  unknown: "Unknown",
};

/** A camera's status as text plus colour (never colour alone). */
export function StatusBadge({ status }: { status: CameraStatus }) {
  return <span className={`badge badge-${status}`}>{LABELS[status] ?? status}</span>;
}

export function CountBadges({ online, offline, total }: { online: number; offline: number; total: number }) {
  return (
    <span className="counts" aria-label={`${total} cameras: ${online} online, ${offline} offline`}>
      <span className="badge badge-online" title="Online">
        {online}
      </span>
      <span className="badge badge-offline" title="Offline">
        {offline}
      </span>
      <span className="badge badge-unknown" title="Total">
        {total}
      </span>
    </span>
  );
}
