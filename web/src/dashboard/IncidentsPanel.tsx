// The dashboard's "Open incidents" panel: what the watchdog found wrong (latency over the SLA,
// throughput dropping, a service down), the five newest open ones and an Acknowledge button.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "../api";
import { useMe, canOperate } from "../auth/useAuth";
import { EmptyState, ErrorState, Loading, ProblemMessage } from "../components/States";

export type Incident = Schemas["IncidentRead"];
export type IncidentSeverity = Incident["severity"];
export type IncidentType = Incident["incidentType"];

export const NEWEST = 5;
const KEY = ["incidents", "open"] as const;
const TYPE_WORDS: Record<IncidentType, string> = {
  LATENCY_BREACH: "Latency over the SLA",
  THROUGHPUT_DROP: "Throughput dropped",
  SERVICE_FAILURE: "Service failure",
};
// The inbox's priority colours (styles.css); the word is always shown, never colour alone.
const SEVERITY_TONE: Record<IncidentSeverity, string> = { CRITICAL: "critical", HIGH: "high", MEDIUM: "medium", LOW: "standard" };
const when = new Intl.DateTimeFormat(undefined, { dateStyle: "short", timeStyle: "short" });

export function IncidentsPanel() {
  const client = useQueryClient();
  const me = useMe();
  const operator = canOperate(me.data);
  const open = useQuery({
    queryKey: KEY,
    queryFn: async () =>
      unwrap(await api.GET("/api/v1/incidents", { params: { query: { status: "open", limit: NEWEST, offset: 0 } } })),
    refetchInterval: 30_000,
  });
  const acknowledge = useMutation({
    mutationFn: async (id: string) =>
      unwrap(await api.POST("/api/v1/incidents/{incident_id}/acknowledge", { params: { path: { incident_id: id } } })),
    onSettled: () => client.invalidateQueries({ queryKey: KEY }),
  });
  return (
    <section aria-labelledby="dash-incidents" className="dash-section">
      <h2 id="dash-incidents">Open incidents</h2>
      <p className="muted">Problems the watchdog found: a model over its latency SLA, throughput dropping, a service down.</p>
      {open.isPending ? (
        <Loading label="Loading open incidents…" />
      ) : open.isError ? (
        <ErrorState error={open.error} onRetry={() => void open.refetch()} />
      ) : open.data.total === 0 ? (
        <EmptyState title="No open incidents">
          <p>Every service is within its limits. New incidents show here within a minute of the watchdog raising them.</p>
        </EmptyState>
      ) : (
        <>
          <p data-testid="incident-count">
            <strong>{open.data.total}</strong> open {open.data.total === 1 ? "incident" : "incidents"}
            {open.data.total > open.data.items.length ? `; the ${open.data.items.length} newest:` : ":"}
          </p>
          {acknowledge.isError && <ProblemMessage error={acknowledge.error} />}
          <ul className="incidents" aria-label="Newest open incidents">
            {open.data.items.map((incident) => (
              <li key={incident.incidentId} className="incident">
                <span className={`badge badge-priority-${SEVERITY_TONE[incident.severity] ?? "standard"}`}>{incident.severity}</span>
                <div className="incident-text">
                  <strong>{incident.summary}</strong>
                  <span className="muted">
                    {TYPE_WORDS[incident.incidentType] ?? incident.incidentType}
                    {incident.aiModel ? ` · ${incident.aiModel}` : ""} · since {when.format(new Date(incident.timestamp))}
                  </span>
                  {incident.remediation && <span className="muted">Done so far: {incident.remediation}</span>}
                </div>
                {operator ? (
                  <button
                    type="button"
                    onClick={() => acknowledge.mutate(incident.incidentId)}
                    disabled={acknowledge.isPending && acknowledge.variables === incident.incidentId}
                    aria-label={`Acknowledge: ${incident.summary}`}
                  >
                    Acknowledge
                  </button>
                ) : null}
              </li>
            ))}
          </ul>
          {!operator && me.data ? <p className="muted">Only an Admin or a Supervisor can acknowledge incidents.</p> : null}
        </>
      )}
    </section>
  );
}
