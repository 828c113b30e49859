/**
 * The primary's count of open graphql-ws connections per client, across its workers
 * (CLIENT_MAX_CONNECTIONS without Redis). Kept per worker, so that the connections of a worker
 * that died are given back at once: its clients reconnect to the others, and must not find their
 * slots taken by connections that are gone.
 */
export class ConnectionCounts {
  private readonly total = new Map<string, number>();
  private readonly byWorker = new Map<number, Map<string, number>>();

  /** Counts one more connection of `client` on `worker` unless `max` are open in all. */
  open(worker: number, client: string, max: number): boolean {
    const open = this.total.get(client) ?? 0;
    if (open >= max) return false;
    this.total.set(client, open + 1);
    let own = this.byWorker.get(worker);
    if (!own) this.byWorker.set(worker, (own = new Map()));
    own.set(client, (own.get(client) ?? 0) + 1);
    return true;
  }

  close(worker: number, client: string): void {
    const own = this.byWorker.get(worker);
    const count = own?.get(client) ?? 0;
    if (!own || count === 0) return;
    if (count > 1) own.set(client, count - 1);
    else own.delete(client);
    this.take(client, 1);
  }

  /** A worker exited: its connections are closed. */
  forget(worker: number): void {
    for (const [client, count] of this.byWorker.get(worker) ?? []) this.take(client, count);
    this.byWorker.delete(worker);
  }

  private take(client: string, count: number): void {
    const left = (this.total.get(client) ?? count) - count;
    if (left > 0) this.total.set(client, left);
    else this.total.delete(client);
  }
}
