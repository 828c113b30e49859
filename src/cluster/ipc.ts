/**
 * The messages between the primary and its workers, over node:cluster's IPC channel. The channel
 * also carries rate-limiter-flexible's messages (the counters of RateLimiterCluster): each side
 * reads only the messages with its own `channel`.
 *
 * A message sent to a worker before it listens is lost (its event loop turns while its modules
 * load), so the primary sends nothing but `state` and answers before a worker says `ready`, and
 * stops it with a signal, not a message.
 */

export const CHANNEL = 'chatql';

/** What a worker tells or asks the primary. `id` pairs a question with its answer. */
export type WorkerMessage =
  /** Listening on PORT at `url`: it serves. */
  | { channel: typeof CHANNEL; type: 'ready'; url: string }
  /** Every worker's metrics, as Prometheus text. */
  | { channel: typeof CHANNEL; type: 'metrics'; id: number }
  /** May `client` open one more graphql-ws connection (answered true or false)? Counted if so. */
  | { channel: typeof CHANNEL; type: 'connection-open'; id: number; client: string; max: number }
  /** One of `client`'s connections on this worker closed. */
  | { channel: typeof CHANNEL; type: 'connection-close'; client: string }
  /** This worker's own metrics (`Registry.getMetricsAsJSON()`), for the `collect` of that id. */
  | { channel: typeof CHANNEL; type: 'collected'; id: number; metrics: unknown[] };

/** What the primary tells a worker. */
export type PrimaryMessage =
  /** Workers serving now, of how many there should be. */
  | { channel: typeof CHANNEL; type: 'state'; ready: number; expected: number }
  /** The answer to the question with this id. */
  | { channel: typeof CHANNEL; type: 'answer'; id: number; value: unknown }
  | { channel: typeof CHANNEL; type: 'answer'; id: number; error: string }
  /** Send your metrics (`collected`). */
  | { channel: typeof CHANNEL; type: 'collect'; id: number }
  /** The cluster is up and its "ready" line logged: say what start-up has to say, for all. */
  | { channel: typeof CHANNEL; type: 'announce' };

/** Whether `message` is one of ours (the others are rate-limiter-flexible's). */
export function isOurs<T extends { channel: typeof CHANNEL }>(message: unknown): message is T {
  return typeof message === 'object' && message !== null && (message as { channel?: unknown }).channel === CHANNEL;
}

/**
 * The environment variable that hands the embedded mock upstream's URL, started once by the
 * primary, to its workers: their configuration stays the embedded mock's (UPSTREAM_PRICES, the
 * "ready" line, /readyz), only its address comes from here.
 */
export const MOCK_URL_VARIABLE = 'CHATQL_WORKER_MOCK_URL';
