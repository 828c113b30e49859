/** CLIENT_KEYS_FILE for the tests: written to a fresh temporary directory. */
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Writes `{ clients }` as a CLIENT_KEYS_FILE and returns its path. */
export function writeKeysFile(clients: unknown[]): string {
  const path = join(mkdtempSync(join(tmpdir(), 'chatql-keys-')), 'clients.json');
  writeFileSync(path, JSON.stringify({ clients }));
  return path;
}
