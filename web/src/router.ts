// Hash routing: `#/clusters/alice/demo` and the like, so the server only ever serves
// index.html at `/` and a reload lands on the same page.

import { useEffect, useState } from "preact/hooks";

/** The current route's path segments, e.g. ["clusters", "alice", "demo"]. */
export function useRoute(): string[] {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return parse(hash);
}

export function parse(hash: string): string[] {
  return hash
    .replace(/^#\/?/, "")
    .split("?")[0]
    .split("/")
    .filter((s) => s.length > 0)
    .map(decodeURIComponent);
}

/** The href of a route. */
export function href(...segments: string[]): string {
  return "#/" + segments.map(encodeURIComponent).join("/");
}

export function navigate(...segments: string[]) {
  location.hash = href(...segments);
}
