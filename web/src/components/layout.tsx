// The frame around every page: the navigation on the left, who is logged in on top.

import type { ComponentChildren } from "preact";
import type { Session } from "../api";
import { href } from "../router";
import { Logo } from "../pages/login";

const NAV: { path: string; label: string; admin?: boolean }[] = [
  { path: "", label: "Dashboard" },
  { path: "clusters", label: "Clusters" },
  { path: "images", label: "Images" },
  { path: "hosts", label: "Hosts", admin: true },
  { path: "users", label: "Users", admin: true },
];

export function Layout(props: { session: Session; route: string[]; onLogout: () => void; children: ComponentChildren }) {
  const here = props.route[0] ?? "";
  return (
    <div class="shell">
      <nav class="sidebar">
        <a class="brand" href={href()}>
          <Logo /> Corral
        </a>
        <ul>
          {NAV.filter((n) => !n.admin || props.session.role === "admin").map((n) => (
            <li key={n.path}>
              <a href={href(...(n.path ? [n.path] : []))} class={here === n.path ? "active" : ""} data-nav={n.path || "dashboard"}>
                {n.label}
              </a>
            </li>
          ))}
        </ul>
        <div class="sidebar-foot">
          <a href="/v1/openapi.json" target="_blank" rel="noopener">
            API reference
          </a>
        </div>
      </nav>
      <div class="main">
        <header class="topbar">
          <div />
          <div class="whoami">
            <span class="avatar">{props.session.user.slice(0, 1).toUpperCase()}</span>
            <span data-testid="user">{props.session.user}</span>
            <span class={`badge tone-${props.session.role === "admin" ? "info" : "idle"}`}>{props.session.role}</span>
            <button class="btn btn-small" onClick={props.onLogout}>
              Log out
            </button>
          </div>
        </header>
        <main class="content">{props.children}</main>
      </div>
    </div>
  );
}
