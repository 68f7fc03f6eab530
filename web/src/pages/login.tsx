// The login page: name and password for a token (`POST /v1/login`).

import { useState } from "preact/hooks";
import { api, setSession } from "../api";
import { ErrorBox, useAction } from "../components/ui";
import type { TokenResponse, User } from "../types";

export function Login({ onLogin }: { onLogin: () => void }) {
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [busy, error, run] = useAction();

  const submit = (e: Event) => {
    e.preventDefault();
    run(async () => {
      const t = await api<TokenResponse>("POST", "/v1/login", { name, password });
      setSession({ token: t.token, user: t.user, role: "user", expires_at: t.expires_at });
      const me = await api<User>("GET", "/v1/whoami");
      setSession({ token: t.token, user: me.name, role: me.role, expires_at: t.expires_at });
      onLogin();
    });
  };

  return (
    <div class="login-page">
      <form class="login-card" onSubmit={submit}>
        <div class="brand brand-dark">
          <Logo /> Corral
        </div>
        <p class="muted">Virtual clusters on your pool of hosts.</p>
        <ErrorBox error={error} />
        <label>
          User name
          <input name="name" autoComplete="username" value={name} onInput={(e) => setName(e.currentTarget.value)} autoFocus required />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
            required
          />
        </label>
        <button class="btn btn-primary btn-block" type="submit" disabled={busy}>
          {busy ? "Logging in…" : "Log in"}
        </button>
        <p class="muted small">
          The first admin password is in <code>/var/lib/corral/server/admin.password</code> on the server.
        </p>
      </form>
    </div>
  );
}

/** Corral's mark: three nodes joined in a ring. */
export function Logo() {
  return (
    <svg class="logo" viewBox="0 0 32 32" width="26" height="26" aria-hidden="true">
      <circle cx="16" cy="16" r="13" fill="none" stroke="currentColor" stroke-width="2.5" />
      <circle cx="16" cy="6" r="4" fill="#38bdf8" />
      <circle cx="7.5" cy="21" r="4" fill="#34d399" />
      <circle cx="24.5" cy="21" r="4" fill="#fbbf24" />
    </svg>
  );
}
