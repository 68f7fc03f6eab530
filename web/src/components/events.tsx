// A live list of events: the stored ones first, then new ones from the stream.

import { useEffect, useState } from "preact/hooks";
import { api } from "../api";
import { ago, time } from "../format";
import { useEventStream } from "../hooks";
import type { CorralEvent } from "../types";
import { Empty, ErrorBox } from "./ui";

/**
 * Events from `path` (a JSON list, oldest first), newest shown first, kept live;
 * `accept` filters the streamed ones (e.g. to one cluster).
 */
export function EventList(props: { path: string; accept?: (e: CorralEvent) => boolean; limit?: number }) {
  const [events, setEvents] = useState<CorralEvent[]>([]);
  const [since, setSince] = useState<number>();
  const [error, setError] = useState<unknown>();
  const limit = props.limit ?? 20;

  useEffect(() => {
    let alive = true;
    api<CorralEvent[]>("GET", props.path).then(
      (list) => {
        if (!alive) return;
        setEvents(list.slice(-limit).reverse());
        setSince(list.length ? list[list.length - 1].seq : 0);
      },
      (e) => alive && setError(e),
    );
    return () => {
      alive = false;
    };
  }, [props.path]);

  useEventStream(since, (e) => {
    if (props.accept && !props.accept(e)) return;
    setEvents((old) => [e, ...old].slice(0, limit));
  });

  if (error) return <ErrorBox error={error} />;
  if (!events.length) return <Empty>No events yet.</Empty>;
  return (
    <ul class="events" data-testid="events">
      {events.map((e) => (
        <li key={e.seq} data-kind={e.kind}>
          <span class={`dot kind-${e.kind.split(".").pop()}`} />
          <div class="event-main">
            <div>
              <span class="event-kind">{e.kind}</span> <span class="event-target">{e.target}</span>
            </div>
            <div class="event-msg">{e.message}</div>
          </div>
          <div class="event-meta" title={time(e.time)}>
            <div>{ago(e.time)}</div>
            <div class="muted">{e.actor}</div>
          </div>
        </li>
      ))}
    </ul>
  );
}
