// Data loading hooks shared by the pages.

import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError, api, authHeaders } from "./api";
import type { CorralEvent } from "./types";

export interface Loaded<T> {
  data: T | undefined;
  error: ApiError | undefined;
  reload: () => void;
}

/** GETs `path`, again every `everyMs` when given, and on `reload()`. */
export function useApi<T>(path: string | null, everyMs?: number): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<ApiError>();
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  useEffect(() => {
    if (!path) return;
    let alive = true;
    const load = () =>
      api<T>("GET", path).then(
        (d) => {
          if (alive) {
            setData(d);
            setError(undefined);
          }
        },
        (e: ApiError) => alive && setError(e),
      );
    load();
    const timer = everyMs ? setInterval(load, everyMs) : undefined;
    return () => {
      alive = false;
      if (timer) clearInterval(timer);
    };
  }, [path, tick, everyMs]);
  return { data, error, reload };
}

/**
 * Live events from the server-sent events stream (`/v1/events/stream`), after the
 * last one the caller already has. The stream names each event by its kind (an open
 * set), which EventSource cannot subscribe to wholesale, so it is read with fetch:
 * that also sends the token as a header. Reconnects with `since` after a drop.
 */
export function useEventStream(since: number | undefined, onEvent: (e: CorralEvent) => void) {
  const handler = useRef(onEvent);
  handler.current = onEvent;
  useEffect(() => {
    if (since === undefined) return;
    const abort = new AbortController();
    let last = since;
    let retry: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      try {
        const resp = await fetch(`/v1/events/stream?since=${last}`, {
          signal: abort.signal,
          headers: { Accept: "text/event-stream", ...authHeaders() },
        });
        if (!resp.ok || !resp.body) throw new Error(`stream answered ${resp.status}`);
        const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let end: number;
          while ((end = buf.indexOf("\n\n")) >= 0) {
            const frame = buf.slice(0, end);
            buf = buf.slice(end + 2);
            const data = frame
              .split("\n")
              .filter((l) => l.startsWith("data:"))
              .map((l) => l.slice(5).replace(/^ /, ""))
              .join("\n");
            if (!data) continue; // a keep-alive comment
            const e = JSON.parse(data) as CorralEvent;
            if (e.seq > last) {
              last = e.seq;
              handler.current(e);
            }
          }
        }
      } catch {
        if (abort.signal.aborted) return;
      }
      if (!abort.signal.aborted) retry = setTimeout(run, 3000);
    };
    run();
    return () => {
      abort.abort();
      if (retry) clearTimeout(retry);
    };
  }, [since]);
}
