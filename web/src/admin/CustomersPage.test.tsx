import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { session } from "../api/session";
import { fakeApi, json, ME, tokens, type Call } from "../test/fakeApi";
import { renderApp } from "../test/render";

const PROVIDER = { ...ME, role: "provider_admin", tenant_id: null, scope_node_ids: [] };
const LICENSE = { camera_limit: 50, edge_server_limit: 2, valid_from: "2026-01-01T00:00:00Z", valid_until: "2027-01-01T00:00:00Z", models: ["intrusion"], state: "active", days_left: 38, warning: null };
const ACME = { id: "c1", name: "Acme", contact_email: "ops@acme.example", status: "active", ip_allowlist: [], created_at: "2026-01-01T00:00:00Z", license: LICENSE };

function backend() {
  const api = fakeApi({
    "GET /api/v1/auth/me": () => json(PROVIDER),
    "GET /api/v1/customers": () => json({ items: [ACME], total: 1, limit: 100, offset: 0 }),
    "POST /api/v1/customers": ({ body }: Call) => json({ ...ACME, id: "c2", ...(body as object), license: LICENSE }, 201),
    "PATCH /api/v1/customers/c1": ({ body }: Call) => json({ ...ACME, ...(body as object) }),
    "PUT /api/v1/customers/c1/license": ({ body }: Call) => json({ ...LICENSE, ...(body as object) }),
  });
  session.set(tokens(1));
  return api;
}

describe("customers", () => {
  it("lists each customer's license and suspends only after confirming", async () => {
    const api = backend();
    const user = userEvent.setup();
    renderApp("/settings/customers");
    const row = within(await screen.findByTestId("customers")).getByRole("row", { name: /Acme/ });
    expect(row).toHaveTextContent("50 cameras · until 2027-01-01 (active, 38 days left)");
    await user.click(within(row).getByRole("button", { name: "Suspend Acme" }));
    const dialog = screen.getByRole("alertdialog", { name: "Suspend Acme?" });
    expect(api.called("PATCH /api/v1/customers/c1")).toHaveLength(0);
    await user.click(within(dialog).getByRole("button", { name: "Suspend" }));
    await screen.findByTestId("customers");
    expect(api.called("PATCH /api/v1/customers/c1")[0]!.body).toEqual({ status: "suspended" });
  });

  it("refuses a nameless customer and a license that ends before it starts, then creates one", async () => {
    const api = backend();
    const user = userEvent.setup();
    renderApp("/settings/customers");
    await user.click(await screen.findByRole("button", { name: "Add customer" }));
    const form = screen.getByRole("form", { name: "New customer" });
    await user.clear(within(form).getByLabelText("Valid until"));
    await user.type(within(form).getByLabelText("Valid until"), "2000-01-01");
    await user.click(within(form).getByRole("button", { name: "Create customer" }));
    expect(within(form).getByText("Give the customer a name.")).toBeInTheDocument();
    expect(within(form).getByText("The license must end after it starts.")).toBeInTheDocument();
    expect(api.called("POST /api/v1/customers")).toHaveLength(0);

    await user.type(within(form).getByLabelText("Name"), "Globex");
    await user.clear(within(form).getByLabelText("Valid from"));
    await user.type(within(form).getByLabelText("Valid from"), "2026-01-01");
    await user.clear(within(form).getByLabelText("Valid until"));
    await user.type(within(form).getByLabelText("Valid until"), "2026-12-31");
    await user.click(within(form).getByLabelText("fire smoke"));
    await user.click(within(form).getByRole("button", { name: "Create customer" }));
    expect(await screen.findByText("Globex was created.")).toBeInTheDocument();
    expect(api.called("POST /api/v1/customers")[0]!.body).toEqual({
      name: "Globex",
      contact_email: null,
      ip_allowlist: [],
      license: { camera_limit: 10, edge_server_limit: 0, valid_from: "2026-01-01T00:00:00Z", valid_until: "2026-12-31T00:00:00Z", models: ["fire_smoke"] },
    });
  });

  it("edits a license and keeps its edge server limit", async () => {
    const api = backend();
    const user = userEvent.setup();
    renderApp("/settings/customers");
    await user.click(await screen.findByRole("button", { name: "Edit the license of Acme" }));
    const form = screen.getByRole("form", { name: "License of Acme" });
    await user.clear(within(form).getByLabelText("Camera limit"));
    await user.type(within(form).getByLabelText("Camera limit"), "80");
    await user.click(within(form).getByRole("button", { name: "Save license" }));
    await screen.findByTestId("customers");
    expect(api.called("PUT /api/v1/customers/c1/license")[0]!.body).toMatchObject({ camera_limit: 80, edge_server_limit: 2, models: ["intrusion"] });
  });
});
