/**
 * The person's API key or token for a service with AUTH_MODE (api-key, jwt or forward). It is
 * kept in sessionStorage (this tab, until it closes) unless "remember on this device" asks for
 * localStorage; it leaves the page only as `Authorization: Bearer <value>` over HTTP and as
 * graphql-ws's `connectionParams.authorization`, never in a URL, and is never logged. No DOM here.
 */

const STORAGE_KEY = 'chatql.credential';

export interface StoredCredential {
  value: string;
  /** True when it is kept in localStorage (remembered on this device), false for sessionStorage. */
  remembered: boolean;
}

/** A storage, or null where the browser refuses access (storage disabled, some private modes). */
function storage(kind: 'session' | 'local'): Storage | null {
  try {
    return kind === 'session' ? window.sessionStorage : window.localStorage;
  } catch {
    return null;
  }
}

function read(kind: 'session' | 'local'): string | null {
  try {
    const value = storage(kind)?.getItem(STORAGE_KEY) ?? null;
    return value === null || value === '' ? null : value;
  } catch {
    return null;
  }
}

function write(kind: 'session' | 'local', value: string | null): void {
  try {
    const store = storage(kind);
    if (value === null) store?.removeItem(STORAGE_KEY);
    else store?.setItem(STORAGE_KEY, value);
  } catch {
    // Storage full or refused: the credential still works for this page's lifetime.
  }
}

/** The credential in memory (the one requests use), read from storage once at start. */
export class Credential {
  #value: string | null;
  #remembered: boolean;
  readonly #listeners = new Set<() => void>();

  constructor() {
    const session = read('session');
    const local = session === null ? read('local') : null;
    this.#value = session ?? local;
    this.#remembered = session === null && local !== null;
  }

  get value(): string | null {
    return this.#value;
  }

  get remembered(): boolean {
    return this.#remembered;
  }

  /** The `Authorization` value to send, or null when there is no credential. */
  get authorization(): string | null {
    return this.#value === null ? null : `Bearer ${this.#value}`;
  }

  /** Keeps `value` (trimmed; empty forgets) in sessionStorage, or localStorage when `remember`. */
  save(value: string, remember: boolean): void {
    const trimmed = value.trim();
    if (trimmed === '') {
      this.forget();
      return;
    }
    this.#value = trimmed;
    this.#remembered = remember;
    write(remember ? 'local' : 'session', trimmed);
    write(remember ? 'session' : 'local', null);
    this.#changed();
  }

  /** Moves a saved credential to localStorage (`remember`) or sessionStorage; requests are unchanged. */
  keepIn(remember: boolean): void {
    if (this.#value === null || remember === this.#remembered) return;
    this.#remembered = remember;
    write(remember ? 'local' : 'session', this.#value);
    write(remember ? 'session' : 'local', null);
  }

  /** Removes it from memory and from both storages. */
  forget(): void {
    this.#value = null;
    this.#remembered = false;
    write('session', null);
    write('local', null);
    this.#changed();
  }

  /** Called after every save or forget. */
  onChange(listener: () => void): void {
    this.#listeners.add(listener);
  }

  #changed(): void {
    for (const listener of this.#listeners) listener();
  }
}
