import type { Logger } from './logger.js';
import type { ChatService } from './chat/service.js';
import type { ModelsService } from './upstream/models.js';

/** What every resolver gets: the services, and the signal that fires when the client goes away. */
export interface Context {
  chat: ChatService;
  models: ModelsService;
  logger: Logger;
  /**
   * Aborted when the client leaves this operation: the HTTP/SSE request closing, or, over
   * graphql-ws, the client's `complete` or the socket closing (see `src/http/websocket.ts`).
   */
  signal: AbortSignal;
  /** Ties the operation's log line, its response and its upstream call together. */
  requestId: string;
}
