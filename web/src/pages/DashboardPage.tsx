// Dashboard: how many cameras are online and offline, and how many events wait for someone.
import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router-dom";
import { api, unwrap } from "../api";
import { keys, useSiteTree } from "../api/queries";
import { EmptyState, ErrorState, Loading } from "../components/States";

export default function DashboardPage() {
  const tree = useSiteTree();
  const openEvents = useQuery({
    queryKey: [...keys.events, "open-count"],
    queryFn: async () =>
      unwrap(await api.GET("/api/v1/events", { params: { query: { status: "NEW", limit: 1 } } })).total,
    refetchInterval: 15_000,
  });

  return (
    <section aria-labelledby="dash-title">
      <h1 id="dash-title">Dashboard</h1>
      {tree.isPending ? (
        <Loading />
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
          <Card label="Cameras" value={tree.data.total.camera_count} to="/cameras" />
          <Card label="Online" value={tree.data.total.online_count} to="/cameras?status=online" tone="online" />
          <Card label="Offline" value={tree.data.total.offline_count} to="/cameras?status=offline" tone="offline" />
          <Card
            label="Other (unknown, degraded, credentials)"
            value={tree.data.total.camera_count - tree.data.total.online_count - tree.data.total.offline_count}
            to="/cameras"
          />
        </div>
      )}
      <h2>Events</h2>
      {openEvents.isPending ? (
        <Loading />
      ) : openEvents.isError ? (
        <ErrorState error={openEvents.error} onRetry={() => void openEvents.refetch()} />
      ) : (
        <div className="cards">
          <Card label="New events waiting" value={openEvents.data} to="/events" tone={openEvents.data ? "offline" : undefined} />
        </div>
      )}
    </section>
  );
}

function Card({ label, value, to, tone }: { label: string; value: number; to: string; tone?: string }) {
  return (
    <Link to={to} className={`card ${tone ? `card-${tone}` : ""}`} data-testid={`card-${label.split(" ")[0]!.toLowerCase()}`}>
      <span className="card-value">{value}</span>
      <span className="card-label">{label}</span>
    </Link>
  );
}
