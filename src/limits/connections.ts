/**
 * Open graphql-ws connections per client (CLIENT_MAX_CONNECTIONS). Unlike the other limits this
 * is a count of live things, not a window: a slot is taken when a connection is accepted and given
 * back when it closes. Counted in this process (here), in the cluster's primary
 * (src/cluster/link.ts), or in Redis (the limits gate).
 */

/** Gives a connection's slot back; call once, when the connection has closed. */
export type ConnectionRelease = () => void;

export interface ConnectionCounter {
  /** Counts one more connection of `clientId` unless `max` are open; resolves with its release, or null at the limit. */
  open(clientId: string, max: number): Promise<ConnectionRelease | null>;
}

/** Exact counts in this process: a single process's connections are all here. */
export class MemoryConnectionCounter implements ConnectionCounter {
  private readonly counts = new Map<string, number>();

  /** Counts synchronously, so that two connections racing in one process cannot both take the last slot. */
  open(clientId: string, max: number): Promise<ConnectionRelease | null> {
    const open = this.counts.get(clientId) ?? 0;
    if (open >= max) return Promise.resolve(null);
    this.counts.set(clientId, open + 1);
    let released = false;
    return Promise.resolve(() => {
      if (released) return;
      released = true;
      const left = (this.counts.get(clientId) ?? 1) - 1;
      if (left > 0) this.counts.set(clientId, left);
      else this.counts.delete(clientId);
    });
  }
}
