// Name rules, the same as crates/corral-api/src/names.rs: every cluster, node group,
// image and user name is a DNS label.

/** Longest name accepted (shorter than 63 so `<group>-<index>` fits). */
export const MAX_NAME_LEN = 40;

/** Why `name` is not a valid `kind` name, or null when it is. */
export function nameProblem(kind: string, name: string): string | null {
  const bad = (why: string) => `invalid ${kind} name "${name}": ${why}`;
  if (name.length === 0) return `${kind} name is empty`;
  if (name.length > MAX_NAME_LEN) return bad(`it is longer than ${MAX_NAME_LEN} characters`);
  if (!/^[a-z]/.test(name)) return bad("it must start with a lowercase letter");
  if (name.endsWith("-")) return bad("it must not end with '-'");
  if (!/^[a-z0-9-]+$/.test(name)) return bad("only lowercase letters, digits and '-' are allowed");
  return null;
}

/** Why a cpu amount (`1`, `0.5`, `500m`) is not valid, or null. */
export function cpuProblem(s: string): string | null {
  const t = s.trim();
  const m = /^(\d+)m$/.exec(t);
  const ok = m ? Number(m[1]) > 0 : /^\d*\.?\d+$/.test(t) && Number(t) > 0 && Number(t) <= 1_000_000;
  return ok ? null : `invalid cpu amount "${s}": expected e.g. 1, 0.5 or 500m`;
}

/** Why a memory size (`512MiB`, `1GiB`) is not valid, or null. */
export function memoryProblem(s: string): string | null {
  const m = /^(\d*\.?\d+)\s*(B|K|Ki|KiB|k|M|Mi|MiB|G|Gi|GiB|T|Ti|TiB|KB|kB|MB|GB|TB)?$/.exec(s.trim());
  if (!m || Number(m[1]) <= 0) return `invalid size "${s}": expected e.g. 512MiB or 1GiB`;
  return null;
}
