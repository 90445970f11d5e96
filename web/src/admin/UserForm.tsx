// Create a user: e-mail, name, role, initial password and (Supervisor, Viewer) the sites they see.
import { useState } from "react";
import { ProblemMessage } from "../components/States";
import { SiteScope } from "./SiteScope";
import { useUserActions } from "./queries";
import { validateUser, type UserDraft } from "./validate";

const EMPTY: UserDraft = { email: "", full_name: "", role: "viewer", password: "", scope_node_ids: [] };

export function UserForm({ onDone }: { onDone: (email: string) => void }) {
  const { create } = useUserActions();
  const [draft, setDraft] = useState(EMPTY);
  const [touched, setTouched] = useState(false);
  const errors = validateUser(draft);
  const set = <K extends keyof UserDraft>(k: K, v: UserDraft[K]) => setDraft((d) => ({ ...d, [k]: v }));
  const show = (k: keyof UserDraft) => (touched ? errors[k] : undefined);

  return (
    <form
      className="panel user-form"
      aria-labelledby="new-user-title"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        setTouched(true);
        if (Object.keys(errors).length === 0)
          create.mutate({ ...draft, email: draft.email.trim() }, { onSuccess: (u) => (setDraft(EMPTY), setTouched(false), onDone(u.email)) });
      }}
    >
      <h2 id="new-user-title">New user</h2>
      <div className="row">
        <div className="field">
          <label htmlFor="new-user-email">E-mail</label>
          <input id="new-user-email" type="email" value={draft.email} onChange={(e) => set("email", e.target.value)} aria-invalid={!!show("email")} autoComplete="off" />
          {show("email") && <span className="field-error">{show("email")}</span>}
        </div>
        <label>
          Full name
          <input value={draft.full_name} onChange={(e) => set("full_name", e.target.value)} />
        </label>
      </div>
      <div className="row">
        <label>
          Role
          <select value={draft.role} onChange={(e) => setDraft((d) => ({ ...d, role: e.target.value as UserDraft["role"], scope_node_ids: e.target.value === "admin" ? [] : d.scope_node_ids }))}>
            <option value="viewer">Viewer — watch live, playback and events</option>
            <option value="supervisor">Supervisor — also act on events and cameras</option>
            <option value="admin">Admin — also users and configuration</option>
          </select>
        </label>
        <div className="field">
          <label htmlFor="new-user-password">Initial password</label>
          <input id="new-user-password" type="password" value={draft.password} onChange={(e) => set("password", e.target.value)} aria-invalid={!!show("password")} autoComplete="new-password" />
          {show("password") ? <span className="field-error">{show("password")}</span> : <span className="help">They set up two-step verification at first sign-in.</span>}
        </div>
      </div>
      <SiteScope value={draft.scope_node_ids} onChange={(v) => set("scope_node_ids", v)} disabled={draft.role === "admin"} error={show("scope_node_ids")} />
      {create.isError && <ProblemMessage error={create.error} />}
      <button type="submit" className="primary" disabled={create.isPending}>
        {create.isPending ? "Creating…" : "Create user"}
      </button>
    </form>
  );
}
