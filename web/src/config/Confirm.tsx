// An inline confirmation for destructive or far-reaching actions: focus moves to it, Escape or
// Cancel closes it, and nothing happens until the named action is pressed. Used by config and admin.
import { useEffect, useRef, type ReactNode } from "react";

export function Confirm({
  title,
  children,
  confirmLabel,
  busy = false,
  onConfirm,
  onCancel,
}: {
  title: string;
  children?: ReactNode;
  confirmLabel: string;
  busy?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => ref.current?.focus(), []);
  return (
    <div
      ref={ref}
      role="alertdialog"
      aria-labelledby="confirm-title"
      tabIndex={-1}
      className="confirm panel"
      onKeyDown={(e) => e.key === "Escape" && onCancel()}
    >
      <h3 id="confirm-title">{title}</h3>
      {children}
      <div className="row">
        <button type="button" className="primary" disabled={busy} onClick={onConfirm}>
          {busy ? "Working…" : confirmLabel}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </div>
  );
}
