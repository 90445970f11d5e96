// Past discovery jobs, newest first: what was searched, how it went and how many devices it found.
// Opening one follows it like a new job (its results stay on the server), so devices found last
// week can still be added without scanning again.
import { useState } from "react";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { api, unwrap } from "../api";
import { EmptyState, ErrorState, Loading } from "../components/States";
import { Pager } from "../components/Pager";
import type { DiscoveryJobRead } from "./queries";
import { TableHead } from "../components/TableHead";

export const HISTORY_PAGE = 10;
const STATUS_WORDS: Record<string, string> = {
  queued: "Waiting",
  running: "Running",
  completed: "Finished",
  cancelled: "Cancelled",
  failed: "Failed",
};
const when = new Intl.DateTimeFormat(undefined, { dateStyle: "short", timeStyle: "short" });

/** What a job searched, in words. */
export function searched(job: Pick<DiscoveryJobRead, "method" | "targets" | "multicast">): string {
  if (job.method === "scan") return job.targets ?? "—";
  const parts = [job.multicast ? "local network (multicast)" : null, job.targets || null].filter(Boolean);
  return parts.join(" + ") || "—";
}

export function DiscoveryHistory({ onOpen }: { onOpen: (jobId: string) => void }) {
  const [offset, setOffset] = useState(0);
  const jobs = useQuery({
    queryKey: ["discovery", "jobs", offset],
    queryFn: async () =>
      unwrap(await api.GET("/api/v1/cameras/discovery", { params: { query: { limit: HISTORY_PAGE, offset } } })),
    placeholderData: keepPreviousData,
    refetchOnMount: "always", // back from following a job: that job's row has changed
    // a running job's progress moves; finished ones do not
    refetchInterval: (query) => (query.state.data?.items.some((j) => j.status === "running" || j.status === "queued") ? 5_000 : 60_000),
  });
  return (
    <section className="discovery-history" aria-labelledby="history-title">
      <h3 id="history-title">Past discoveries</h3>
      {jobs.isPending ? (
        <Loading label="Loading past discoveries…" />
      ) : jobs.isError ? (
        <ErrorState error={jobs.error} onRetry={() => void jobs.refetch()} />
      ) : jobs.data.total === 0 ? (
        <EmptyState title="No discoveries yet">
          <p>Start one above; each job and the devices it found are kept here, so they can be added later.</p>
        </EmptyState>
      ) : (
        <>
          <div className="table-wrap">
            <table className="table" aria-label="Past discoveries">
              <TableHead columns={["Started", "Method", "Searched", "Status", "Found", "Finished"]} action="Action" />
              <tbody>
                {jobs.data.items.map((job) => (
                  <tr key={job.id} data-testid="discovery-job">
                    <th scope="row">{when.format(new Date(job.started_at ?? job.created_at))}</th>
                    <td>{job.method === "scan" ? "Address scan" : "WS-Discovery"}</td>
                    <td className="mono">{searched(job)}</td>
                    <td>
                      <span className={`badge badge-job-${job.status}`}>{STATUS_WORDS[job.status] ?? job.status}</span>
                      {job.status === "running" && job.method === "scan" && job.hosts_total > 0 && (
                        <span className="muted">
                          {" "}
                          {job.hosts_done}/{job.hosts_total}
                        </span>
                      )}
                      {job.status === "failed" && job.error && <div className="muted">{job.error}</div>}
                    </td>
                    <td>{job.devices_found}</td>
                    <td>{job.finished_at ? when.format(new Date(job.finished_at)) : "—"}</td>
                    <td>
                      <button type="button" onClick={() => onOpen(job.id)} aria-label={`Open the discovery of ${searched(job)} started ${when.format(new Date(job.started_at ?? job.created_at))}`}>
                        Open
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager offset={offset} total={jobs.data.total} shown={jobs.data.items.length} onPage={setOffset} size={HISTORY_PAGE} />
        </>
      )}
    </section>
  );
}
