import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { session } from "../api/session";
import { EMPTY_TREE, fakeApi, json, ME, problem, tokens } from "../test/fakeApi";
import { renderApp } from "../test/render";

const PASSWORD = "Correct-Horse-Battery-9";
const OTPAUTH = "otpauth://totp/VMS:admin%40acme.example?secret=JBSWY3DPEHPK3PXP&issuer=VMS";
const RECOVERY = Array.from({ length: 10 }, (_, i) => `rc-${i}-abcd`);

function signedInScreens() {
  return {
    "GET /api/v1/auth/me": () => json(ME),
    "GET /api/v1/sites/tree": () => json(EMPTY_TREE),
    "GET /api/v1/events": () => json({ items: [], total: 0, limit: 1, offset: 0 }),
    "POST /api/v1/auth/logout": () => new Response(null, { status: 204 }),
  };
}

describe("sign-in", () => {
  it("enrols on first sign-in: QR and key shown, code verified, recovery codes shown once, then the dashboard", async () => {
    const api = fakeApi({
      "POST /api/v1/auth/login": ({ body }) =>
        (body as { password: string }).password === PASSWORD
          ? json({ mfa_token: "mfa-1", enrollment_required: true, otpauth_uri: OTPAUTH, secret: "JBSWY3DPEHPK3PXP" })
          : problem(401, "Sign-in failed", "Wrong email or password."),
      "POST /api/v1/auth/mfa": ({ body }) =>
        (body as { code: string }).code === "123456"
          ? json(tokens(1, { recovery_codes: RECOVERY }))
          : problem(401, "Sign-in failed", "Wrong code."),
      ...signedInScreens(),
    });
    const user = userEvent.setup();
    renderApp("/");

    // Signed out: any page sends you to sign-in.
    await user.type(await screen.findByLabelText("Email"), "admin@acme.example");
    await user.type(screen.getByLabelText("Password"), "wrong");
    await user.click(screen.getByRole("button", { name: "Continue" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Wrong email or password.");

    await user.clear(screen.getByLabelText("Password"));
    await user.type(screen.getByLabelText("Password"), PASSWORD);
    await user.click(screen.getByRole("button", { name: "Continue" }));

    expect(await screen.findByRole("heading", { name: "Set up two-step verification" })).toBeInTheDocument();
    const qr = screen.getByRole("img", { name: /QR code/ });
    expect(qr.querySelector("path")?.getAttribute("d")?.length).toBeGreaterThan(100); // drawn, not empty
    expect(screen.getByTestId("mfa-secret")).toHaveTextContent("JBSWY3DPEHPK3PXP");

    await user.type(screen.getByLabelText("Code from the app"), "000000");
    await user.click(screen.getByRole("button", { name: "Verify" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Wrong code.");
    await user.type(screen.getByLabelText("Code from the app"), "123 456");
    await user.click(screen.getByRole("button", { name: "Verify" }));
    expect(api.called("POST /api/v1/auth/mfa").at(-1)?.body).toEqual({ mfa_token: "mfa-1", code: "123456" });

    const codes = await screen.findByTestId("recovery-codes");
    expect(within(codes).getAllByRole("listitem")).toHaveLength(10);
    expect(codes).toHaveTextContent("rc-9-abcd");
    expect(session.get()).toBeNull(); // not signed in until the codes are acknowledged
    const go = screen.getByRole("button", { name: "Continue to the console" });
    expect(go).toBeDisabled();
    await user.click(screen.getByLabelText("I have stored my recovery codes"));
    await user.click(go);

    expect(await screen.findByRole("heading", { name: "Dashboard" })).toBeInTheDocument();
    expect(session.get()?.accessToken).toBe("access-1");
    expect(JSON.parse(sessionStorage.getItem("vms.session")!).refreshToken).toBe("refresh-1");
    await waitFor(() => expect(api.called("GET /api/v1/auth/me")[0]?.authorization).toBe("Bearer access-1"));
    expect(await screen.findByText("No cameras yet")).toBeInTheDocument(); // the dashboard's empty state
  });

  it("an enrolled user enters a code (no QR) and lands on the page they asked for", async () => {
    fakeApi({
      "POST /api/v1/auth/login": () => json({ mfa_token: "mfa-2", enrollment_required: false }),
      "POST /api/v1/auth/mfa": () => json(tokens(2)),
      "GET /api/v1/cameras": () => json({ items: [], total: 0, limit: 25, offset: 0 }),
      ...signedInScreens(),
    });
    const user = userEvent.setup();
    renderApp("/cameras");
    await user.type(await screen.findByLabelText("Email"), "admin@acme.example");
    await user.type(screen.getByLabelText("Password"), PASSWORD);
    await user.click(screen.getByRole("button", { name: "Continue" }));
    expect(await screen.findByRole("heading", { name: "Two-step verification" })).toBeInTheDocument();
    expect(screen.queryByRole("img", { name: /QR code/ })).toBeNull();
    await user.type(screen.getByLabelText("Code"), "RECOVERY-CODE-1");
    await user.click(screen.getByRole("button", { name: "Verify" }));
    expect(await screen.findByRole("heading", { name: "Cameras" })).toBeInTheDocument();
  });

  it("an expired access token is refreshed once for concurrent requests, which are retried with the new token", async () => {
    session.set(tokens(1));
    let refreshes = 0;
    const api = fakeApi({
      "POST /api/v1/auth/refresh": async ({ body }) => {
        refreshes += 1;
        expect(body).toEqual({ refresh_token: "refresh-1" });
        await new Promise((r) => setTimeout(r, 20));
        return json(tokens(2));
      },
      "GET /api/v1/auth/me": ({ authorization }) =>
        authorization === "Bearer access-2" ? json(ME) : problem(401, "Authentication required", "Token expired."),
      "GET /api/v1/sites/tree": ({ authorization }) =>
        authorization === "Bearer access-2" ? json(EMPTY_TREE) : problem(401, "Authentication required", "Token expired."),
      "GET /api/v1/events": ({ authorization }) =>
        authorization === "Bearer access-2"
          ? json({ items: [], total: 0, limit: 1, offset: 0 })
          : problem(401, "Authentication required", "Token expired."),
    });
    renderApp("/");
    expect(await screen.findByText("No cameras yet")).toBeInTheDocument();
    expect(await screen.findByTestId("current-user")).toHaveTextContent("Ada Admin · admin");
    expect(refreshes).toBe(1);
    expect(session.get()?.refreshToken).toBe("refresh-2");
    expect(api.called("GET /api/v1/sites/tree").at(-1)?.authorization).toBe("Bearer access-2");
  });

  it("a refused refresh token ends the session and shows sign-in", async () => {
    session.set(tokens(1));
    fakeApi({
      "POST /api/v1/auth/refresh": () => problem(401, "Authentication required", "Session revoked."),
      "GET /api/v1/auth/me": () => problem(401, "Authentication required", "Token expired."),
      "GET /api/v1/sites/tree": () => problem(401, "Authentication required", "Token expired."),
      "GET /api/v1/events": () => problem(401, "Authentication required", "Token expired."),
    });
    renderApp("/");
    expect(await screen.findByRole("heading", { name: "Sign in" })).toBeInTheDocument();
    expect(session.get()).toBeNull();
  });

  it("sign-out revokes the session on the server and returns to sign-in", async () => {
    session.set(tokens(3));
    const api = fakeApi(signedInScreens());
    const user = userEvent.setup();
    renderApp("/");
    await screen.findByRole("heading", { name: "Dashboard" });
    await user.click(screen.getByRole("button", { name: "Sign out" }));
    expect(await screen.findByRole("heading", { name: "Sign in" })).toBeInTheDocument();
    expect(api.called("POST /api/v1/auth/logout")[0]?.authorization).toBe("Bearer access-3");
    expect(session.get()).toBeNull();
    expect(sessionStorage.getItem("vms.session")).toBeNull();
  });
});
