// Checkboxes of the customer's sites, to limit a Supervisor or Viewer to some of them.
import { useEffect } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { keys, useSiteTree } from "../api/queries";

export function SiteScope({ value, onChange, disabled, error }: { value: string[]; onChange: (v: string[]) => void; disabled?: boolean; error?: string }) {
  const tree = useSiteTree();
  const client = useQueryClient();
  // The list may have been cached before a site was added elsewhere: ask again when the form opens.
  useEffect(() => void client.invalidateQueries({ queryKey: keys.tree }), [client]);
  const sites = tree.data?.sites ?? [];
  return (
    <fieldset className="model-checklist" disabled={disabled} aria-describedby="scope-help">
      <legend>Limit to sites</legend>
      {tree.isPending && <span className="muted">Loading sites…</span>}
      {tree.isError && <span className="field-error">Sites could not be loaded; leave the user unlimited or try again later.</span>}
      {tree.isSuccess && sites.length === 0 && <span className="muted">No sites yet; the user sees the whole customer.</span>}
      {sites.map((s) => (
        <label key={s.id} className="check">
          <input
            type="checkbox"
            checked={value.includes(s.id)}
            onChange={(e) => onChange(e.target.checked ? [...value, s.id] : value.filter((x) => x !== s.id))}
          />
          {s.name}
        </label>
      ))}
      <span id="scope-help" className="help">
        {disabled ? "Admins always manage the whole customer." : "None checked: the whole customer."}
      </span>
      {error && <span className="field-error">{error}</span>}
    </fieldset>
  );
}
