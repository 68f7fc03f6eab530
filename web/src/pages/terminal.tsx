// A terminal into a node: xterm.js over the exec websocket with a pty. Each page
// load opens a fresh session; leaving or reloading the page closes the socket, which
// ends the old session's shell on the server.

import { FitAddon } from "@xterm/addon-fit";
import { Terminal } from "@xterm/xterm";
import "@xterm/xterm/css/xterm.css";
import { useEffect, useRef, useState } from "preact/hooks";
import { ownerQuery, wsUrl, type Session } from "../api";
import { href } from "../router";

/** A login shell: bash when the image has it, else sh. */
const SHELL = ["/bin/sh", "-c", "if command -v bash >/dev/null 2>&1; then exec bash -l; else exec sh -l; fi"];

type Status = "connecting" | "connected" | "ended" | "failed";

export function TerminalPage({ owner, cluster, node }: { session: Session; owner: string; cluster: string; node: string }) {
  const box = useRef<HTMLDivElement>(null);
  const [status, setStatus] = useState<Status>("connecting");
  const [detail, setDetail] = useState("");
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const term = new Terminal({
      cursorBlink: true,
      fontFamily: "ui-monospace, 'DejaVu Sans Mono', Menlo, monospace",
      fontSize: 14,
      theme: { background: "#0f172a", foreground: "#e2e8f0", cursor: "#38bdf8", selectionBackground: "#334155" },
    });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(el);
    fit.fit();
    term.focus();

    setStatus("connecting");
    setDetail("");
    const q = new URLSearchParams(ownerQuery(owner).slice(1));
    const ws = new WebSocket(
      wsUrl(`/v1/clusters/${encodeURIComponent(cluster)}/nodes/${encodeURIComponent(node)}/exec/ws`, Object.fromEntries(q)),
    );
    ws.binaryType = "arraybuffer";
    const enc = new TextEncoder();
    let ended = false;

    ws.onopen = () => {
      ws.send(JSON.stringify({ command: SHELL, tty: true, size: [term.rows, term.cols] }));
      setStatus("connected");
    };
    ws.onmessage = (m) => {
      if (typeof m.data !== "string") {
        term.write(new Uint8Array(m.data as ArrayBuffer));
        return;
      }
      // The last text frame: the exit code, or why the session could not start.
      try {
        const last = JSON.parse(m.data) as { exit_code?: number; error?: string };
        ended = true;
        if (last.error) {
          setStatus("failed");
          setDetail(last.error);
        } else {
          setStatus("ended");
          setDetail(`the shell exited with status ${last.exit_code ?? "?"}`);
        }
      } catch {
        // Not a control frame: show it as text.
        term.write(m.data);
      }
    };
    ws.onclose = (e) => {
      if (!ended) {
        setStatus(e.code === 1000 ? "ended" : "failed");
        setDetail(e.code === 1000 ? "the session ended" : "the connection to the server was lost");
      }
    };
    const data = term.onData((d) => ws.readyState === WebSocket.OPEN && ws.send(enc.encode(d)));
    const resize = term.onResize(({ rows, cols }) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ resize: [rows, cols] }));
    });
    const ro = new ResizeObserver(() => {
      try {
        fit.fit();
      } catch {
        // The element is being removed.
      }
    });
    ro.observe(el);
    // Reload or leave: close the socket so the server ends this session at once.
    const bye = () => ws.close(1000, "page closed");
    addEventListener("pagehide", bye);

    return () => {
      removeEventListener("pagehide", bye);
      ro.disconnect();
      data.dispose();
      resize.dispose();
      ws.onclose = null;
      ws.close(1000, "left the page");
      term.dispose();
    };
  }, [owner, cluster, node, attempt]);

  return (
    <div class="page page-terminal">
      <div class="breadcrumb">
        <a href={href("clusters")}>Clusters</a> / <a href={href("clusters", owner, cluster)}>{cluster}</a> / {node}
      </div>
      <div class="page-head">
        <h1>
          Terminal <span class="muted">{node}</span>
        </h1>
        <div class="actions">
          <span class={`conn conn-${status}`} data-testid="terminal-status">
            {status}
            {detail && `: ${detail}`}
          </span>
          {(status === "ended" || status === "failed") && (
            <button class="btn btn-primary" onClick={() => setAttempt(attempt + 1)}>
              New session
            </button>
          )}
        </div>
      </div>
      <div class="terminal-frame">
        <div ref={box} class="terminal" data-testid="terminal" />
      </div>
      <p class="muted small">A new shell starts each time this page opens; reloading the page ends the old one.</p>
    </div>
  );
}
