import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { NodeTree } from "../api";
import { session } from "../api/session";
import { fakeApi, json, ME, problem, tokens, type Call } from "../test/fakeApi";
import { renderApp } from "../test/render";

const counts = (n = 0) => ({ camera_count: n, online_count: n, offline_count: 0 });
const node = (id: string, kind: NodeTree["kind"], name: string, children: NodeTree[] = [], cameras = 0): NodeTree => ({
  id,
  kind,
  name,
  children,
  ...counts(cameras + children.reduce((sum, c) => sum + c.camera_count, 0)),
});

/** HQ › Main › F1 › Lobby (2 cameras), and HQ › Annex with no floors. */
function tree() {
  return [
    node("hq", "site", "HQ", [
      node("main", "building", "Main", [node("f1", "floor", "F1", [node("lobby", "zone", "Lobby", [], 2)])]),
      node("annex", "building", "Annex"),
    ]),
  ];
}

function backend(me: Record<string, unknown> = ME) {
  let sites = tree();
  const api = fakeApi({
    "GET /api/v1/auth/me": () => json(me),
    "GET /api/v1/sites/tree": () => json({ sites, unassigned: counts(), total: counts(2) }),
    "GET /api/v1/cameras": () => json({ items: [], total: 0, limit: 25, offset: 0 }),
    "POST /api/v1/nodes": ({ body }: Call) => {
      const { kind, name } = body as { kind: NodeTree["kind"]; name: string };
      if (kind === "site") sites = [...sites, node("new-site", "site", name)];
      return json({ id: "new", kind, name, parent_id: null, path: [name], created_at: "" }, 201);
    },
    "PATCH /api/v1/nodes/{id}": ({ path, body }: Call) => {
      const changes = body as { name?: string };
      if (path.endsWith("/lobby") && changes.name) sites = [node("hq", "site", "HQ", [node("main", "building", "Main", [node("f1", "floor", "F1", [node("lobby", "zone", changes.name, [], 2)])])])];
      return json({ id: path.split("/").at(-1), kind: "zone", name: changes.name ?? "x", parent_id: null, path: [], created_at: "" });
    },
    "DELETE /api/v1/nodes/{id}": ({ path }: Call) =>
      path.endsWith("/lobby")
        ? problem(409, "Conflict", "The zone 'Lobby' still holds 2 cameras; move or delete them first.")
        : new Response(null, { status: 204 }),
  });
  session.set(tokens(1));
  return api;
}

async function editTree(user: ReturnType<typeof userEvent.setup>) {
  await user.click(await screen.findByRole("button", { name: "Edit tree" }));
  return screen.getByRole("list", { name: "Site tree" });
}

describe("editing the site tree", () => {
  it("adds a site and a zone under a floor, each with the right parent", async () => {
    const api = backend();
    const user = userEvent.setup();
    renderApp("/cameras");
    await editTree(user);
    await user.click(screen.getByRole("button", { name: "Add site" }));
    await user.type(screen.getByLabelText("Name of the new site"), "North{Enter}");
    await waitFor(() => expect(api.called("POST /api/v1/nodes")).toHaveLength(1));
    expect(api.called("POST /api/v1/nodes")[0]!.body).toEqual({ kind: "site", name: "North", parent_id: null });
    expect(await screen.findByRole("button", { name: /^site North/ })).toBeInTheDocument();

    const floor = screen.getByRole("group", { name: "Change floor F1" });
    await user.click(within(floor).getByRole("button", { name: "Add zone" }));
    await user.type(screen.getByLabelText("Name of the new zone in F1"), "  Dock  ");
    await user.click(screen.getByRole("button", { name: "Add" }));
    await waitFor(() => expect(api.called("POST /api/v1/nodes")).toHaveLength(2));
    expect(api.called("POST /api/v1/nodes")[1]!.body).toEqual({ kind: "zone", name: "Dock", parent_id: "f1" });
  });

  it("renames a zone and the tree shows the new name", async () => {
    const api = backend();
    const user = userEvent.setup();
    renderApp("/cameras");
    await editTree(user);
    await user.click(within(screen.getByRole("group", { name: "Change zone Lobby" })).getByRole("button", { name: "Rename" }));
    const input = screen.getByLabelText("New name for zone Lobby");
    expect(input).toHaveValue("Lobby");
    expect(input).toHaveFocus();
    await user.clear(input);
    await user.type(input, "Reception{Enter}");
    expect(await screen.findByRole("button", { name: /^zone Reception/ })).toBeInTheDocument();
    expect(api.called("PATCH /api/v1/nodes/lobby")[0]!.body).toEqual({ name: "Reception" });
    expect(screen.queryByLabelText("New name for zone Lobby")).not.toBeInTheDocument();
  });

  it("moves a floor to another building, offering only buildings", async () => {
    const api = backend();
    const user = userEvent.setup();
    renderApp("/cameras");
    await editTree(user);
    await user.click(within(screen.getByRole("group", { name: "Change floor F1" })).getByRole("button", { name: "Move" }));
    const select = screen.getByLabelText("Move F1 under the building");
    expect(within(select).getAllByRole("option").map((o) => o.textContent)).toEqual(["HQ › Main", "HQ › Annex"]);
    expect(select).toHaveValue("main");
    const form = screen.getByRole("form", { name: "Move floor F1" });
    expect(within(form).getByRole("button", { name: "Move" })).toBeDisabled(); // already there
    await user.selectOptions(select, "annex");
    await user.click(within(form).getByRole("button", { name: "Move" }));
    await waitFor(() => expect(api.called("PATCH /api/v1/nodes/f1")).toHaveLength(1));
    expect(api.called("PATCH /api/v1/nodes/f1")[0]!.body).toEqual({ parent_id: "annex" });
  });

  it("deleting a zone that holds cameras shows the server's reason; an empty one goes", async () => {
    const api = backend();
    const user = userEvent.setup();
    renderApp("/cameras");
    await editTree(user);
    await user.click(within(screen.getByRole("group", { name: "Change zone Lobby" })).getByRole("button", { name: "Delete" }));
    const form = screen.getByRole("form", { name: "Delete zone Lobby" });
    expect(form).toHaveTextContent("It still holds something");
    await user.click(within(form).getByRole("button", { name: "Delete" }));
    expect(await within(form).findByRole("alert")).toHaveTextContent("The zone 'Lobby' still holds 2 cameras; move or delete them first.");

    await user.keyboard("{Escape}");
    expect(screen.queryByRole("form", { name: "Delete zone Lobby" })).not.toBeInTheDocument();
    const lobby = screen.getByRole("group", { name: "Change zone Lobby" });
    await waitFor(() => expect(within(lobby).getByRole("button", { name: "Delete" })).toHaveFocus()); // back where it was
    await user.click(within(screen.getByRole("group", { name: "Change building Annex" })).getByRole("button", { name: "Delete" }));
    await user.click(within(screen.getByRole("form", { name: "Delete building Annex" })).getByRole("button", { name: "Delete" }));
    await waitFor(() => expect(api.called("DELETE /api/v1/nodes/annex")).toHaveLength(1));
  });

  it("a Viewer and a user scoped to one site get no editing, and are told why", async () => {
    backend({ ...ME, role: "viewer" });
    const { unmount } = renderApp("/cameras");
    expect(await screen.findByText("Only an Admin or a Supervisor can change the site tree.")).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Edit tree" })).not.toBeInTheDocument();
    unmount();

    backend({ ...ME, role: "supervisor", scope_node_ids: ["hq"] });
    renderApp("/cameras");
    expect(await screen.findByText(/limited to part of the site tree/)).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Edit tree" })).not.toBeInTheDocument();
    expect(screen.queryByRole("group", { name: /^Change / })).not.toBeInTheDocument();
  });
});
