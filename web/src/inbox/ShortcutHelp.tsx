// The "?" dialog: every inbox shortcut, from the same table the handler uses.
import { useEffect, useRef } from "react";
import { keyLabel, SHORTCUTS } from "./shortcuts";

export function ShortcutHelp({ operator, onClose }: { operator: boolean; onClose: () => void }) {
  const close = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    const previous = document.activeElement as HTMLElement | null;
    close.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape" || e.key === "?") {
        e.preventDefault();
        e.stopPropagation();
        onClose();
      }
    };
    window.addEventListener("keydown", onKey, true);
    return () => {
      window.removeEventListener("keydown", onKey, true);
      previous?.focus?.();
    };
  }, [onClose]);

  return (
    <div className="dialog-backdrop" onClick={onClose}>
      <div
        className="dialog"
        role="dialog"
        aria-modal="true"
        aria-labelledby="shortcuts-title"
        onClick={(e) => e.stopPropagation()}
      >
        <h2 id="shortcuts-title">Keyboard shortcuts</h2>
        <table className="table">
          <tbody>
            {SHORTCUTS.filter((s) => operator || !s.operator).map((s) => (
              <tr key={s.command}>
                <td>
                  {s.keys.map((k, i) => (
                    <span key={k}>
                      {i > 0 && " or "}
                      <kbd>{keyLabel(k)}</kbd>
                    </span>
                  ))}
                </td>
                <td>{s.description}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <p className="muted">Keys do nothing while you type in a field; Esc leaves it.</p>
        <button ref={close} type="button" onClick={onClose}>
          Close
        </button>
      </div>
    </div>
  );
}
