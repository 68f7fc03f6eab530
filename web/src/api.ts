// The REST API client: bearer token from the login, JSON in and out, errors as
// `ApiError` carrying the server's stable code and its message in plain words.

import type { ApiErrorBody, ErrorCode, Operation, Role } from "./types";

/** Who is logged in, kept in localStorage so a reload stays logged in. */
export interface Session {
  token: string;
  user: string;
  role: Role;
  expires_at: number;
}

const KEY = "corral.session";

export function loadSession(): Session | null {
  try {
    const s = JSON.parse(localStorage.getItem(KEY) ?? "null") as Session | null;
    if (s && s.expires_at * 1000 > Date.now()) return s;
  } catch {
    // A damaged entry is the same as none.
  }
  return null;
}

export function saveSession(s: Session | null) {
  if (s) localStorage.setItem(KEY, JSON.stringify(s));
  else localStorage.removeItem(KEY);
}

/** An error answer of the API (or a network failure, as code `internal`). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode | "network",
    message: string,
  ) {
    super(message);
  }

  /** What the person can do about it, in words. */
  get hint(): string {
    switch (this.code) {
      case "unauthorized":
        return "Your session has ended: log in again.";
      case "forbidden":
        return "Only the admin may do this.";
      case "not_found":
        return "It may have been deleted, or it belongs to someone else.";
      case "already_exists":
        return "Pick another name.";
      case "invalid_name":
        return "Use lowercase letters, digits and '-', starting with a letter.";
      case "unknown_image":
        return "Pick an image from the Images page.";
      case "insufficient_capacity":
        return "Ask for fewer or smaller nodes, or ask the admin to add hosts.";
      case "quota_exceeded":
        return "Delete or shrink another cluster first, or ask the admin for a larger quota.";
      case "conflict":
        return "Wait for the current operation to finish, then try again.";
      case "malformed_request":
      case "invalid_request":
        return "Correct the highlighted values and try again.";
      case "network":
        return "Check that the Corral server is running and reachable, then retry.";
      default:
        return "Try again; if it keeps failing, the server log says more.";
    }
  }
}

let session: Session | null = loadSession();
let onUnauthorized: () => void = () => {};

export function currentSession(): Session | null {
  return session;
}

export function setSession(s: Session | null) {
  session = s;
  saveSession(s);
}

/** Called when a request is refused for an expired token. */
export function setUnauthorizedHandler(f: () => void) {
  onUnauthorized = f;
}

/** A request to the API; resolves to the parsed JSON body (undefined for 204). */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (session) headers.Authorization = `Bearer ${session.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let resp: Response;
  try {
    resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, "network", "Cannot reach the Corral server.");
  }
  if (resp.status === 204) return undefined as T;
  const text = await resp.text();
  let json: unknown = undefined;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    // Not JSON: reported below with the status.
  }
  if (!resp.ok) {
    const e = json as Partial<ApiErrorBody> | undefined;
    const err = new ApiError(resp.status, e?.code ?? "internal", e?.message ?? `the server answered ${resp.status}`);
    if (resp.status === 401 && session) onUnauthorized();
    throw err;
  }
  return json as T;
}

/** Appends `?owner=` when acting on another user's resource (the admin may). */
export function ownerQuery(owner: string): string {
  return session && owner !== session.user ? `?owner=${encodeURIComponent(owner)}` : "";
}

/** Waits for an operation to end, calling `progress` on each change (long poll). */
export async function follow(op: Operation, progress: (op: Operation) => void): Promise<Operation> {
  progress(op);
  while (op.status === "running") {
    op = await api<Operation>("GET", `/v1/operations/${encodeURIComponent(op.id)}?wait_ms=10000`);
    progress(op);
  }
  return op;
}

/** Paths the server documents, from its OpenAPI document (fetched once). */
let documented: Promise<Set<string>> | null = null;

export function documentedPaths(): Promise<Set<string>> {
  documented ??= fetch("/v1/openapi.json")
    .then((r) => (r.ok ? r.json() : { paths: {} }))
    .then((doc: { paths?: Record<string, unknown> }) => new Set(Object.keys(doc.paths ?? {})))
    .catch(() => new Set<string>());
  return documented;
}

/** A websocket URL on this server with the token as a query (browsers cannot set headers). */
export function wsUrl(path: string, query: Record<string, string>): string {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const q = new URLSearchParams(query);
  if (session) q.set("token", session.token);
  return `${proto}//${location.host}${path}?${q}`;
}

/** The Authorization header of the session, for requests made without `api`. */
export function authHeaders(): Record<string, string> {
  return session ? { Authorization: `Bearer ${session.token}` } : {};
}
