// Errors from the API are application/problem+json (docs/api.md); this turns them into one
// exception type the screens can show: title, detail and, for validation, each field's message.

export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  request_id?: string | null;
  retry_after?: number;
  errors?: { loc: string[]; msg: string; type?: string }[];
}

export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem;

  constructor(status: number, problem: Problem) {
    super(problem.detail || problem.title || `Request failed (${status})`);
    this.name = "ApiError";
    this.status = status;
    this.problem = problem;
  }

  get title(): string {
    return this.problem.title || `Request failed (${this.status})`;
  }

  /** Field-level messages of a 422, keyed by the field path without the leading "body"/"query". */
  get fieldErrors(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const e of this.problem.errors ?? []) {
      const key = e.loc.slice(1).join(".") || e.loc.join(".");
      out[key] = e.msg;
    }
    return out;
  }
}

function asProblem(error: unknown, status: number): Problem {
  if (error && typeof error === "object") return error as Problem;
  if (typeof error === "string" && error) return { title: `Request failed (${status})`, detail: error };
  return { title: `Request failed (${status})`, status };
}

/** The body of a successful openapi-fetch result, or an ApiError thrown from the problem+json. */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.error !== undefined || !result.response.ok) {
    throw new ApiError(result.response.status, asProblem(result.error, result.response.status));
  }
  return result.data as T;
}

/** A heading and a sentence for any error, saying what to do next. */
export function describeError(error: unknown): { title: string; detail: string } {
  if (error instanceof ApiError) {
    const detail = error.problem.detail || "";
    switch (error.status) {
      case 401:
        return { title: error.title, detail: detail || "Your session ended. Sign in again to continue." };
      case 403:
        return { title: error.title, detail: detail || "Your role does not allow this. Ask an Admin of your organisation." };
      case 429:
        return { title: "Too many requests", detail: `${detail} Wait a moment, then try again.`.trim() };
      default:
        if (error.status >= 500)
          return {
            title: "The server had a problem",
            detail: `${detail} Try again; if it persists, give support the request id ${error.problem.request_id ?? ""}.`.trim(),
          };
        return { title: error.title, detail };
    }
  }
  if (error instanceof TypeError) {
    return {
      title: "Cannot reach the server",
      detail: "Check your network connection and that the VMS server is running, then try again.",
    };
  }
  return { title: "Something went wrong", detail: error instanceof Error ? error.message : String(error) };
}
