// Dashboard: cameras online / offline / degraded, events per hour over the last 24 h, open events,
// open watchdog incidents and the storage forecast. Each card loads, fails and retries on its own.
import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router-dom";
import { api, unwrap } from "../api";
import { keys, useSiteTree } from "../api/queries";
import { EmptyState, ErrorState, Loading } from "../components/States";
import { BarChart } from "./BarChart";
import { forecastWords, hourWindows, HOURS } from "./hourly";
import { IncidentsPanel } from "./IncidentsPanel";
import "./dashboard.css";

/** How many events match `query` (the list's `total`; one row asked for, none used). */
async function countEvents(query: { status: "NEW" | "ACKNOWLEDGED" }) {
  return unwrap(await api.GET("/api/v1/events", { params: { query: { ...query, limit: 1 } } })).total;
}

export default function DashboardPage() {
  return (
    <section aria-labelledby="dash-title" className="dashboard">
      <h1 id="dash-title">Dashboard</h1>
      <CamerasCard />
      <div className="dash-row">
        <OpenEventsCard />
        <StorageCard />
      </div>
      <IncidentsPanel />
      <EventsPerHourCard />
    </section>
  );
}

function CamerasCard() {
  const tree = useSiteTree();
  // The tree counts online and offline; degraded is counted by the camera list's status filter.
  const degraded = useQuery({
    queryKey: [...keys.cameras, "count", "degraded"],
    queryFn: async () =>
      unwrap(await api.GET("/api/v1/cameras", { params: { query: { status: "degraded", limit: 1 } } })).total,
    refetchInterval: 30_000,
  });
  return (
    <section aria-labelledby="dash-cameras" className="dash-section">
      <h2 id="dash-cameras">Cameras</h2>
      {tree.isPending ? (
        <Loading label="Loading cameras…" />
      ) : tree.isError ? (
        <ErrorState error={tree.error} onRetry={() => void tree.refetch()} />
      ) : tree.data.total.camera_count === 0 ? (
        <EmptyState title="No cameras yet">
          <p>
            Add a camera by its RTSP address on the <Link to="/cameras?add=1">Cameras</Link> screen; its status shows
            here once the server receives its stream.
          </p>
        </EmptyState>
      ) : (
        <div className="cards">
          <Card id="cameras" label="Cameras" value={tree.data.total.camera_count} to="/cameras" />
          <Card id="online" label="Online" value={tree.data.total.online_count} to="/cameras?status=online" tone="online" />
          <Card id="offline" label="Offline" value={tree.data.total.offline_count} to="/cameras?status=offline" tone="offline" />
          {degraded.isError ? (
            <div className="card card-problem" role="alert" data-testid="card-degraded">
              <span className="card-label">Degraded: could not be counted</span>
              <button type="button" className="link" onClick={() => void degraded.refetch()}>
                Try again
              </button>
            </div>
          ) : (
            <Card
              id="degraded"
              label="Degraded"
              value={degraded.data}
              to="/cameras?status=degraded"
              tone={degraded.data ? "warn" : undefined}
            />
          )}
          <Card
            id="other"
            label="Other (unknown, credentials refused)"
            value={
              degraded.data === undefined
                ? undefined
                : tree.data.total.camera_count - tree.data.total.online_count - tree.data.total.offline_count - degraded.data
            }
            to="/cameras"
          />
        </div>
      )}
    </section>
  );
}

function OpenEventsCard() {
  const open = useQuery({
    queryKey: [...keys.events, "open-count"],
    queryFn: async () => {
      const [fresh, acknowledged] = await Promise.all([countEvents({ status: "NEW" }), countEvents({ status: "ACKNOWLEDGED" })]);
      return { fresh, acknowledged };
    },
    refetchInterval: 15_000,
  });
  return (
    <section aria-labelledby="dash-open" className="dash-section">
      <h2 id="dash-open">Open events</h2>
      <p className="muted">AI events not yet resolved; watchdog incidents are listed under Open incidents.</p>
      {open.isPending ? (
        <Loading label="Counting open events…" />
      ) : open.isError ? (
        <ErrorState error={open.error} onRetry={() => void open.refetch()} />
      ) : (
        <>
          <div className="cards">
            <Card id="new" label="New, waiting for someone" value={open.data.fresh} to="/events" tone={open.data.fresh ? "offline" : undefined} />
            <Card
              id="acknowledged"
              label="Acknowledged, not resolved"
              value={open.data.acknowledged}
              to="/events?status=ACKNOWLEDGED"
              tone={open.data.acknowledged ? "warn" : undefined}
            />
          </div>
          {open.data.fresh + open.data.acknowledged === 0 && <p className="muted">Nothing open: every event has been handled.</p>}
        </>
      )}
    </section>
  );
}

function StorageCard() {
  const health = useQuery({
    queryKey: ["recordings", "health"],
    queryFn: async () => unwrap(await api.GET("/api/v1/recordings/health")),
    refetchInterval: 60_000,
  });
  const words = health.data ? forecastWords(health.data.forecast) : null;
  return (
    <section aria-labelledby="dash-storage" className="dash-section">
      <h2 id="dash-storage">Storage</h2>
      {health.isPending ? (
        <Loading label="Loading the storage forecast…" />
      ) : health.isError ? (
        <ErrorState error={health.error} onRetry={() => void health.refetch()} />
      ) : (
        <div className={`forecast forecast-${words!.tone}`} data-testid="storage-forecast">
          <p className="forecast-headline">{words!.headline}</p>
          <p>{words!.detail}</p>
          {health.data.forecast.free_bytes !== null && health.data.forecast.total_bytes ? (
            <meter
              min={0}
              max={health.data.forecast.total_bytes}
              value={health.data.forecast.total_bytes - health.data.forecast.free_bytes}
              aria-label="Disk used"
            />
          ) : null}
          <p className={health.data.retention.alive ? "muted" : "forecast-bad-text"}>
            {health.data.retention.alive
              ? "Retention is running: old recordings are deleted on schedule."
              : `Retention has stalled${health.data.retention.last_error ? `: ${health.data.retention.last_error}` : ""}. Old recordings are not being deleted; check the ingest role's log.`}
          </p>
          {health.data.alarms.length > 0 && (
            <ul className="alarms" aria-label="Storage alarms">
              {health.data.alarms.map((a) => (
                <li key={a}>{a}</li>
              ))}
            </ul>
          )}
        </div>
      )}
    </section>
  );
}

function EventsPerHourCard() {
  // One request: the statistics endpoint's buckets start at `since` and step by an hour, so asking
  // from this browser's local clock hour gives local hours even where the offset is not whole hours.
  const perHour = useQuery({
    queryKey: [...keys.events, "per-hour"],
    queryFn: async () => {
      const windows = hourWindows(new Date());
      const query = { bucket: "hour" as const, since: windows[0]!.since, until: windows[windows.length - 1]!.until };
      const stats = unwrap(await api.GET("/api/v1/statistics/events", { params: { query } }));
      const counts = new Map(stats.buckets.map((b) => [Date.parse(b.start), b.count]));
      return windows.map((w) => ({ ...w, value: counts.get(Date.parse(w.since)) ?? 0 }));
    },
    refetchInterval: 5 * 60_000,
    staleTime: 60_000,
  });
  const total = perHour.data?.reduce((sum, h) => sum + h.value, 0) ?? 0;
  const peak = perHour.data?.reduce((best, h) => (h.value > best.value ? h : best), perHour.data[0]!);
  return (
    <section aria-labelledby="dash-hourly" className="dash-section">
      <h2 id="dash-hourly">Events per hour, last {HOURS} hours</h2>
      {perHour.isPending ? (
        <Loading label="Counting events per hour…" />
      ) : perHour.isError ? (
        <ErrorState error={perHour.error} onRetry={() => void perHour.refetch()} />
      ) : total === 0 ? (
        <EmptyState title={`No events in the last ${HOURS} hours`}>
          <p>
            Events appear when an AI model running on a camera detects something. Turn models on from a camera's page on
            the <Link to="/cameras">Cameras</Link> screen.
          </p>
        </EmptyState>
      ) : (
        <>
          <p data-testid="hourly-summary">
            {total} {total === 1 ? "event" : "events"}; busiest hour {peak!.label} with {peak!.value}.{" "}
            <Link to="/events?period=24h&status=">Open them in the inbox</Link>
          </p>
          <BarChart
            caption={`Events per hour over the last ${HOURS} hours, oldest first`}
            category="Hour starting"
            unit="Events"
            bars={perHour.data.map((h) => ({
              key: h.since,
              label: h.label,
              value: h.value,
              title: h.current ? `${h.label} (so far)` : h.label,
            }))}
          />
        </>
      )}
    </section>
  );
}

function Card({ id, label, value, to, tone }: { id: string; label: string; value: number | undefined; to: string; tone?: string }) {
  return (
    <Link to={to} className={`card ${tone ? `card-${tone}` : ""}`} data-testid={`card-${id}`}>
      <span className="card-value">{value ?? "…"}</span>
      <span className="card-label">{label}</span>
    </Link>
  );
}
