/**
 * Answers a valid chat completion request the way its model behaves: a JSON
 * completion, a paced SSE stream, or one of the failures a client must survive.
 */

import type { ServerResponse } from 'node:http';
import { type CompletionPlan, planCompletion, renderChunks, renderCompletion, type StreamEvent } from './completion.js';
import { hugeChunkText, type MockModel, SLOW_HEADERS_MS } from './models.js';
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
  // Slow headers: the same answer, late (the pacer stops waiting if the client leaves first).
  if (model.behaviour === 'slow-headers' && !(await pacer.wait(SLOW_HEADERS_MS))) return;
  if (request.stream) return streamCompletion(res, request, model, timing, pacer);
  switch (model.behaviour) {
    case 'break':
      res.socket?.destroy();
      return;
    case 'stall':
    case 'headers-only':
      startBody(res, 'application/json');
      return;
    case 'stream-error':
      return sendError(res, model.error);
    case 'malformed': {
      // A body cut short inside its JSON, with a content-length that matches what was sent.
      const text = JSON.stringify(renderCompletion(planFor(request, model)));
      const truncated = text.slice(0, Math.floor(text.length / 2));
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(truncated) });
      res.end(truncated);
      return;
    }
    default: {
      const plan = planFor(request, model);
      sendJson(res, 200, renderCompletion(plan, model.behaviour === 'no-finish' ? null : plan.finishReason));
    }
  }
}

/** The answer a model plans: `fail-huge-chunk` says all of it in one content token. */
function planFor(request: ChatRequest, model: MockModel): CompletionPlan {
  const plan = planCompletion(request, plannerOptions(model));
  if (model.behaviour !== 'huge-chunk') return plan;
  const usage = { ...plan.usage, completion_tokens: 1, total_tokens: plan.usage.prompt_tokens + 1 };
  return { ...plan, mode: 'content', steps: [{ kind: 'content', text: hugeChunkText(), logprob: undefined }], finishReason: 'stop', usage };
}

/** What `fail-malformed` sends in place of a chunk: JSON cut off mid-object, then the blank line that ends the event. */
const MALFORMED_EVENT =
  'data: {"id":"chatcmpl-malformed","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"cut off\n\n';

function plannerOptions(model: MockModel): { refuses: boolean; reasons: boolean; long: boolean } {
  return { refuses: model.behaviour === 'refusal', reasons: model.behaviour === 'reasoning', long: model.behaviour === 'long' };
}

/** Which events a model sends: failing models stop early and never send the finish or usage chunks. */
function eventsFor(model: MockModel, events: readonly StreamEvent[]): StreamEvent[] {
  if (model.behaviour === 'no-finish') return events.filter((event) => event.kind === 'role' || event.kind === 'token');
  if (model.behaviour === 'headers-only') return [];
  const failsMidStream =
    model.behaviour === 'break' ||
    model.behaviour === 'stall' ||
    model.behaviour === 'stream-error' ||
    model.behaviour === 'malformed' ||
    model.behaviour === 'no-done';
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
  const plan = planFor(request, model);
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
    case 'headers-only':
      return;
    case 'stream-error':
      void writeEvent(res, model.event);
      break;
    case 'malformed':
      if (writable(res)) res.write(MALFORMED_EVENT);
      break;
    case 'no-done':
      // A clean end of the body (the chunked encoding's last chunk), the stream's own end missing.
      if (writable(res)) res.end();
      return;
  }
  void writeEvent(res, '[DONE]');
  if (writable(res)) res.end();
}
