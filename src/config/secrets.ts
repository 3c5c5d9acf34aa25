// Resolving secret references at the moment they are needed (never earlier, never
// stored). Errors name the reference, never the value.
import { readFileSync } from "node:fs";
import type { SecretRef } from "./types.js";

export class SecretError extends Error {}

/** Describes a reference without its value: for plans, state and messages. */
export function describeSecret(ref: SecretRef): string {
  switch (ref.kind) {
    case "env":
      return `env:${ref.name}`;
    case "file":
      return `file:${ref.path}`;
    case "inline":
      return "inline";
  }
}

export function resolveSecret(ref: SecretRef, inline: ReadonlyMap<string, string> = new Map(), env = process.env): string {
  switch (ref.kind) {
    case "env": {
      const v = env[ref.name];
      if (v === undefined || v === "") throw new SecretError(`environment variable ${ref.name} is not set`);
      return v;
    }
    case "file": {
      let text: string;
      try {
        text = readFileSync(ref.path, "utf8");
      } catch (e) {
        throw new SecretError(`cannot read secret file ${ref.path}: ${(e as NodeJS.ErrnoException).code ?? "error"}`);
      }
      const first = text.split(/\r?\n/)[0] ?? "";
      if (!first) throw new SecretError(`secret file ${ref.path} is empty`);
      return first;
    }
    case "inline": {
      const v = inline.get(ref.id);
      if (v === undefined) throw new SecretError("inline secret is not available");
      return v;
    }
  }
}
