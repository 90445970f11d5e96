import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { session } from "../api/session";
import { EMPTY_TREE, fakeApi, json, ME, MULTIPART, problem, tokens, type Call } from "../test/fakeApi";
import { renderApp } from "../test/render";

const CSV = "name,main_url,external_id\nGate,rtsp://10.0.0.7/ch1,g1\nBad,ftp://x,g2\n";

let appended: () => unknown[][] = () => [];

/** What each upload appended to its FormData: [field, file name]. */
function uploads() {
  const append = vi.spyOn(FormData.prototype, "append");
  return () => append.mock.calls.map(([field, value]) => [field, (value as File).name]);
}

function report(dryRun: boolean) {
  return {
    dry_run: dryRun,
    total_rows: 2,
    created: 1,
    updated: 0,
    unchanged: 0,
    failed: 1,
    errors: [{ row: 3, field: "main_url", message: "The address must start with rtsp://, rtsps://, http:// or https://." }],
    cameras: dryRun ? [] : ["00000000-0000-0000-0000-00000000ca01"],
  };
}

function backend() {
  appended = uploads();
  const api = fakeApi({
    "GET /api/v1/auth/me": () => json(ME),
    "GET /api/v1/sites/tree": () => json(EMPTY_TREE),
    "GET /api/v1/cameras": () => json({ items: [], total: 0, limit: 25, offset: 0 }),
    "POST /api/v1/cameras/import": ({ query, body }: Call) => {
      if (body !== MULTIPART) return problem(422, "No file", "expected a multipart upload");
      const file = appended().at(-1)?.[1];
      if (file === "notes.txt") return problem(415, "Unsupported file type", "Upload a .csv or .xlsx file.");
      return json(report(query.get("dry_run") === "true"));
    },
  });
  session.set(tokens(1));
  return api;
}

describe("camera import", () => {
  it("checks the file with a dry run, shows each row error with its row and column, then imports for real", async () => {
    const api = backend();
    const user = userEvent.setup();
    renderApp("/cameras?add=import");
    await user.upload(await screen.findByLabelText("CSV or Excel file"), new File([CSV], "cameras.csv", { type: "text/csv" }));
    await user.click(screen.getByRole("button", { name: "Check the file" }));

    const dry = await screen.findByTestId("import-report");
    expect(dry).toHaveTextContent("Dry run: nothing has been written yet");
    expect(dry).toHaveTextContent("1 would be created");
    expect(dry).toHaveTextContent("1 with errors");
    const [error] = within(dry).getAllByTestId("row-error");
    expect(within(error!).getByRole("rowheader")).toHaveTextContent("3");
    expect(error).toHaveTextContent("main_url");
    expect(error).toHaveTextContent("must start with rtsp://");
    const calls = api.called("POST /api/v1/cameras/import");
    expect(calls.map((c) => [c.query.get("dry_run"), c.query.get("probe")])).toEqual([["true", "false"]]);
    expect(appended()).toEqual([["file", "cameras.csv"]]); // multipart, the sheet in field "file"

    await user.click(screen.getByRole("button", { name: "Import 1 camera, skip 1 bad row" }));
    const done = await screen.findByText("Import finished");
    expect(done.closest("[data-testid=import-report]")).toHaveTextContent("1 created");
    expect(api.called("POST /api/v1/cameras/import").map((c) => c.query.get("dry_run"))).toEqual(["true", "false"]);
  });

  it("shows why a whole file is refused", async () => {
    backend();
    const user = userEvent.setup({ applyAccept: false }); // what a browser's "All files" choice lets through
    renderApp("/cameras?add=import");
    await user.upload(await screen.findByLabelText("CSV or Excel file"), new File([CSV], "notes.txt", { type: "text/plain" }));
    await user.click(screen.getByRole("button", { name: "Check the file" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Unsupported file type — Upload a .csv or .xlsx file.");
    expect(screen.queryByTestId("import-report")).not.toBeInTheDocument();
  });
});
