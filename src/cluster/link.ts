/**
 * A worker's side of the IPC channel (src/cluster/ipc.ts): its questions to the primary and their
 * answers, the cluster's state as the primary last said, and its own metrics when the primary
 * collects them. The app sees it as a `WorkerLink`.
 */
import type { WorkerLink } from '../app.js';
import type { ConnectionCounter, ConnectionRelease } from '../limits/connections.js';
import type { Logger } from '../logger.js';
import { CHANNEL, isOurs, type PrimaryMessage, type WorkerMessage } from './ipc.js';

/** Longer than the primary's own wait for the workers' metrics (src/cluster/metrics.ts). */
const METRICS_TIMEOUT_MS = 8000;

/**
 * How long a connection waits for the primary's count. The primary answers from memory at once;
 * past this it is taken to be gone (and this worker with it soon): the connection is let in.
 */
const CONNECTION_TIMEOUT_MS = 3000;

/** The messages that wait for an answer, before their id. */
type Question = { type: 'metrics' } | { type: 'connection-open'; client: string; max: number };

export class PrimaryLink implements WorkerLink {
  private state = { ready: 0, expected: 0 };
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private readMetrics: (() => Promise<unknown[]>) | null = null;
  private announce: Array<() => void> = [];
  private announced = false;

  constructor(
    expected: number,
    private readonly logger: Logger,
  ) {
    this.state.expected = expected;
    process.on('message', (message: unknown) => {
      if (isOurs<PrimaryMessage>(message)) this.receive(message);
    });
  }

  get workers(): { ready: number; expected: number } {
    return { ...this.state };
  }

  /** Tells the primary that this worker serves at `url`. */
  ready(url: string): void {
    this.send({ channel: CHANNEL, type: 'ready', url });
  }

  metrics(): Promise<string> {
    return this.ask({ type: 'metrics' }, METRICS_TIMEOUT_MS) as Promise<string>;
  }

  shareMetrics(read: () => Promise<unknown[]>): void {
    this.readMetrics = read;
  }

  onAnnounce(say: () => void): void {
    if (this.announced) say();
    else this.announce.push(say);
  }

  readonly connections: ConnectionCounter = {
    open: async (client, max): Promise<ConnectionRelease | null> => {
      let admitted: boolean;
      try {
        admitted = (await this.ask({ type: 'connection-open', client, max }, CONNECTION_TIMEOUT_MS)) === true;
      } catch (error) {
        // Fail open, as the limits do when Redis is down: this worker is going away anyway.
        this.logger.warn({ error: (error as Error).message }, 'the primary did not count a connection: let in uncounted');
        return () => undefined;
      }
      if (!admitted) return null;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        this.send({ channel: CHANNEL, type: 'connection-close', client });
      };
    },
  };

  private receive(message: PrimaryMessage): void {
    switch (message.type) {
      case 'state':
        this.state = { ready: message.ready, expected: message.expected };
        return;
      case 'answer': {
        const waiter = this.waiting.get(message.id);
        this.waiting.delete(message.id);
        if ('error' in message) waiter?.reject(new Error(message.error));
        else waiter?.resolve(message.value);
        return;
      }
      case 'collect': {
        const read = this.readMetrics ?? (() => Promise.resolve([]));
        void read().then(
          (metrics) => this.send({ channel: CHANNEL, type: 'collected', id: message.id, metrics }),
          () => this.send({ channel: CHANNEL, type: 'collected', id: message.id, metrics: [] }),
        );
        return;
      }
      case 'announce':
        this.announced = true;
        for (const say of this.announce.splice(0)) say();
        return;
    }
  }

  private ask(question: Question, timeoutMs: number): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`no answer from the primary in ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      this.waiting.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.send({ channel: CHANNEL, ...question, id } as WorkerMessage);
    });
  }

  /** A closed channel (the primary is gone) is this worker's end: nothing to report it to. */
  private send(message: WorkerMessage): void {
    if (!process.connected) return;
    process.send?.(message, undefined, undefined, () => undefined);
  }
}
