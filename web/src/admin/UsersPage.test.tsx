import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { session } from "../api/session";
import { fakeApi, json, ME, tokens, type Call } from "../test/fakeApi";
import { renderApp } from "../test/render";
import { validateLicense, validateUser } from "./validate";

const SITE = "00000000-0000-0000-0000-00000000517e";
const TREE = { sites: [{ id: SITE, kind: "site", name: "HQ", children: [] }], unassigned: { camera_count: 0, online_count: 0, offline_count: 0 }, total: { camera_count: 0, online_count: 0, offline_count: 0 } };

function backend(me: typeof ME = ME) {
  me = { ...me, scope_node_ids: [] } as typeof ME;
  const api = fakeApi({
    "GET /api/v1/auth/me": () => json(me),
    "GET /api/v1/sites/tree": () => json(TREE),
    "GET /api/v1/users": () => json({ items: [me], total: 1, limit: 100, offset: 0 }),
    "POST /api/v1/users": ({ body }: Call) => json({ ...ME, id: "u2", ...(body as object) }, 201),
    "GET /api/v1/customers": () => json({ items: [], total: 0, limit: 100, offset: 0 }),
  });
  session.set(tokens(1));
  return api;
}

describe("form validation", () => {
  it("names each problem of a new user and of a license", () => {
    expect(validateUser({ email: "x", full_name: "", role: "admin", password: "short", scope_node_ids: [SITE] })).toEqual({
      email: "Enter an e-mail address like name@example.com.",
      password: "Use at least 12 characters for the initial password.",
      scope_node_ids: "Admins manage the whole customer and cannot be limited to sites.",
    });
    expect(validateUser({ email: "v@a.example", full_name: "", role: "viewer", password: "Long-enough-1", scope_node_ids: [SITE] })).toEqual({});
    expect(validateLicense({ camera_limit: "-1", valid_from: "2026-02-01", valid_until: "2026-01-01", models: [] })).toEqual({
      camera_limit: "Enter a whole number of cameras from 0 to 1,000,000.",
      valid_until: "The license must end after it starts.",
    });
  });
});

describe("users", () => {
  it("shows field errors and sends nothing, then creates a Viewer scoped to a site", async () => {
    const api = backend();
    const user = userEvent.setup();
    renderApp("/settings/users");
    await user.click(await screen.findByRole("button", { name: "Add user" }));
    const form = screen.getByRole("form", { name: "New user" });
    await user.click(within(form).getByRole("button", { name: "Create user" }));
    expect(within(form).getByText("Enter an e-mail address like name@example.com.")).toBeInTheDocument();
    expect(api.called("POST /api/v1/users")).toHaveLength(0);

    await user.type(within(form).getByLabelText("E-mail"), "viewer@acme.example");
    await user.type(within(form).getByLabelText("Initial password"), "Viewer-pass-2026");
    await user.click(within(form).getByLabelText("HQ"));
    await user.click(within(form).getByRole("button", { name: "Create user" }));
    expect(await screen.findByText("viewer@acme.example was created.")).toBeInTheDocument();
    expect(api.called("POST /api/v1/users")[0]!.body).toEqual({
      email: "viewer@acme.example",
      full_name: "",
      role: "viewer",
      password: "Viewer-pass-2026",
      scope_node_ids: [SITE],
    });
  });

  it("offers each role only the settings it may use", async () => {
    backend();
    renderApp("/settings/users");
    const nav = await screen.findByRole("navigation", { name: "Main" });
    expect(await within(nav).findByRole("link", { name: "Users" })).toBeInTheDocument();
    expect(within(nav).queryByRole("link", { name: "Customers" })).not.toBeInTheDocument();
  });

  it("shows provider staff customers and the system configuration, not users or cameras", async () => {
    backend({ ...ME, role: "provider_admin", tenant_id: null } as unknown as typeof ME);
    renderApp("/settings/customers");
    const nav = await screen.findByRole("navigation", { name: "Main" });
    expect(await within(nav).findByRole("link", { name: "Customers" })).toBeInTheDocument();
    expect(within(nav).getByRole("link", { name: "Configuration" })).toBeInTheDocument();
    expect(within(nav).queryByRole("link", { name: "Users" })).not.toBeInTheDocument();
    expect(within(nav).queryByRole("link", { name: "Cameras" })).not.toBeInTheDocument();
    expect(await screen.findByText("No customers yet")).toBeInTheDocument();
  });
});
