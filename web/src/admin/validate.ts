// Client-side checks of the admin forms, so mistakes are named beside their field before a request;
// the API checks everything again (password policy, e-mail, license bounds).
export type Errors<K extends string> = Partial<Record<K, string>>;

export interface UserDraft {
  email: string;
  full_name: string;
  role: "admin" | "supervisor" | "viewer";
  password: string;
  scope_node_ids: string[];
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function validateUser(d: UserDraft): Errors<keyof UserDraft> {
  const e: Errors<keyof UserDraft> = {};
  if (!EMAIL.test(d.email.trim())) e.email = "Enter an e-mail address like name@example.com.";
  if (d.password.length < 12) e.password = "Use at least 12 characters for the initial password.";
  if (d.role === "admin" && d.scope_node_ids.length > 0) e.scope_node_ids = "Admins manage the whole customer and cannot be limited to sites.";
  if (d.scope_node_ids.length > 20) e.scope_node_ids = "Pick at most 20 sites.";
  return e;
}

export interface LicenseDraft {
  camera_limit: string;
  valid_from: string; // yyyy-mm-dd
  valid_until: string;
  models: string[];
}

export function validateLicense(d: LicenseDraft): Errors<keyof LicenseDraft> {
  const e: Errors<keyof LicenseDraft> = {};
  const n = Number(d.camera_limit);
  if (d.camera_limit.trim() === "" || !Number.isInteger(n) || n < 0 || n > 1_000_000)
    e.camera_limit = "Enter a whole number of cameras from 0 to 1,000,000.";
  if (!d.valid_from) e.valid_from = "Pick the first day of validity.";
  if (!d.valid_until) e.valid_until = "Pick the day the license expires.";
  else if (d.valid_from && d.valid_until <= d.valid_from) e.valid_until = "The license must end after it starts.";
  return e;
}

/** The license as the API takes it (dates as UTC midnight; the edge server limit is kept as it was). */
export function licenseBody(d: LicenseDraft, edgeServerLimit = 0) {
  return {
    camera_limit: Number(d.camera_limit),
    edge_server_limit: edgeServerLimit,
    valid_from: `${d.valid_from}T00:00:00Z`,
    valid_until: `${d.valid_until}T00:00:00Z`,
    models: d.models as AiModelKey[],
  };
}

export const AI_MODELS = [
  "intrusion",
  "motion",
  "tampering",
  "fire_smoke",
  "crowd",
  "missing_object",
  "abnormal_behavior",
  "fallen",
  "tailgating",
  "anpr",
] as const;
export type AiModelKey = (typeof AI_MODELS)[number];
