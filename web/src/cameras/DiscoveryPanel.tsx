// Find cameras on the network: an address scan or ONVIF WS-Discovery runs as a job on the server;
// its progress and results stream in over SSE, and each result is one form away from being a camera.
// The job id is kept in the URL (?job=), so a reload follows the same job; past jobs are listed
// under the form (DiscoveryHistory) and open the same way.
import { useState, type FormEvent } from "react";
import { useMutation } from "@tanstack/react-query";
import { Link, useSearchParams } from "react-router-dom";
import { api, ApiError, unwrap } from "../api";
import { ProblemMessage } from "../components/States";
import { DiscoveredAddForm } from "./DiscoveredAddForm";
import { DiscoveryHistory } from "./DiscoveryHistory";
import { progressOf, useDiscoveryJob, type DiscoveryState } from "./discovery";
import type { DiscoveredDevice } from "./queries";
import { TableHead } from "../components/TableHead";

type Method = "scan" | "ws-discovery";
const DEFAULT_PORTS = "554, 80, 443, 8000, 8080";

/** "554, 80 8080" → [554, 80, 8080]; null when any part is not a port number. */
export function parsePorts(text: string): number[] | null {
  const parts = text.split(/[\s,;]+/).filter(Boolean);
  const ports = parts.map(Number);
  return parts.length > 0 && ports.every((p) => Number.isInteger(p) && p >= 1 && p <= 65535) ? ports : null;
}

export default function DiscoveryPanel() {
  const [params, setParams] = useSearchParams();
  const jobId = params.get("job");
  const [state, dispatch] = useDiscoveryJob(jobId);
  const follow = (id: string | undefined) => {
    const next = new URLSearchParams(params);
    id ? next.set("job", id) : next.delete("job");
    setParams(next, { replace: true });
  };

  return (
    <section className="panel discovery" aria-labelledby="discover-title">
      <h2 id="discover-title">Discover cameras</h2>
      {jobId ? (
        <JobView
          state={state}
          jobId={jobId}
          onAdded={(index, cameraId) => dispatch({ type: "added", index, camera_id: cameraId })}
          onNew={() => follow(undefined)}
        />
      ) : (
        <>
          <DiscoveryForm onStarted={follow} />
          <DiscoveryHistory onOpen={follow} />
        </>
      )}
    </section>
  );
}

function DiscoveryForm({ onStarted }: { onStarted: (jobId: string) => void }) {
  const [method, setMethod] = useState<Method>("scan");
  const [targets, setTargets] = useState("");
  const [ports, setPorts] = useState(DEFAULT_PORTS);
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [multicast, setMulticast] = useState(true);
  const [timeout, setTimeoutS] = useState("");
  const parsedPorts = parsePorts(ports);

  const start = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST("/api/v1/cameras/discovery", {
          body:
            method === "scan"
              ? {
                  method,
                  multicast: false,
                  targets: targets.trim(),
                  ports: parsedPorts ?? [],
                  timeout_s: timeout ? Number(timeout) : null,
                  credentials: username ? { username, password } : null,
                }
              : { method, targets: targets.trim() || null, multicast, timeout_s: timeout ? Number(timeout) : null },
        }),
      ),
    onSuccess: (job) => onStarted(job.id),
  });
  const fieldErrors = start.error instanceof ApiError ? start.error.fieldErrors : {};
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (method === "scan" && !parsedPorts) return;
    start.mutate();
  };

  return (
    <form onSubmit={submit} aria-label="Discovery settings">
      <fieldset className="choice">
        <legend>How to look</legend>
        <label className="check">
          <input type="radio" name="method" checked={method === "scan"} onChange={() => setMethod("scan")} />
          Address scan (any brand: tries camera ports on each address)
        </label>
        <label className="check">
          <input type="radio" name="method" checked={method === "ws-discovery"} onChange={() => setMethod("ws-discovery")} />
          ONVIF WS-Discovery (cameras on this network segment answer by themselves)
        </label>
      </fieldset>
      <div className="field">
        <label>
          {method === "scan" ? "Addresses" : "Addresses to ask directly (optional)"}
          <input
            required={method === "scan"}
            value={targets}
            onChange={(e) => setTargets(e.target.value)}
            placeholder={method === "scan" ? "10.0.0.0/24, 10.0.1.10-50, 10.0.2.7" : "10.0.5.20, 10.0.6.0/28"}
            className="mono"
            aria-describedby="targets-help"
          />
        </label>
        <span id="targets-help" className="help">
          CIDRs, ranges and single addresses, separated by commas; at most 1,024 addresses per job (a /22).
        </span>
        {fieldErrors.targets && <span className="field-error">{fieldErrors.targets}</span>}
      </div>
      {method === "scan" ? (
        <>
          <div className="field">
            <label>
              Ports
              <input
                value={ports}
                onChange={(e) => setPorts(e.target.value)}
                className="mono"
                aria-invalid={!parsedPorts}
                aria-describedby="ports-error"
              />
            </label>
            <span id="ports-error" className="field-error">
              {!parsedPorts ? "Ports are numbers from 1 to 65535, separated by commas." : fieldErrors.ports}
            </span>
          </div>
          <div className="row">
            <label>
              Device username (optional)
              <input autoComplete="off" value={username} onChange={(e) => setUsername(e.target.value)} />
            </label>
            <label>
              Device password
              <input type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} />
            </label>
          </div>
          <p className="help">
            Credentials let locked devices say who they are. They are sent as digests only, to devices that ask, and
            are never stored.
          </p>
        </>
      ) : (
        <label className="check">
          <input type="checkbox" checked={multicast} onChange={(e) => setMulticast(e.target.checked)} />
          Also ask the whole local network segment (multicast)
        </label>
      )}
      <div className="field">
      <label className="narrow">
        {method === "scan" ? "Timeout per address (s)" : "Wait for answers (s)"}
        <input
          type="number"
          min={0.1}
          max={method === "scan" ? 10 : 30}
          step={0.1}
          value={timeout}
          placeholder={method === "scan" ? "1" : "3"}
          onChange={(e) => setTimeoutS(e.target.value)}
        />
      </label>
      {fieldErrors.timeout_s && <span className="field-error">{fieldErrors.timeout_s}</span>}
      </div>
      {start.isError && <ProblemMessage error={start.error} />}
      <button type="submit" className="primary" disabled={start.isPending}>
        {start.isPending ? "Starting…" : "Start discovery"}
      </button>
    </form>
  );
}

function JobView({
  state,
  jobId,
  onAdded,
  onNew,
}: {
  state: DiscoveryState;
  jobId: string;
  onAdded: (index: number, cameraId: string) => void;
  onNew: () => void;
}) {
  const [adding, setAdding] = useState<number | null>(null);
  const cancel = useMutation({
    mutationFn: async () =>
      unwrap(await api.POST("/api/v1/cameras/discovery/{job_id}/cancel", { params: { path: { job_id: jobId } } })),
  });
  const job = state.job;
  const share = progressOf(state);
  const running = job !== null && !state.finished;

  return (
    <div>
      <div className="discovery-progress">
        <progress aria-label="Discovery progress" max={1} value={job ? share : undefined} />
        <p role="status" aria-live="polite" data-testid="discovery-status">
          {!job
            ? "Connecting…"
            : summary(job.status, job.method, job.hosts_done, job.hosts_total, job.devices_found || state.results.length)}
        </p>
        <div className="row">
          {running && (
            <button type="button" onClick={() => cancel.mutate()} disabled={cancel.isPending}>
              {cancel.isPending ? "Cancelling…" : "Cancel"}
            </button>
          )}
          <button type="button" className={state.finished ? "primary" : ""} onClick={onNew}>
            New discovery
          </button>
        </div>
      </div>
      {job?.status === "failed" && job.error && <p className="problem" role="alert">The job failed: {job.error}</p>}
      {cancel.isError && <ProblemMessage error={cancel.error} />}
      {state.connectionError && (
        <p className="problem" role="alert">
          {state.connectionError}
        </p>
      )}
      {state.results.length === 0 ? (
        state.finished ? (
          <div className="state state-empty" role="status">
            <h3>No cameras found</h3>
            <p>
              Check the addresses and ports (cameras often use 554, 80, 8000 or 8080), that this server can reach that
              network, and for WS-Discovery that multicast passes between you and the cameras.
            </p>
          </div>
        ) : null
      ) : (
        <div className="table-wrap">
          <table className="table" aria-label="Discovered devices">
            <TableHead columns={["Address", "Kind", "Manufacturer", "Model", "Name", "Ports"]} action="Action" />
            <tbody>
              {state.results.map((d) => (
                <DeviceRow
                  key={d.index}
                  device={d}
                  jobId={jobId}
                  open={adding === d.index}
                  onToggle={() => setAdding(adding === d.index ? null : d.index)}
                  onAdded={(cameraId) => onAdded(d.index, cameraId)}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

function summary(status: string, method: string, done: number, total: number, found: number): string {
  const devices = `${found} device${found === 1 ? "" : "s"} found`;
  const counted = method === "scan" && total > 0 ? `${done} of ${total} addresses checked · ` : "";
  switch (status) {
    case "queued":
      return "Waiting to start…";
    case "running":
      return `Searching… ${counted}${devices}`;
    case "completed":
      return `Finished: ${counted}${devices}`;
    case "cancelled":
      return `Cancelled: ${counted}${devices}`;
    default:
      return `Failed: ${counted}${devices}`;
  }
}

function DeviceRow({
  device,
  jobId,
  open,
  onToggle,
  onAdded,
}: {
  device: DiscoveredDevice;
  jobId: string;
  open: boolean;
  onToggle: () => void;
  onAdded: (cameraId: string) => void;
}) {
  const existing = device.camera_id ?? device.known_camera_id;
  return (
    <>
      <tr data-testid="discovered-row">
        <th scope="row" className="mono">
          {device.host}
        </th>
        <td>
          <span className="badge badge-kind">{device.kind.toUpperCase()}</span>
          {device.requires_auth && <span className="muted"> · needs credentials</span>}
        </td>
        <td>{device.manufacturer ?? "—"}</td>
        <td>{device.model ?? "—"}</td>
        <td>{device.name ?? "—"}</td>
        <td className="mono">{(device.ports ?? []).join(", ")}</td>
        <td>
          {existing ? (
            <Link to={`/cameras/${existing}`}>{device.camera_id ? "Added" : "Already added"}</Link>
          ) : (
            <button type="button" aria-expanded={open} onClick={onToggle} aria-label={`Add ${device.host}`}>
              Add…
            </button>
          )}
        </td>
      </tr>
      {open && (
        <tr className="add-row">
          <td colSpan={7}>
            <DiscoveredAddForm device={device} jobId={jobId} onAdded={onAdded} onCancel={onToggle} />
          </td>
        </tr>
      )}
    </>
  );
}
