/** CLIENT_KEYS_FILE and other files the service reads, for the tests: each in a fresh temporary directory. */
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Writes `content` to a file named `name` in a fresh temporary directory and returns its path. */
export function writeTempFile(name: string, content: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'chatql-')), name);
  writeFileSync(path, content);
  return path;
}

/** Writes `{ clients }` as a CLIENT_KEYS_FILE and returns its path. */
export function writeKeysFile(clients: unknown[]): string {
  return writeTempFile('clients.json', JSON.stringify({ clients }));
}
