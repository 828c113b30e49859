import type { AuthOutcome } from './auth/authenticate.js';
import type { AuthMode } from './auth/principal.js';
import type { LimitsGate } from './limits/gate.js';
import type { Logger } from './logger.js';
import type { ChatService } from './chat/service.js';
import type { ModelsService } from './chat/models.js';

/** What every resolver gets: the services, and the signal that fires when the client goes away. */
export interface Context {
  chat: ChatService;
  models: ModelsService;
  logger: Logger;
  /**
   * Aborted when the client leaves this operation: the HTTP/SSE request closing, or, over
   * graphql-ws, the client's `complete` or the socket closing (see `src/http/ws/aborts.ts`).
   */
  signal: AbortSignal;
  /**
   * The caller: a `Principal`, or the `AuthenticationError` that operations needing one answer
   * with. Over graphql-ws it was decided once, at `connection_init`.
   */
  principal: AuthOutcome;
  authMode: AuthMode;
  gate: LimitsGate;
  /** Ties the operation's log line, its response and its upstream call together. */
  requestId: string;
}
