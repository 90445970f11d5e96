import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { session } from "../api/session";
import { fakeApi, json, ME, tokens, type Call } from "../test/fakeApi";
import { renderApp } from "../test/render";

const CAM = "00000000-0000-0000-0000-00000000ca01";
const SITE = "00000000-0000-0000-0000-00000000517e";
const ZONE = "00000000-0000-0000-0000-0000000020e1";
const KEY = "models.fire_smoke.confidence_threshold";

const PARAMS = [
  { key: KEY, description: "Detections below it are dropped.", bounds: "0–1", default: 0.5, unit: "", levels: ["system", "customer", "site", "camera"], critical: true, value_schema: { type: "number", minimum: 0, maximum: 1 } },
  { key: "retention.days", description: "Days recordings are kept.", bounds: "1–3650 days", default: 30, unit: "days", levels: ["system", "customer", "site", "camera"], critical: false, value_schema: { type: "integer", minimum: 1, maximum: 3650 } },
  { key: "models.fire_smoke.min_height", description: "System only.", bounds: "144–4320 px", default: 480, unit: "px", levels: ["system"], critical: false, value_schema: { type: "integer", minimum: 144, maximum: 4320 } },
];

const TREE = {
  sites: [{ id: SITE, kind: "site", name: "HQ", children: [{ id: ZONE, kind: "zone", name: "Lobby", children: [] }] }],
  unassigned: { camera_count: 0, online_count: 0, offline_count: 0 },
  total: { camera_count: 1, online_count: 1, offline_count: 0 },
};

const NODE = { level: "camera", node_id: CAM, site_id: SITE };
const DIFF = {
  node: NODE,
  dry_run: true,
  saved: false,
  version: 1,
  effective_changes: [{ key: KEY, before: { value: 0.5, level: "default" }, after: { value: 0.8, level: "camera" } }],
  override_changes: [{ key: KEY, change: "added", after: 0.8 }],
};
const V1 = { version: 1, action: "patch", reason: "first", actor: "admin@acme.example", actor_id: null, at: "2026-11-24T12:00:00Z", rolled_back_to: null, changes: [], snapshot: {} };
const V2 = { ...V1, version: 2, reason: "second" };

function backend() {
  const api = fakeApi({
    "GET /api/v1/auth/me": () => json(ME),
    "GET /api/v1/sites/tree": () => json(TREE),
    "GET /api/v1/cameras": () => json({ items: [{ id: CAM, name: "Lobby cam", zone_id: ZONE }], total: 1, limit: 500, offset: 0 }),
    "GET /api/v1/config/parameters": () => json(PARAMS),
    [`GET /api/v1/config/camera/${CAM}`]: () =>
      json({ node: NODE, version: 2, overrides: { "retention.days": 7 }, values: { [KEY]: { value: 0.5, level: "default" }, "retention.days": { value: 7, level: "camera" } } }),
    [`PATCH /api/v1/config/camera/${CAM}`]: ({ query }: Call) =>
      json(query.get("dry_run") === "true" ? DIFF : { ...DIFF, dry_run: false, saved: true, version: 3 }),
    [`GET /api/v1/config/camera/${CAM}/versions`]: () => json({ items: [V2, V1], total: 2, limit: 50, offset: 0 }),
    [`GET /api/v1/config/camera/${CAM}/versions/diff`]: () =>
      json({ node: NODE, from_version: 1, to_version: 2, changes: [{ key: "retention.days", change: "changed", before: 30, after: 7 }] }),
    [`POST /api/v1/config/camera/${CAM}/versions/1/rollback`]: () => json({ ...DIFF, dry_run: false, saved: true, version: 3 }),
  });
  session.set(tokens(1));
  return api;
}

const PATH = `/settings/config?level=camera&id=${CAM}&site=${SITE}`;

describe("configuration editor", () => {
  it("shows each value with the level that set it and offers only the parameters this level may set", async () => {
    backend();
    renderApp(PATH);
    const row = await screen.findByTestId("param-retention.days");
    expect(within(row).getByText("camera")).toHaveClass("badge-level-camera");
    expect(within(screen.getByTestId(`param-${KEY}`)).getByText("default")).toBeInTheDocument();
    expect(screen.queryByTestId("param-models.fire_smoke.min_height")).not.toBeInTheDocument();
    expect(within(row).getByLabelText("Use the level below")).not.toBeChecked();
  });

  it("refuses a value outside the registry's bounds before any request", async () => {
    const api = backend();
    const user = userEvent.setup();
    renderApp(PATH);
    const input = await screen.findByLabelText(KEY);
    await user.clear(input);
    await user.type(input, "1.5");
    expect(await screen.findByText("Allowed: 0–1.")).toBeInTheDocument();
    expect(input).toHaveAttribute("aria-invalid", "true");
    expect(screen.getByRole("button", { name: "Review changes" })).toBeDisabled();
    expect(api.called(`PATCH /api/v1/config/camera/${CAM}`)).toHaveLength(0);
  });

  it("reviews the dry run's diff, then saves with the reason and the version it was prepared against", async () => {
    const api = backend();
    const user = userEvent.setup();
    renderApp(PATH);
    const input = await screen.findByLabelText(KEY);
    await user.clear(input);
    await user.type(input, "0.8");
    await user.click(screen.getByRole("button", { name: "Review changes" }));

    const diff = await screen.findByTestId("effective-diff");
    const cells = within(within(diff).getByRole("row", { name: new RegExp(KEY) })).getAllByRole("cell");
    expect(cells[0]).toHaveTextContent("0.5 default");
    expect(cells[1]).toHaveTextContent("0.8 camera");
    const [dry] = api.called(`PATCH /api/v1/config/camera/${CAM}`);
    expect(dry!.query.get("dry_run")).toBe("true");
    expect(dry!.query.get("site_id")).toBe(SITE);

    const save = screen.getByRole("button", { name: "Save as a new version" });
    expect(save).toBeDisabled(); // no reason yet
    await user.type(screen.getByLabelText("Reason for the change"), "Fewer false alarms");
    await user.click(save);
    expect(await screen.findByText("Saved as version 3.")).toBeInTheDocument();
    const real = api.called(`PATCH /api/v1/config/camera/${CAM}`)[1]!;
    expect(real.query.get("dry_run")).toBe("false");
    expect(real.body).toEqual({ values: { [KEY]: 0.8 }, unset: [], expected_version: 2, reason: "Fewer false alarms" });
  });

  it("compares two versions and rolls back only after confirming with a reason", async () => {
    const api = backend();
    const user = userEvent.setup();
    renderApp(PATH);
    await screen.findByTestId("versions");
    await user.selectOptions(screen.getByLabelText("From"), "v1");
    await user.selectOptions(screen.getByLabelText("To"), "v2");
    const diff = await screen.findByTestId("override-diff");
    expect(within(diff).getByRole("row", { name: /retention\.days/ })).toHaveTextContent("changed307");

    await user.click(screen.getByRole("button", { name: "Roll back to v1" }));
    const dialog = screen.getByRole("alertdialog", { name: "Roll back to version 1?" });
    expect(dialog).toHaveFocus();
    await user.click(within(dialog).getByRole("button", { name: "Roll back to v1" }));
    expect(api.called(`POST /api/v1/config/camera/${CAM}/versions/1/rollback`)).toHaveLength(0); // no reason yet
    await user.type(within(dialog).getByLabelText("Reason for the rollback"), "Undo the test");
    await user.click(within(dialog).getByRole("button", { name: "Roll back to v1" }));
    await screen.findByTestId("versions");
    const [call] = api.called(`POST /api/v1/config/camera/${CAM}/versions/1/rollback`);
    expect(call!.body).toEqual({ reason: "Undo the test" });
    expect(screen.queryByRole("alertdialog")).not.toBeInTheDocument();
  });
});
