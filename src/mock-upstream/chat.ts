/**
 * Answers a valid chat completion request the way its model behaves: a JSON
 * completion, a paced SSE stream, or one of the failures a client must survive.
 */

import type { ServerResponse } from 'node:http';
import { type CompletionPlan, type PlanOptions, planCompletion, renderChunks, renderCompletion, type StreamEvent } from './completion.js';
import { formatCost } from './cost.js';
import { costReported, hugeChunkText, type MockModel, SLOW_HEADERS_MS } from './models.js';
import type { ChatRequest } from './request.js';
import { thinkingBlocksRequired, unsignedToolTurn } from './thinking.js';
import { type Pacer, sendError, sendJson, startBody, writable, writeEvent } from './wire.js';

/** Delays of a stream, from the server's options. */
export interface StreamTiming {
  readonly firstTokenDelayMs: number;
  readonly wordDelayMs: number;
}

/** How many token chunks a failing stream sends before it fails (per choice): enough for a client to have shown some text. */
const TOKENS_BEFORE_FAILURE = 3;

/** Answers one valid request as `model` behaves. */
export async function answerChatCompletion(
  res: ServerResponse,
  request: ChatRequest,
  model: MockModel,
  timing: StreamTiming,
  pacer: Pacer,
): Promise<void> {
  if (model.behaviour === 'http-error') return sendError(res, model.error);
  if (model.behaviour === 'thinking') {
    // Anthropic checks the conversation before it answers, streaming or not.
    const unsigned = unsignedToolTurn(request.messages);
    if (unsigned !== undefined) return sendError(res, thinkingBlocksRequired(unsigned));
  }
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
      const cost = costReported(model, plan.usage);
      sendJson(
        res,
        200,
        renderCompletion(plan, model.behaviour === 'no-finish' ? null : plan.finishReason),
        cost === undefined ? {} : { 'x-litellm-response-cost': formatCost(cost) },
      );
    }
  }
}

/** The answer a model plans: `fail-huge-chunk` says all of it in one content token. */
function planFor(request: ChatRequest, model: MockModel): CompletionPlan {
  const plan = planCompletion(request, plannerOptions(model));
  if (model.behaviour !== 'huge-chunk') return plan;
  const n = plan.choices.length;
  const usage = { ...plan.usage, completion_tokens: n, total_tokens: plan.usage.prompt_tokens + n };
  const choices = plan.choices.map(() => [{ kind: 'content', text: hugeChunkText(), logprob: undefined } as const]);
  return { ...plan, mode: 'content', choices, finishReason: 'stop', usage };
}

/** What `fail-malformed` sends in place of a chunk: JSON cut off mid-object, then the blank line that ends the event. */
const MALFORMED_EVENT =
  'data: {"id":"chatcmpl-malformed","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"cut off\n\n';

function plannerOptions(model: MockModel): PlanOptions {
  return {
    refuses: model.behaviour === 'refusal',
    reasons: model.behaviour === 'reasoning',
    thinks: model.behaviour === 'thinking',
    long: model.behaviour === 'long',
    ...(model.behaviour === 'fixed' ? { answer: model.answer } : {}),
    // The filter lets through what the failing models send before they fail.
    ...(model.behaviour === 'content-filter' ? { filteredAfter: TOKENS_BEFORE_FAILURE } : {}),
  };
}

/**
 * Which events a model sends: failing models stop early and never send the finish or usage chunks.
 * The role chunks come first, then the token chunks step by step, one per choice, so the first
 * `n × (1 + TOKENS_BEFORE_FAILURE)` events are every choice's role and first words.
 */
function eventsFor(model: MockModel, events: readonly StreamEvent[], n: number): StreamEvent[] {
  if (model.behaviour === 'no-finish') return events.filter((event) => event.kind === 'role' || event.kind === 'token');
  if (model.behaviour === 'headers-only') return [];
  const failsMidStream =
    model.behaviour === 'break' ||
    model.behaviour === 'stall' ||
    model.behaviour === 'stream-error' ||
    model.behaviour === 'malformed' ||
    model.behaviour === 'no-done';
  if (!failsMidStream) return [...events];
  return events.filter((event) => event.kind === 'role' || event.kind === 'token').slice(0, n * (1 + TOKENS_BEFORE_FAILURE));
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
  const events = renderChunks(plan, request.includeUsage, costReported(model, plan.usage));
  for (const event of eventsFor(model, events, plan.choices.length)) {
    // One wait per step: the other choices' chunks of that step follow choice 0's at once.
    if (event.kind === 'token' && event.choice === 0) {
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
