/**
 * AUTH_MODE=forward: the client keys the upstream answered 401 for lately, by the key's hash, so
 * that a client repeating a junk key costs at most one upstream call per MODELS_CACHE_MS instead
 * of one per request. Bounded: the least recently refused beyond `max` are forgotten first.
 */
import { createHash } from 'node:crypto';

import type { AuthenticationError } from '../errors.js';

/** Keys remembered at once. */
export const MAX_REJECTED_KEYS = 10_000;

function digest(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('base64');
}

export class RejectedKeys {
  /** By key hash, oldest first (a Map keeps insertion order). */
  private readonly byHash = new Map<string, { error: AuthenticationError; expiresAt: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly max = MAX_REJECTED_KEYS,
  ) {}

  /** The upstream's refusal of `key`, while it is remembered; null otherwise. */
  check(key: string): AuthenticationError | null {
    if (this.byHash.size === 0) return null;
    const id = digest(key);
    const entry = this.byHash.get(id);
    if (!entry) return null;
    if (entry.expiresAt > performance.now()) return entry.error;
    this.byHash.delete(id);
    return null;
  }

  /** Remembers the upstream's 401 for `key` (its message is already redacted). */
  remember(key: string, error: AuthenticationError): void {
    if (this.ttlMs === 0) return;
    const id = digest(key);
    this.byHash.delete(id);
    if (this.byHash.size >= this.max) this.byHash.delete(this.byHash.keys().next().value!);
    this.byHash.set(id, { error, expiresAt: performance.now() + this.ttlMs });
  }
}
