/**
 * Status bar text from the server's `schemaLsp/status` notifications.
 *
 * Pure logic: no `vscode` import.
 */

export type ServerState = "checking" | "connected" | "unreachable" | "stale" | "error";

export interface StatusParams {
  state: ServerState;
  driftCount: number;
  message: string;
  root: string;
}

export interface StatusView {
  text: string;
  tooltip: string;
  /** "error" / "warning" map to the status bar's error / warning backgrounds. */
  background: "error" | "warning" | undefined;
}

const RANK: Record<ServerState, number> = {
  connected: 0,
  checking: 1,
  stale: 2,
  unreachable: 3,
  error: 4,
};

const ICON: Record<ServerState, string> = {
  connected: "$(database)",
  checking: "$(sync~spin)",
  stale: "$(history)",
  unreachable: "$(debug-disconnect)",
  error: "$(error)",
};

/** Validates a notification payload; returns undefined for anything malformed. */
export function parseStatus(raw: unknown): StatusParams | undefined {
  if (raw === null || typeof raw !== "object") {
    return undefined;
  }
  const r = raw as Record<string, unknown>;
  if (typeof r.state !== "string" || !(r.state in RANK)) {
    return undefined;
  }
  return {
    state: r.state as ServerState,
    driftCount: typeof r.driftCount === "number" && r.driftCount >= 0 ? Math.floor(r.driftCount) : 0,
    message: typeof r.message === "string" ? r.message : "",
    root: typeof r.root === "string" ? r.root : "",
  };
}

/** Short folder name of a root URI, for the tooltip. */
export function rootName(root: string): string {
  const trimmed = root.replace(/\/+$/, "");
  const last = trimmed.slice(trimmed.lastIndexOf("/") + 1);
  try {
    return decodeURIComponent(last) || root;
  } catch {
    return last || root;
  }
}

/**
 * Combines the latest status of every root into one status bar item: the drift counts add up,
 * and the worst state wins (error > unreachable > stale > checking > connected).
 */
export function renderStatus(byRoot: ReadonlyMap<string, StatusParams>): StatusView {
  if (byRoot.size === 0) {
    return { text: "$(database) schema-lsp", tooltip: "schema-lsp: starting", background: undefined };
  }
  let worst: ServerState = "connected";
  let drift = 0;
  const lines: string[] = [];
  for (const status of byRoot.values()) {
    drift += status.driftCount;
    if (RANK[status.state] > RANK[worst]) {
      worst = status.state;
    }
    const detail = status.message ? ` — ${status.message}` : "";
    lines.push(`${rootName(status.root)}: ${status.state}, ${plural(status.driftCount)}${detail}`);
  }
  const label = worst === "connected" ? plural(drift) : `${plural(drift)} (${worst})`;
  let background: StatusView["background"];
  if (worst === "error" || worst === "unreachable") {
    background = "error";
  } else if (drift > 0 || worst === "stale") {
    background = "warning";
  }
  return {
    text: `${ICON[worst]} ${label}`,
    tooltip: `schema-lsp\n${lines.join("\n")}\nClick to check now.`,
    background,
  };
}

function plural(n: number): string {
  return n === 1 ? "1 drift" : `${n} drifts`;
}
