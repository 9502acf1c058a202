/**
 * Whether a workspace folder is a schema-lsp project.
 *
 * Pure logic: no `vscode` import.
 */

export type EnableMode = "auto" | "always" | "never";

/** True when the text of a pyproject.toml has a `[tool.schema-lsp]` (or sub-)table. */
export function pyprojectHasSchemaLsp(text: string): boolean {
  return /^\s*\[\s*tool\s*\.\s*(?:"schema-lsp"|schema-lsp|schema_lsp)\s*[\].]/m.test(text);
}

export interface ProjectInputs {
  enable: EnableMode | string;
  /** `schemaLsp.models` configured in VS Code. */
  modelsConfigured: boolean;
  hasAlembicIni: boolean;
  /** Contents of the folder's pyproject.toml, if it has one. */
  pyproject: string | undefined;
}

export function shouldStart(inputs: ProjectInputs): boolean {
  if (inputs.enable === "never") {
    return false;
  }
  if (inputs.enable === "always" || inputs.modelsConfigured || inputs.hasAlembicIni) {
    return true;
  }
  return inputs.pyproject !== undefined && pyprojectHasSchemaLsp(inputs.pyproject);
}
