/**
 * Answers a valid chat completion request the way its model behaves: a JSON
 * completion, a paced SSE stream, or one of the failures a client must survive.
 */

import type { ServerResponse } from 'node:http';
import { planCompletion, renderChunks, renderCompletion, type StreamEvent } from './completion.js';
import type { MockModel } from './models.js';
import type { ChatRequest } from './request.js';
import { type Pacer, sendError, sendJson, startBody, writable, writeEvent } from './wire.js';

/** Delays of a stream, from the server's options. */
export interface StreamTiming {
  readonly firstTokenDelayMs: number;
  readonly wordDelayMs: number;
}

/** How many token chunks a failing stream sends before it fails: enough for a client to have shown some text. */
const TOKENS_BEFORE_FAILURE = 3;

export async function answerChatCompletion(
  res: ServerResponse,
  request: ChatRequest,
  model: MockModel,
  timing: StreamTiming,
  pacer: Pacer,
): Promise<void> {
  if (model.behaviour === 'http-error') return sendError(res, model.error);
  // A hang sends nothing at all; the socket stays open until the client leaves or the server closes.
  if (model.behaviour === 'hang') return;
  if (request.stream) return streamCompletion(res, request, model, timing, pacer);
  switch (model.behaviour) {
    case 'break':
      res.socket?.destroy();
      return;
    case 'stall':
      startBody(res, 'application/json');
      return;
    case 'stream-error':
      return sendError(res, model.error);
    default: {
      const plan = planCompletion(request, plannerOptions(model));
      sendJson(res, 200, renderCompletion(plan, model.behaviour === 'no-finish' ? null : plan.finishReason));
    }
  }
}

function plannerOptions(model: MockModel): { refuses: boolean; reasons: boolean } {
  return { refuses: model.behaviour === 'refusal', reasons: model.behaviour === 'reasoning' };
}

/** Which events a model sends: failing models stop early and never send the finish or usage chunks. */
function eventsFor(model: MockModel, events: readonly StreamEvent[]): StreamEvent[] {
  if (model.behaviour === 'no-finish') return events.filter((event) => event.kind === 'role' || event.kind === 'token');
  const failsMidStream = model.behaviour === 'break' || model.behaviour === 'stall' || model.behaviour === 'stream-error';
  if (!failsMidStream) return [...events];
  return events.filter((event) => event.kind === 'role' || event.kind === 'token').slice(0, 1 + TOKENS_BEFORE_FAILURE);
}

async function streamCompletion(
  res: ServerResponse,
  request: ChatRequest,
  model: MockModel,
  timing: StreamTiming,
  pacer: Pacer,
): Promise<void> {
  const plan = planCompletion(request, plannerOptions(model));
  startBody(res, 'text/event-stream; charset=utf-8');
  let tokensSent = 0;
  let flushed = Promise.resolve();
  for (const event of eventsFor(model, renderChunks(plan, request.includeUsage))) {
    if (event.kind === 'token') {
      const go = await pacer.wait(tokensSent === 0 ? timing.firstTokenDelayMs : timing.wordDelayMs);
      if (!go || !writable(res)) return;
      tokensSent += 1;
    }
    flushed = writeEvent(res, event.data);
  }
  switch (model.behaviour) {
    case 'break':
      // Let the words reach the socket first, so the client sees text and then a broken connection.
      // (or the client to leave first, in which case the write may never complete).
      await new Promise<void>((resolve) => {
        void flushed.then(resolve);
        res.once('close', resolve);
      });
      res.destroy();
      return;
    case 'stall':
      return;
    case 'stream-error':
      void writeEvent(res, model.event);
      break;
  }
  void writeEvent(res, '[DONE]');
  if (writable(res)) res.end();
}
