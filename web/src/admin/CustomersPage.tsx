// Settings › Customers (provider staff): customers with their license, create, edit the license,
// suspend or activate.
import { useState } from "react";
import { EmptyState, ErrorState, Loading, ProblemMessage } from "../components/States";
import { Confirm } from "../config/Confirm";
import { CustomerCreateForm, LicenseEditForm } from "./CustomerForms";
import { useCustomerActions, useCustomers, type CustomerRead } from "./queries";
import "../config/config.css";
import { TableHead } from "../components/TableHead";

function LicenseSummary({ c }: { c: CustomerRead }) {
  const l = c.license;
  if (!l) return <span className="field-error">No license: the customer cannot add cameras.</span>;
  return (
    <>
      {l.camera_limit} cameras · until {l.valid_until.slice(0, 10)} ({l.state}
      {l.state !== "expired" ? `, ${l.days_left} days left` : ""})
      <div className="muted">{l.models.length ? l.models.join(", ") : "no AI models"}</div>
      {l.warning && <div className="field-error">{l.warning}</div>}
    </>
  );
}

export default function CustomersPage() {
  const [q, setQ] = useState("");
  const customers = useCustomers(q.trim());
  const { setStatus } = useCustomerActions();
  const [adding, setAdding] = useState(false);
  const [editing, setEditing] = useState<CustomerRead | null>(null);
  const [toggling, setToggling] = useState<CustomerRead | null>(null);
  const [notice, setNotice] = useState("");
  const next = toggling?.status === "suspended" ? "active" : "suspended";

  return (
    <section aria-labelledby="customers-title">
      <div className="page-head">
        <h1 id="customers-title">Customers</h1>
        <button type="button" className="primary" aria-expanded={adding} onClick={() => setAdding((a) => !a)}>
          {adding ? "Close the form" : "Add customer"}
        </button>
      </div>
      {notice && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      {adding && <CustomerCreateForm onDone={(name) => (setAdding(false), setNotice(`${name} was created.`))} />}
      <div className="filters">
        <label>
          Search customers
          <input type="search" value={q} onChange={(e) => setQ(e.target.value)} />
        </label>
      </div>
      {customers.isPending ? (
        <Loading label="Loading customers…" />
      ) : customers.isError ? (
        <ErrorState error={customers.error} onRetry={() => void customers.refetch()} />
      ) : customers.data.items.length === 0 ? (
        <EmptyState title={q ? "No customer matches" : "No customers yet"}>
          <p>{q ? "Try another name or clear the search." : "Add the first one with “Add customer”."}</p>
        </EmptyState>
      ) : (
        <div className="table-wrap">
          <table className="table" data-testid="customers">
            <caption className="sr-only">Customers and their licenses</caption>
            <TableHead columns={["Customer", "Status", "License", "Actions"]} />
            <tbody>
              {customers.data.items.map((c) => (
                <tr key={c.id}>
                  <th scope="row">
                    {c.name}
                    <div className="muted">{c.contact_email ?? "no contact e-mail"}</div>
                  </th>
                  <td>{c.status}</td>
                  <td>
                    <LicenseSummary c={c} />
                  </td>
                  <td>
                    <div className="admin-actions">
                      <button type="button" onClick={() => setEditing(c)} aria-label={`Edit the license of ${c.name}`}>
                        Edit license
                      </button>
                      <button type="button" onClick={() => (setStatus.reset(), setToggling(c))}>
                        {c.status === "suspended" ? `Activate ${c.name}` : `Suspend ${c.name}`}
                      </button>
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {editing && <LicenseEditForm key={editing.id} customer={editing} onDone={() => setEditing(null)} />}
      {toggling && (
        <Confirm
          title={`${next === "suspended" ? "Suspend" : "Activate"} ${toggling.name}?`}
          confirmLabel={next === "suspended" ? "Suspend" : "Activate"}
          busy={setStatus.isPending}
          onCancel={() => setToggling(null)}
          onConfirm={() => setStatus.mutate({ id: toggling.id, status: next }, { onSuccess: () => setToggling(null) })}
        >
          <p>{next === "suspended" ? "Its users are refused by the API (403: the account is suspended) until it is activated again." : "Its users can use the console and API again."}</p>
          {setStatus.isError && <ProblemMessage error={setStatus.error} />}
        </Confirm>
      )}
    </section>
  );
}
