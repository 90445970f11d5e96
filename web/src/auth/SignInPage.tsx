// Sign-in: password, then the mandatory second factor. First sign-in enrols an authenticator app
// (QR code drawn here, seed for manual entry) and shows the ten recovery codes once.
import { useId, useState, type FormEvent } from "react";
import { useLocation, useNavigate } from "react-router-dom";
import { api, ApiError, unwrap, type MfaChallenge, type TokenPair } from "../api";
import { session } from "../api/session";
import { QrCode } from "../components/QrCode";
import { ProblemMessage } from "../components/States";

type Step =
  | { kind: "password" }
  | { kind: "code"; challenge: MfaChallenge }
  | { kind: "recovery"; tokens: TokenPair };

export default function SignInPage() {
  const [step, setStep] = useState<Step>({ kind: "password" });
  const navigate = useNavigate();
  const location = useLocation();
  const from = (location.state as { from?: string } | null)?.from ?? "/";

  const finish = (tokens: TokenPair) => {
    session.set(tokens);
    navigate(from, { replace: true });
  };

  return (
    <main className="sign-in" id="main">
      <div className="sign-in-card">
        <h1>VMS Console</h1>
        {step.kind === "password" && <PasswordStep onChallenge={(challenge) => setStep({ kind: "code", challenge })} />}
        {step.kind === "code" && (
          <CodeStep
            challenge={step.challenge}
            onRestart={() => setStep({ kind: "password" })}
            onTokens={(tokens) =>
              tokens.recovery_codes?.length ? setStep({ kind: "recovery", tokens }) : finish(tokens)
            }
          />
        )}
        {step.kind === "recovery" && <RecoveryStep tokens={step.tokens} onDone={() => finish(step.tokens)} />}
      </div>
    </main>
  );
}

function PasswordStep({ onChallenge }: { onChallenge: (c: MfaChallenge) => void }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onChallenge(unwrap(await api.POST("/api/v1/auth/login", { body: { email, password } })));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form onSubmit={submit} aria-labelledby="sign-in-title">
      <h2 id="sign-in-title">Sign in</h2>
      <label>
        Email
        <input type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} autoFocus />
      </label>
      <label>
        Password
        <input
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
      </label>
      {error !== null && <ProblemMessage error={error} />}
      <button type="submit" className="primary" disabled={busy}>
        {busy ? "Checking…" : "Continue"}
      </button>
    </form>
  );
}

function CodeStep({
  challenge,
  onTokens,
  onRestart,
}: {
  challenge: MfaChallenge;
  onTokens: (t: TokenPair) => void;
  onRestart: () => void;
}) {
  const [code, setCode] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const secretId = useId();
  const enrol = challenge.enrollment_required;

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body = { mfa_token: challenge.mfa_token, code: code.replace(/\s+/g, "") };
      onTokens(unwrap(await api.POST("/api/v1/auth/mfa", { body })));
    } catch (err) {
      setError(err);
      setCode("");
    } finally {
      setBusy(false);
    }
  }
  // The challenge is valid a few minutes; after that only starting again helps.
  const expired = error instanceof ApiError && error.status === 401 && /expired|challenge/i.test(error.message);

  return (
    <form onSubmit={submit} aria-labelledby="mfa-title">
      <h2 id="mfa-title">{enrol ? "Set up two-step verification" : "Two-step verification"}</h2>
      {enrol && challenge.otpauth_uri ? (
        <>
          <p>
            Scan this code with an authenticator app (Google Authenticator, Microsoft Authenticator, 1Password…), then
            enter the 6-digit code it shows.
          </p>
          <QrCode value={challenge.otpauth_uri} label="QR code to add this account to an authenticator app" />
          <p>
            Cannot scan? Enter this key instead:{" "}
            <code id={secretId} data-testid="mfa-secret" className="secret">
              {challenge.secret}
            </code>
          </p>
        </>
      ) : (
        <p>Enter the 6-digit code from your authenticator app, or one of your recovery codes.</p>
      )}
      <label>
        {enrol ? "Code from the app" : "Code"}
        <input
          name="code"
          inputMode={enrol ? "numeric" : "text"}
          autoComplete="one-time-code"
          required
          minLength={6}
          maxLength={32}
          value={code}
          onChange={(e) => setCode(e.target.value)}
          autoFocus
        />
      </label>
      {error !== null && <ProblemMessage error={error} />}
      <button type="submit" className="primary" disabled={busy}>
        {busy ? "Verifying…" : "Verify"}
      </button>
      <button type="button" className="link" onClick={onRestart}>
        {expired ? "Start again (the sign-in expired)" : "Use another account"}
      </button>
    </form>
  );
}

function RecoveryStep({ tokens, onDone }: { tokens: TokenPair; onDone: () => void }) {
  const [stored, setStored] = useState(false);
  const codes = tokens.recovery_codes ?? [];
  const download = () => {
    const blob = new Blob([codes.join("\n") + "\n"], { type: "text/plain" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = "vms-recovery-codes.txt";
    a.click();
    URL.revokeObjectURL(a.href);
  };
  return (
    <section aria-labelledby="recovery-title">
      <h2 id="recovery-title">Save your recovery codes</h2>
      <p>
        Each code signs you in once if you lose your phone. They are shown only now: store them somewhere safe (a
        password manager or printed).
      </p>
      <ol className="recovery-codes" data-testid="recovery-codes">
        {codes.map((c) => (
          <li key={c}>
            <code>{c}</code>
          </li>
        ))}
      </ol>
      <div className="row">
        <button type="button" onClick={() => void navigator.clipboard?.writeText(codes.join("\n"))}>
          Copy
        </button>
        <button type="button" onClick={download}>
          Download
        </button>
      </div>
      <label className="check">
        <input type="checkbox" checked={stored} onChange={(e) => setStored(e.target.checked)} />I have stored my
        recovery codes
      </label>
      <button type="button" className="primary" disabled={!stored} onClick={onDone}>
        Continue to the console
      </button>
    </section>
  );
}
