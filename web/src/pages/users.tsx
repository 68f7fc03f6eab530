// Users (admin): the list and creating a user.

import { useState } from "preact/hooks";
import { api } from "../api";
import { Badge, Card, ErrorBox, Spinner, useAction } from "../components/ui";
import { ago } from "../format";
import { useApi } from "../hooks";
import { nameProblem } from "../names";
import type { Role, User } from "../types";

export function Users() {
  const users = useApi<User[]>("/v1/users");
  const [busy, error, run, clearError] = useAction();
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState<Role>("user");
  const [tried, setTried] = useState(false);
  const [created, setCreated] = useState("");
  const problems = {
    name: nameProblem("user", name),
    password: password.length >= 8 ? null : "at least 8 characters",
  };

  return (
    <div class="page">
      <div class="page-head">
        <h1>Users</h1>
      </div>
      <ErrorBox error={error ?? users.error} onClose={clearError} />
      {created && <div class="alert alert-ok">User {created} created: they can log in now.</div>}
      <div class="grid-2 grid-wide-left">
        <Card>
          {!users.data ? (
            <Spinner />
          ) : (
            <table class="table" data-testid="users">
              <thead>
                <tr>
                  <th>User</th>
                  <th>Role</th>
                  <th class="num">SSH keys</th>
                  <th>Created</th>
                </tr>
              </thead>
              <tbody>
                {users.data.map((u) => (
                  <tr key={u.name} data-user={u.name}>
                    <td>
                      <strong>{u.name}</strong>
                    </td>
                    <td>
                      <Badge state={u.role} />
                    </td>
                    <td class="num">{u.ssh_keys.length}</td>
                    <td class="muted">{ago(u.created_at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Card>
        <Card title="New user">
          <form
            class="form-stack"
            onSubmit={(e) => {
              e.preventDefault();
              setTried(true);
              if (problems.name || problems.password) return;
              run(async () => {
                await api("POST", "/v1/users", { name, password, role });
                setCreated(name);
                setName("");
                setPassword("");
                setTried(false);
                users.reload();
              });
            }}
          >
            <label class={`field ${tried && problems.name ? "has-error" : ""}`}>
              <span class="field-label">Name</span>
              <input value={name} onInput={(e) => setName(e.currentTarget.value)} />
              {tried && problems.name && <div class="field-error">{problems.name}</div>}
            </label>
            <label class={`field ${tried && problems.password ? "has-error" : ""}`}>
              <span class="field-label">Password</span>
              <input type="password" autoComplete="new-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
              {tried && problems.password && <div class="field-error">{problems.password}</div>}
            </label>
            <label class="field">
              <span class="field-label">Role</span>
              <select value={role} onChange={(e) => setRole(e.currentTarget.value as Role)}>
                <option value="user">user</option>
                <option value="admin">admin</option>
              </select>
              <span class="field-help">
                {role === "user" ? "Sees and changes only their own clusters and images." : "Sees and changes everything, hosts and users included."}
              </span>
            </label>
            <button class="btn btn-primary" disabled={busy}>
              Create user
            </button>
          </form>
        </Card>
      </div>
    </div>
  );
}
