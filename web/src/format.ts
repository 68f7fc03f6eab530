// How numbers and times are shown to people.

export function bytes(b: number): string {
  const units: [string, number][] = [
    ["TiB", 2 ** 40],
    ["GiB", 2 ** 30],
    ["MiB", 2 ** 20],
    ["KiB", 2 ** 10],
  ];
  for (const [u, m] of units) {
    if (b >= m) {
      const v = b / m;
      return `${Number.isInteger(v) ? v : v.toFixed(1)} ${u}`;
    }
  }
  return `${Math.round(b)} B`;
}

export function rate(bps: number): string {
  return `${bytes(bps)}/s`;
}

export function cpus(millis: number): string {
  const v = millis / 1000;
  return Number.isInteger(v) ? `${v}` : v.toFixed(2).replace(/0$/, "");
}

export function ago(secs: number): string {
  const d = Math.max(0, Math.floor(Date.now() / 1000 - secs));
  if (d < 5) return "just now";
  if (d < 60) return `${d}s ago`;
  if (d < 3600) return `${Math.floor(d / 60)} min ago`;
  if (d < 86400) return `${Math.floor(d / 3600)} h ago`;
  return `${Math.floor(d / 86400)} d ago`;
}

export function time(secs: number): string {
  return new Date(secs * 1000).toLocaleString();
}

export function percent(used: number, total: number): number {
  return total > 0 ? Math.min(100, Math.round((used / total) * 100)) : 0;
}
