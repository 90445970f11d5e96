// Settings › Configuration: a node's effective values with the level that set each, edits within
// the registry's bounds, a dry-run diff to review before saving (with a reason), and versions.
import { useMemo, useState } from "react";
import { useSearchParams } from "react-router-dom";
import { useMe } from "../auth/useAuth";
import { EmptyState, ErrorState, Loading, ProblemMessage } from "../components/States";
import { EffectiveDiff } from "./DiffView";
import { GROUPS, GROUP_TITLES, groupParameters, parseDraft, type ConfigNode, type Draft } from "./model";
import { NodePicker } from "./NodePicker";
import { ParameterRow } from "./ParameterRow";
import { useEffectiveConfig, useParameters, usePatchConfig, type ChangeResult } from "./queries";
import { VersionsPanel } from "./VersionsPanel";
import "./config.css";

function nodeFromParams(params: URLSearchParams, provider: boolean): ConfigNode {
  if (provider) return { level: "system" };
  const level = params.get("level");
  const id = params.get("id");
  if (level === "site" && id) return { level: "site", id };
  if (level === "camera" && id) return { level: "camera", id, siteId: params.get("site") ?? undefined };
  return { level: "customer" };
}

function nodeToParams(node: ConfigNode): Record<string, string> {
  if (node.level === "site") return { level: "site", id: node.id };
  if (node.level === "camera") return { level: "camera", id: node.id, ...(node.siteId ? { site: node.siteId } : {}) };
  return {};
}

export default function ConfigPage() {
  const me = useMe();
  const [params, setParams] = useSearchParams();
  if (me.isPending) return <Loading />;
  if (me.isError) return <ErrorState error={me.error} onRetry={() => void me.refetch()} />;
  const provider = me.data.role === "provider_admin";
  const node = nodeFromParams(params, provider);
  const canWrite = provider || me.data.role === "admin";
  const key = JSON.stringify(node);
  return (
    <section aria-labelledby="config-title">
      <div className="page-head">
        <h1 id="config-title">Configuration</h1>
        {!canWrite && <span className="muted">Read only: Admins change configuration.</span>}
      </div>
      <NodePicker provider={provider} node={node} onChange={(n) => setParams(nodeToParams(n))} />
      <NodeEditor key={key} node={node} canWrite={canWrite} />
    </section>
  );
}

function NodeEditor({ node, canWrite }: { node: ConfigNode; canWrite: boolean }) {
  const parameters = useParameters();
  const config = useEffectiveConfig(node);
  const patch = usePatchConfig(node);
  const [drafts, setDrafts] = useState<Record<string, Draft>>({});
  const [unset, setUnset] = useState<Set<string>>(new Set());
  const [filter, setFilter] = useState("");
  const [review, setReview] = useState<ChangeResult | null>(null);
  const [reason, setReason] = useState("");
  const [saved, setSaved] = useState<number | null>(null);

  const grouped = useMemo(
    () => groupParameters((parameters.data ?? []).filter((p) => p.key.includes(filter.trim())), node.level),
    [parameters.data, filter, node.level],
  );
  if (parameters.isPending || config.isPending) return <Loading label="Loading configuration…" />;
  if (parameters.isError) return <ErrorState error={parameters.error} onRetry={() => void parameters.refetch()} />;
  if (config.isError) return <ErrorState error={config.error} onRetry={() => void config.refetch()} />;

  const byKey = new Map(parameters.data.map((p) => [p.key, p]));
  const parsed = Object.entries(drafts).map(([k, d]) => [k, parseDraft(byKey.get(k)!, d)] as const);
  const invalid = parsed.filter(([, p]) => !p.ok).length;
  const values = Object.fromEntries(parsed.flatMap(([k, p]) => (p.ok ? [[k, p.value]] : [])));
  const pending = Object.keys(values).length + unset.size;
  const body = { values, unset: [...unset], expected_version: config.data.version };

  const edit = (k: string, d: Draft | undefined) => {
    setReview(null);
    setSaved(null);
    setDrafts(({ [k]: _, ...rest }) => (d === undefined ? rest : { ...rest, [k]: d }));
  };
  const toggleUnset = (k: string, on: boolean) => {
    setReview(null);
    setSaved(null);
    setUnset((s) => {
      const next = new Set(s);
      if (on) next.add(k);
      else next.delete(k);
      return next;
    });
  };
  const startReview = () =>
    patch.mutate({ ...body, reason: "review", dryRun: true }, { onSuccess: (r) => (setReview(r), setReason("")) });
  const save = () =>
    patch.mutate(
      { ...body, reason: reason.trim(), dryRun: false },
      {
        onSuccess: (r) => {
          setReview(null);
          setDrafts({});
          setUnset(new Set());
          setSaved(r.saved ? r.version : null);
        },
      },
    );

  return (
    <>
      <p className="muted">
        Version {config.data.version}. Each value shows the level that set it; a level overrides the ones to its left:{" "}
        default › system › customer › site › camera.
      </p>
      {saved !== null && (
        <p className="notice" role="status">
          Saved as version {saved}.
        </p>
      )}
      <div className="filters">
        <label>
          Find a parameter
          <input type="search" value={filter} onChange={(e) => setFilter(e.target.value)} placeholder="e.g. confidence" />
        </label>
      </div>
      {GROUPS.map((g) => {
        const list = grouped.get(g) ?? [];
        if (list.length === 0) return null;
        return (
          <details key={g} className="config-group" open={g !== "models" || filter.trim() !== ""}>
            <summary>
              <h2>{GROUP_TITLES[g]}</h2> <span className="muted">({list.length})</span>
            </summary>
            <ul className="params">
              {list.map((p) => (
                <ParameterRow
                  key={p.key}
                  param={p}
                  effective={config.data.values[p.key]}
                  ownOverride={p.key in config.data.overrides}
                  draft={drafts[p.key]}
                  unset={unset.has(p.key)}
                  canWrite={canWrite}
                  onDraft={(d) => edit(p.key, d)}
                  onUnset={(u) => toggleUnset(p.key, u)}
                />
              ))}
            </ul>
          </details>
        );
      })}
      {[...grouped.values()].every((l) => l.length === 0) && (
        <EmptyState title="No parameter matches">
          <p>Clear the search to see every parameter this level may set.</p>
        </EmptyState>
      )}
      {canWrite && (
        <div className="review-bar" aria-live="polite">
          <span>
            {pending === 0 ? "No changes yet." : `${pending} change${pending === 1 ? "" : "s"} pending.`}
            {invalid > 0 && ` Fix ${invalid} value${invalid === 1 ? "" : "s"} first.`}
          </span>
          <button type="button" className="primary" disabled={pending === 0 || invalid > 0 || patch.isPending} onClick={startReview}>
            Review changes
          </button>
          <button type="button" disabled={pending === 0 && invalid === 0} onClick={() => (setDrafts({}), setUnset(new Set()), setReview(null))}>
            Discard
          </button>
        </div>
      )}
      {patch.isError && <ProblemMessage error={patch.error} />}
      {review && (
        <section className="panel review" aria-labelledby="review-title">
          <h2 id="review-title">Review changes</h2>
          <EffectiveDiff changes={review.effective_changes} />
          <form
            onSubmit={(e) => {
              e.preventDefault();
              if (reason.trim().length >= 3) save();
            }}
          >
            <div className="field">
              <label htmlFor="change-reason">Reason for the change</label>
              <input id="change-reason" value={reason} onChange={(e) => setReason(e.target.value)} aria-describedby="reason-help" required minLength={3} maxLength={500} />
              <span id="reason-help" className="help">
                Kept with the version and the audit record (at least 3 characters).
              </span>
            </div>
            <div className="row">
              <button type="submit" className="primary" disabled={patch.isPending || reason.trim().length < 3 || review.effective_changes.length === 0 && review.override_changes.length === 0}>
                Save as a new version
              </button>
              <button type="button" onClick={() => setReview(null)}>
                Back to editing
              </button>
            </div>
          </form>
        </section>
      )}
      <h2>Versions</h2>
      <VersionsPanel node={node} canWrite={canWrite} />
    </>
  );
}
