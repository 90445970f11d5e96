// Settings › Users (Admin): find, create, edit role/scope/active, reset MFA, unlock and delete.
import { useState } from "react";
import type { UserRead } from "../api";
import { useMe } from "../auth/useAuth";
import { EmptyState, ErrorState, Loading, ProblemMessage } from "../components/States";
import { Confirm } from "../config/Confirm";
import { useUserActions, useUsers } from "./queries";
import { UserEdit } from "./UserEdit";
import { UserForm } from "./UserForm";
import "../config/config.css";
import { TableHead } from "../components/TableHead";

type Action = { kind: "mfa" | "unlock" | "delete"; user: UserRead };

const ACTION_TEXT = {
  mfa: { title: "Reset two-step verification", button: "Reset MFA", what: "signs them out and has them enrol a new authenticator at next sign-in." },
  unlock: { title: "Unlock", button: "Unlock", what: "lets them try signing in again at once." },
  delete: { title: "Delete", button: "Delete user", what: "removes the account and signs it out; this cannot be undone." },
} as const;

export default function UsersPage() {
  const me = useMe();
  const [q, setQ] = useState("");
  const users = useUsers(q.trim());
  const actions = useUserActions();
  const [adding, setAdding] = useState(false);
  const [editing, setEditing] = useState<string | null>(null);
  const [pending, setPending] = useState<Action | null>(null);
  const [notice, setNotice] = useState("");
  const mutation = pending ? { mfa: actions.resetMfa, unlock: actions.unlock, delete: actions.remove }[pending.kind] : null;

  return (
    <section aria-labelledby="users-title">
      <div className="page-head">
        <h1 id="users-title">Users</h1>
        <button type="button" className="primary" aria-expanded={adding} onClick={() => setAdding((a) => !a)}>
          {adding ? "Close the form" : "Add user"}
        </button>
      </div>
      {notice && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      {adding && <UserForm onDone={(email) => (setAdding(false), setNotice(`${email} was created.`))} />}
      <div className="filters">
        <label>
          Search users
          <input type="search" value={q} onChange={(e) => setQ(e.target.value)} placeholder="name or e-mail" />
        </label>
      </div>
      {users.isPending ? (
        <Loading label="Loading users…" />
      ) : users.isError ? (
        <ErrorState error={users.error} onRetry={() => void users.refetch()} />
      ) : users.data.items.length === 0 ? (
        <EmptyState title={q ? "No user matches" : "No users yet"}>
          <p>{q ? "Try another name or e-mail, or clear the search." : "Add the first user with “Add user”."}</p>
        </EmptyState>
      ) : (
        <div className="table-wrap">
          <table className="table" data-testid="users">
            <caption className="sr-only">Users of this customer</caption>
            <TableHead columns={["User", "Role", "Sites", "State", "Actions"]} />
            <tbody>
              {users.data.items.map((u) => (
                <tr key={u.id}>
                  <th scope="row">
                    {u.full_name || u.email}
                    <div className="muted">{u.email}</div>
                  </th>
                  <td>{u.role}</td>
                  <td>{u.scope_node_ids.length ? `${u.scope_node_ids.length} site(s)` : "all"}</td>
                  <td>
                    {u.is_active ? "active" : "disabled"}
                    {u.locked_until && new Date(u.locked_until) > new Date() && " · locked"}
                    {!u.mfa_enrolled && " · MFA not set up"}
                  </td>
                  <td>
                    <div className="admin-actions">
                      <button type="button" onClick={() => setEditing(editing === u.id ? null : u.id)} aria-label={`Edit ${u.email}`}>
                        Edit
                      </button>
                      {u.id !== me.data?.id && (
                        <>
                          <button type="button" onClick={() => setPending({ kind: "mfa", user: u })} aria-label={`Reset MFA of ${u.email}`}>
                            Reset MFA
                          </button>
                          {u.locked_until && (
                            <button type="button" onClick={() => setPending({ kind: "unlock", user: u })} aria-label={`Unlock ${u.email}`}>
                              Unlock
                            </button>
                          )}
                          <button type="button" onClick={() => setPending({ kind: "delete", user: u })} aria-label={`Delete ${u.email}`}>
                            Delete
                          </button>
                        </>
                      )}
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {editing && users.data?.items.find((u) => u.id === editing) && (
        <UserEdit user={users.data.items.find((u) => u.id === editing)!} onDone={() => setEditing(null)} />
      )}
      {pending && mutation && (
        <Confirm
          title={`${ACTION_TEXT[pending.kind].title} ${pending.user.email}?`}
          confirmLabel={ACTION_TEXT[pending.kind].button}
          busy={mutation.isPending}
          onCancel={() => (mutation.reset(), setPending(null))}
          onConfirm={() =>
            mutation.mutate(pending.user.id, {
              onSuccess: () => (setNotice(`${ACTION_TEXT[pending.kind].title}: done for ${pending.user.email}.`), setPending(null)),
            })
          }
        >
          <p>This {ACTION_TEXT[pending.kind].what}</p>
          {mutation.isError && <ProblemMessage error={mutation.error} />}
        </Confirm>
      )}
    </section>
  );
}
