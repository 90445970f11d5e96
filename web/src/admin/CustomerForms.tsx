// Provider staff: create a customer with its license, or replace a customer's license.
import { useState } from "react";
import { ProblemMessage } from "../components/States";
import { LicenseFields, licenseDraft, newLicense } from "./LicenseFields";
import { useCustomerActions, type CustomerRead } from "./queries";
import { licenseBody, validateLicense } from "./validate";

export function CustomerCreateForm({ onDone }: { onDone: (name: string) => void }) {
  const { create } = useCustomerActions();
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [license, setLicense] = useState(newLicense);
  const [touched, setTouched] = useState(false);
  const errors = validateLicense(license);
  const nameError = name.trim() ? undefined : "Give the customer a name.";
  return (
    <form
      className="panel"
      aria-labelledby="new-customer-title"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        setTouched(true);
        if (nameError || Object.keys(errors).length) return;
        create.mutate(
          { name: name.trim(), contact_email: email.trim() || null, ip_allowlist: [], license: licenseBody(license) },
          { onSuccess: (c) => onDone(c.name) },
        );
      }}
    >
      <h2 id="new-customer-title">New customer</h2>
      <div className="row">
        <div className="field">
          <label htmlFor="new-customer-name">Name</label>
          <input id="new-customer-name" value={name} onChange={(e) => setName(e.target.value)} aria-invalid={touched && !!nameError} />
          {touched && nameError && <span className="field-error">{nameError}</span>}
        </div>
        <label>
          Contact e-mail
          <input type="email" value={email} onChange={(e) => setEmail(e.target.value)} />
        </label>
      </div>
      <LicenseFields draft={license} onChange={setLicense} errors={touched ? errors : {}} />
      {create.isError && <ProblemMessage error={create.error} />}
      <button type="submit" className="primary" disabled={create.isPending}>
        Create customer
      </button>
    </form>
  );
}

export function LicenseEditForm({ customer, onDone }: { customer: CustomerRead; onDone: () => void }) {
  const { license: save } = useCustomerActions();
  const [draft, setDraft] = useState(() => (customer.license ? licenseDraft(customer.license) : newLicense()));
  const errors = validateLicense(draft);
  return (
    <form
      className="panel"
      aria-label={`License of ${customer.name}`}
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        if (Object.keys(errors).length === 0) save.mutate({ id: customer.id, body: licenseBody(draft, customer.license?.edge_server_limit ?? 0) }, { onSuccess: onDone });
      }}
    >
      <h3>License of {customer.name}</h3>
      <LicenseFields draft={draft} onChange={setDraft} errors={errors} />
      {save.isError && <ProblemMessage error={save.error} />}
      <div className="row">
        <button type="submit" className="primary" disabled={save.isPending || Object.keys(errors).length > 0}>
          Save license
        </button>
        <button type="button" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}
