// The typed API client: openapi-fetch over the types generated from our OpenAPI (schema.d.ts).
// Regenerate both with `npm run api` after a backend change.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";
import { authFetch } from "./authFetch";

export type Schemas = components["schemas"];
export type CameraRead = Schemas["CameraRead"];
export type EventRead = Schemas["EventRead"];
export type SiteTree = Schemas["SiteTree"];
export type NodeTree = Schemas["NodeTree"];
export type UserRead = Schemas["UserRead"];
export type TokenPair = Schemas["TokenPair"];
export type MfaChallenge = Schemas["MfaChallenge"];
export type CameraStatus = CameraRead["status"];
export type EventStatus = EventRead["status"];

/** One client for the whole app; `authFetch` adds the bearer token and refreshes it on 401. */
export const api = createClient<paths>({
  baseUrl: typeof window === "undefined" ? "http://127.0.0.1" : window.location.origin,
  fetch: authFetch,
});

export { ApiError, unwrap, describeError } from "./errors";
