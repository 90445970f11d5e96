// Change a user's role, site scope or whether they may sign in (each change signs them out).
import { useState } from "react";
import type { UserRead } from "../api";
import { ProblemMessage } from "../components/States";
import { SiteScope } from "./SiteScope";
import { useUserActions } from "./queries";

type Role = "admin" | "supervisor" | "viewer";

export function UserEdit({ user, onDone }: { user: UserRead; onDone: () => void }) {
  const { update } = useUserActions();
  const [role, setRole] = useState<Role>(user.role === "provider_admin" ? "admin" : user.role);
  const [scope, setScope] = useState<string[]>(user.scope_node_ids);
  const [active, setActive] = useState(user.is_active);
  return (
    <form
      className="panel"
      aria-label={`Edit ${user.email}`}
      onSubmit={(e) => {
        e.preventDefault();
        update.mutate({ id: user.id, body: { role, scope_node_ids: role === "admin" ? [] : scope, is_active: active } }, { onSuccess: onDone });
      }}
    >
      <h3>Edit {user.email}</h3>
      <label>
        Role
        <select value={role} onChange={(e) => setRole(e.target.value as Role)}>
          <option value="viewer">Viewer</option>
          <option value="supervisor">Supervisor</option>
          <option value="admin">Admin</option>
        </select>
      </label>
      <SiteScope value={role === "admin" ? [] : scope} onChange={setScope} disabled={role === "admin"} />
      <label className="check">
        <input type="checkbox" checked={active} onChange={(e) => setActive(e.target.checked)} />
        May sign in (active)
      </label>
      <p className="help">Saving a new role, scope or a deactivation signs the user out everywhere.</p>
      {update.isError && <ProblemMessage error={update.error} />}
      <div className="row">
        <button type="submit" className="primary" disabled={update.isPending}>
          Save user
        </button>
        <button type="button" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}
