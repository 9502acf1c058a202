/**
 * Choosing the server's "add all drift" source action among the code actions of a document.
 *
 * Pure logic: no `vscode` import.
 */

export interface ActionLike {
  title: string;
  kind?: string;
}

export type AddAllScope = "workspace" | "file";

/**
 * Index of the best "add all drift" action: a `source` action whose title mentions the
 * requested scope ("...in the workspace" / "...in this file"), falling back to the other
 * scope. Returns -1 when the server offered none.
 */
export function chooseAddAllAction(actions: readonly ActionLike[], scope: AddAllScope): number {
  const isAddAll = (a: ActionLike): boolean =>
    (a.kind === undefined || a.kind === "source" || a.kind.startsWith("source.")) &&
    /\badd all\b/i.test(a.title);
  const mentions = (a: ActionLike, s: AddAllScope): boolean =>
    s === "workspace" ? /workspace/i.test(a.title) : /\bfile\b/i.test(a.title);
  const order: AddAllScope[] = scope === "workspace" ? ["workspace", "file"] : ["file", "workspace"];
  for (const s of order) {
    const index = actions.findIndex((a) => isAddAll(a) && mentions(a, s));
    if (index >= 0) {
      return index;
    }
  }
  return actions.findIndex(isAddAll);
}

/** Extracts the preview text from a `schemaLsp.previewRevision` result (a string or `{text}`). */
export function previewText(result: unknown): string {
  if (typeof result === "string") {
    return result;
  }
  if (result !== null && typeof result === "object") {
    const r = result as Record<string, unknown>;
    for (const key of ["text", "preview", "content", "source"]) {
      const v = r[key];
      if (typeof v === "string") {
        return v;
      }
    }
  }
  if (result === null || result === undefined) {
    return "# No drift: the next revision would be empty.\n";
  }
  return JSON.stringify(result, null, 2);
}
