// The node's versions (who, when, why), the difference between any two, and rollback to one.
import { useState } from "react";
import { EmptyState, ErrorState, Loading, ProblemMessage } from "../components/States";
import { Confirm } from "./Confirm";
import { OverrideDiff } from "./DiffView";
import { useRollback, useVersionDiff, useVersions } from "./queries";
import type { ConfigNode } from "./model";

export function VersionsPanel({ node, canWrite }: { node: ConfigNode; canWrite: boolean }) {
  const versions = useVersions(node);
  const items = versions.data?.items ?? [];
  const [from, setFrom] = useState<number | null>(null);
  const [to, setTo] = useState<number | null>(null);
  const diff = useVersionDiff(node, from, to);
  const [target, setTarget] = useState<number | null>(null);
  const [reason, setReason] = useState("");
  const rollback = useRollback(node);

  if (versions.isPending) return <Loading label="Loading versions…" />;
  if (versions.isError) return <ErrorState error={versions.error} onRetry={() => void versions.refetch()} />;
  if (items.length === 0)
    return (
      <EmptyState title="No versions yet">
        <p>Every saved change becomes a version here; change a value above and review it to create the first.</p>
      </EmptyState>
    );
  const choices = [0, ...items.map((v) => v.version)].sort((a, b) => a - b);
  const pick = (set: (n: number) => void) => (e: React.ChangeEvent<HTMLSelectElement>) => set(Number(e.target.value));

  return (
    <div className="versions">
      <div className="table-wrap">
        <table className="table" data-testid="versions">
          <caption className="sr-only">Versions, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">Action</th>
              <th scope="col">Who and when</th>
              <th scope="col">Reason</th>
              {canWrite && <th scope="col">Roll back</th>}
            </tr>
          </thead>
          <tbody>
            {items.map((v) => (
              <tr key={v.version}>
                <th scope="row">v{v.version}</th>
                <td>{v.rolled_back_to ? `rollback to v${v.rolled_back_to}` : v.action}</td>
                <td>
                  {v.actor ?? "system"} · {new Date(v.at).toLocaleString()}
                </td>
                <td>{v.reason}</td>
                {canWrite && (
                  <td>
                    {v.version !== items[0]?.version && (
                      <button type="button" onClick={() => (setTarget(v.version), setReason(""), rollback.reset())}>
                        Roll back to v{v.version}
                      </button>
                    )}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {target !== null && (
        <Confirm
          title={`Roll back to version ${target}?`}
          confirmLabel={`Roll back to v${target}`}
          busy={rollback.isPending}
          onCancel={() => setTarget(null)}
          onConfirm={() =>
            reason.trim().length >= 3 && rollback.mutate({ version: target, reason: reason.trim() }, { onSuccess: () => setTarget(null) })
          }
        >
          <p>The node's overrides become exactly those of v{target}; this is saved as a new version.</p>
          <div className="field">
            <label htmlFor="rollback-reason">Reason for the rollback</label>
            <input id="rollback-reason" value={reason} onChange={(e) => setReason(e.target.value)} aria-invalid={reason.trim().length < 3} />
            {reason.trim().length < 3 && <span className="field-error">Give a reason of at least 3 characters.</span>}
          </div>
          {rollback.isError && <ProblemMessage error={rollback.error} />}
        </Confirm>
      )}
      <h3>Compare two versions</h3>
      <div className="filters">
        <label>
          From
          <select value={from ?? ""} onChange={pick(setFrom)}>
            <option value="" disabled>
              Pick a version
            </option>
            {choices.map((n) => (
              <option key={n} value={n}>
                v{n}
              </option>
            ))}
          </select>
        </label>
        <label>
          To
          <select value={to ?? ""} onChange={pick(setTo)}>
            <option value="" disabled>
              Pick a version
            </option>
            {choices.map((n) => (
              <option key={n} value={n}>
                v{n}
              </option>
            ))}
          </select>
        </label>
      </div>
      {from !== null && to !== null && from === to && <p className="muted">Pick two different versions.</p>}
      {diff.isFetching && <Loading label="Comparing…" />}
      {diff.isError && <ErrorState error={diff.error} />}
      {diff.data && <OverrideDiff changes={diff.data.changes} />}
    </div>
  );
}
