/**
 * CLIENT_KEYS_FILE (AUTH_MODE=api-key): the clients and the SHA-256 of their keys, never the keys.
 *
 *   { "clients": [
 *       { "id": "client-1", "keySha256": "<64 hex digits>",
 *         "limits": { "requestsPerMinute": 60, "dailyTokens": 200000 }, "models": ["gpt-4o-mini"] } ] }
 *
 * `npm run client-key -- <id>` makes a new key and prints its entry. Read once at start-up; every
 * problem is reported with its place in the file.
 */
import { readFileSync } from 'node:fs';

import { z } from 'zod';

import { ANONYMOUS, CLIENT_ID_PATTERN, clientLimitsSchema, type ClientLimitsOverride, modelListSchema } from './principal.js';

export interface ClientKeyEntry {
  id: string;
  /** The SHA-256 of the key, as 32 bytes. */
  keySha256: Buffer;
  limits: ClientLimitsOverride;
}

const entrySchema = z
  .object({
    id: z
      .string()
      .regex(CLIENT_ID_PATTERN, 'must be 1 to 128 letters, digits or . _ @ - (starting with a letter or digit)')
      .refine((id) => id !== ANONYMOUS, `"${ANONYMOUS}" is reserved for AUTH_MODE=none`),
    keySha256: z.string().regex(/^[0-9a-fA-F]{64}$/, "must be the 64 hex digits of the key's SHA-256 (not the key itself)"),
    limits: clientLimitsSchema.optional(),
    models: modelListSchema.nullable().optional(),
    /** Free text for the operator; ignored. */
    note: z.string().optional(),
  })
  .strict();

const fileSchema = z.object({ clients: z.array(entrySchema).min(1, 'must list at least one client') }).strict();

export type KeysFileResult = { ok: true; clients: ClientKeyEntry[] } | { ok: false; problems: string[] };

export function parseClientKeys(text: string, path: string): KeysFileResult {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { ok: false, problems: [`CLIENT_KEYS_FILE ${path} is not valid JSON: ${(error as Error).message}`] };
  }
  const parsed = fileSchema.safeParse(json);
  if (!parsed.success) {
    return {
      ok: false,
      problems: parsed.error.issues.map((issue) => `CLIENT_KEYS_FILE ${path}: ${issue.path.join('.') || '(top level)'} ${issue.message}`),
    };
  }
  const problems: string[] = [];
  const ids = new Set<string>();
  const hashes = new Set<string>();
  for (const [index, entry] of parsed.data.clients.entries()) {
    if (ids.has(entry.id)) problems.push(`CLIENT_KEYS_FILE ${path}: clients.${index}.id "${entry.id}" is listed twice`);
    if (hashes.has(entry.keySha256.toLowerCase()))
      problems.push(`CLIENT_KEYS_FILE ${path}: clients.${index}.keySha256 is the same as an earlier client's`);
    ids.add(entry.id);
    hashes.add(entry.keySha256.toLowerCase());
  }
  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    clients: parsed.data.clients.map((entry) => ({
      id: entry.id,
      keySha256: Buffer.from(entry.keySha256, 'hex'),
      limits: { ...entry.limits, ...(entry.models === undefined ? {} : { models: entry.models }) },
    })),
  };
}

export function loadClientKeys(path: string): KeysFileResult {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    return {
      ok: false,
      problems: [`CLIENT_KEYS_FILE ${path} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`],
    };
  }
  return parseClientKeys(text, path);
}
