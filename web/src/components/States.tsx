// Loading, empty and error states: every screen uses these, so each says what to do next.
import type { ReactNode } from "react";
import { describeError } from "../api";

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <p className="state state-loading" role="status" aria-live="polite">
      {label}
    </p>
  );
}

export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="state state-empty" role="status">
      <h3>{title}</h3>
      {children}
    </div>
  );
}

export function ErrorState({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const { title, detail } = describeError(error);
  return (
    <div className="state state-error" role="alert">
      <h3>{title}</h3>
      {detail && <p>{detail}</p>}
      {onRetry && (
        <button type="button" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

/** An inline problem (a form's answer from the API), with field messages when it is a 422. */
export function ProblemMessage({ error }: { error: unknown }) {
  const { title, detail } = describeError(error);
  return (
    <div className="problem" role="alert">
      <strong>{title}</strong>
      {detail && <span> — {detail}</span>}
    </div>
  );
}
