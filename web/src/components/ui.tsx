// Small building blocks shared by every page: state badges, error boxes, usage bars,
// confirmation dialogs, operation progress.

import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "../api";
import type { Operation } from "../types";

const TONE: Record<string, string> = {
  running: "ok",
  ready: "ok",
  succeeded: "ok",
  public: "info",
  creating: "busy",
  pending: "busy",
  stopping: "busy",
  deleting: "busy",
  draining: "busy",
  degraded: "warn",
  failed: "bad",
  unreachable: "bad",
  stopped: "idle",
  removed: "idle",
  on: "ok",
  powering_on: "busy",
  powering_off: "busy",
  off: "idle",
  private: "idle",
  admin: "info",
  user: "idle",
};

/** A coloured state word (`running`, `failed`, ...). */
export function Badge({ state }: { state: string }) {
  return <span class={`badge tone-${TONE[state] ?? "idle"}`} data-state={state}>{state}</span>;
}

/** An API error in plain words, with what to do about it. */
export function ErrorBox({ error, onClose }: { error: unknown; onClose?: () => void }) {
  if (!error) return null;
  const e = error instanceof ApiError ? error : new ApiError(0, "internal", String(error));
  return (
    <div class="alert alert-error" role="alert">
      <div>
        <strong>{e.message}</strong>
        <div class="hint">{e.hint}</div>
      </div>
      {onClose && (
        <button class="btn-icon" aria-label="Dismiss" onClick={onClose}>
          ×
        </button>
      )}
    </div>
  );
}

/** A horizontal usage bar with its numbers. */
export function UsageBar({ used, total, label }: { used: number; total: number; label: string }) {
  const p = total > 0 ? Math.min(100, (used / total) * 100) : 0;
  const tone = p > 90 ? "bad" : p > 70 ? "warn" : "ok";
  return (
    <div class="usage">
      <div class="usage-track">
        <div class={`usage-fill tone-${tone}`} style={{ width: `${p}%` }} />
      </div>
      <div class="usage-label">{label}</div>
    </div>
  );
}

/** A titled white panel. */
export function Card(props: { title?: ComponentChildren; actions?: ComponentChildren; children: ComponentChildren; class?: string }) {
  return (
    <section class={`card ${props.class ?? ""}`}>
      {(props.title || props.actions) && (
        <header class="card-head">
          <h2>{props.title}</h2>
          <div class="card-actions">{props.actions}</div>
        </header>
      )}
      <div class="card-body">{props.children}</div>
    </section>
  );
}

/** A big number with a caption, for the dashboard. */
export function Stat({ label, value, sub }: { label: string; value: ComponentChildren; sub?: ComponentChildren }) {
  return (
    <div class="stat">
      <div class="stat-label">{label}</div>
      <div class="stat-value">{value}</div>
      {sub && <div class="stat-sub">{sub}</div>}
    </div>
  );
}

/** What a list shows when it has nothing. */
export function Empty({ children }: { children: ComponentChildren }) {
  return <div class="empty">{children}</div>;
}

export function Spinner() {
  return <span class="spinner" aria-label="loading" />;
}

/** A modal dialog asking to confirm an action; `danger` colours the button red. */
export function Confirm(props: {
  title: string;
  children: ComponentChildren;
  confirm: string;
  danger?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const ok = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    ok.current?.focus();
    const esc = (e: KeyboardEvent) => e.key === "Escape" && props.onCancel();
    addEventListener("keydown", esc);
    return () => removeEventListener("keydown", esc);
  }, []);
  return (
    <div class="modal-backdrop" onClick={(e) => e.target === e.currentTarget && props.onCancel()}>
      <div class="modal" role="dialog" aria-modal="true" aria-label={props.title}>
        <h3>{props.title}</h3>
        <div class="modal-body">{props.children}</div>
        <div class="modal-actions">
          <button class="btn" onClick={props.onCancel}>
            Cancel
          </button>
          <button ref={ok} class={props.danger ? "btn btn-danger" : "btn btn-primary"} onClick={props.onConfirm}>
            {props.confirm}
          </button>
        </div>
      </div>
    </div>
  );
}

/** The state of a long operation: progress words while it runs, then its end. */
export function OperationStatus({ op }: { op: Operation | undefined }) {
  if (!op) return null;
  const cls = op.status === "failed" ? "alert-error" : op.status === "succeeded" ? "alert-ok" : "alert-info";
  return (
    <div class={`alert ${cls}`} data-operation={op.status}>
      <div>
        {op.status === "running" && <Spinner />}
        <strong>
          {op.kind} {op.target}: {op.status}
        </strong>
        {op.progress && <span class="muted"> — {op.progress}</span>}
        {op.error && (
          <div class="hint">
            {op.error.message}. {new ApiError(0, op.error.code, "").hint}
          </div>
        )}
      </div>
    </div>
  );
}

/** Runs an async action once at a time, keeping its error for display. */
export function useAction(): [boolean, unknown, (f: () => Promise<unknown>) => Promise<void>, () => void] {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const run = async (f: () => Promise<unknown>) => {
    setBusy(true);
    setError(undefined);
    try {
      await f();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return [busy, error, run, () => setError(undefined)];
}
