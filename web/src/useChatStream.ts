/**
 * `useChatStream`: one chat answer streamed from ChatQL's `chatCompletionStream` subscription over
 * graphql-ws, with Apollo Client 4. The part of the chat page meant to be copied into an app.
 *
 *   const stream = useChatStream({ onFinish: (answer) => save(answer) });
 *   stream.start({ model: 'gpt-4o-mini', messages });   // streams; stream.message grows
 *   stream.stop();                                        // a real stop: graphql-ws `complete`
 *
 * What it takes care of:
 * - `fetchPolicy: 'no-cache'`: every chunk of a stream has the same `id`, which the normalised
 *   cache would merge into one object.
 * - Apollo's `useSubscription` keeps only the latest event, so each event is accumulated in
 *   `onData`: content, reasoning and refusal concatenated, thinking blocks assembled by block, tool
 *   calls by index. The component re-renders at most once per animation frame, however fast the
 *   tokens come (`ignoreResults`: Apollo does not re-render for each event on its own).
 * - Resumable by key: each run subscribes with `resume: { key }`, a fresh key made inside the
 *   effect, so React StrictMode's double run of effects starts nothing twice (the first run's
 *   subscription is released before graphql-ws sends it). After a reload, `start(input, { resume:
 *   { key, after, message } })` attaches to the same generation and gets the chunks after `after`,
 *   without a second upstream call.
 * - The terminal event: the whole `ChatCompletion` (with `usage` and `cost`), or a typed error,
 *   a member of the result union (`RateLimitError`, `ContentBlockedError`...). A transport failure
 *   (the socket closed, a GraphQL error) is an error too, of kind `transport`.
 */
import { useSubscription } from '@apollo/client/react';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';

import type { ChatCompletionInput, ChatErrorFragment, ChatStreamSubscription as ChatStreamResult, FinishReason } from './gql/graphql.js';
import { ChatStreamSubscription } from './operations.js';

type StreamEvent = ChatStreamResult['chatCompletionStream'];
type Chunk = Extract<StreamEvent, { __typename: 'ChatCompletionChunk' }>;
type Completion = Extract<StreamEvent, { __typename: 'ChatCompletion' }>;

export type StreamStatus = 'idle' | 'streaming' | 'done' | 'error';

export interface ThinkingBlock {
  type: string;
  thinking: string | null;
  signature: string | null;
  data: string | null;
}

export interface StreamedToolCall {
  id: string;
  name: string;
  /** JSON, as the model wrote it (partial while it streams). */
  arguments: string;
}

/** The answer so far (choice 0), as it streams in. */
export interface StreamedMessage {
  content: string;
  reasoning: string;
  refusal: string;
  thinkingBlocks: ThinkingBlock[];
  toolCalls: StreamedToolCall[];
}

export type Usage = NonNullable<Completion['usage']>;
export type Cost = NonNullable<Usage['cost']>;

export type StreamError =
  /** A member of the result union: what happened, typed (RateLimitError, ContentBlockedError...). */
  | { kind: 'typed'; error: ChatErrorFragment }
  /** The request never got an answer: the connection closed, or GraphQL refused the document. */
  | { kind: 'transport'; error: unknown };

export interface ChatStreamState {
  status: StreamStatus;
  message: StreamedMessage;
  finishReason: FinishReason | null;
  usage: Usage | null;
  cost: Cost | null;
  /** The terminal ChatCompletion, once it has come. */
  completion: Completion | null;
  error: StreamError | null;
  /** True when `stop()` ended it. */
  stopped: boolean;
  /** The generation's resume key, and the `seq` of the last chunk received: keep both to resume. */
  key: string | null;
  lastSeq: number;
  /** `performance.now()` when the last event (or the start) came: how long the model has been silent. */
  lastEventAt: number;
}

export interface StartOptions {
  /** Attach to an earlier generation: its key, the last `seq` the page has, and the message up to it. */
  resume?: { key: string; after: number; message: StreamedMessage };
}

export interface UseChatStreamOptions {
  /** Called once when an answer ends: finished, failed or stopped. */
  onFinish?: (state: ChatStreamState) => void;
}

export const EMPTY_MESSAGE: StreamedMessage = { content: '', reasoning: '', refusal: '', thinkingBlocks: [], toolCalls: [] };

const IDLE: ChatStreamState = {
  status: 'idle',
  message: EMPTY_MESSAGE,
  finishReason: null,
  usage: null,
  cost: null,
  completion: null,
  error: null,
  stopped: false,
  key: null,
  lastSeq: 0,
  lastEventAt: 0,
};

/** A resume key: 16 to 128 characters of A-Z a-z 0-9 _ - (a UUID's hex fits). */
function newKey(): string {
  return crypto.randomUUID();
}

/** Adds one chunk's delta of choice 0 to the message, in place. */
function addDelta(message: StreamedMessage, delta: Chunk['choices'][number]['delta']): void {
  if (delta.content) message.content += delta.content;
  if (delta.reasoningContent) message.reasoning += delta.reasoningContent;
  if (delta.refusal) message.refusal += delta.refusal;
  for (const fragment of delta.thinkingBlocks ?? []) {
    // A fragment adds to the last block while it has the same type and no signature yet.
    const last = message.thinkingBlocks.at(-1);
    if (last && last.type === fragment.type && last.signature === null) {
      if (fragment.thinking) last.thinking = (last.thinking ?? '') + fragment.thinking;
      if (fragment.data) last.data = (last.data ?? '') + fragment.data;
      if (fragment.signature) last.signature = fragment.signature;
    } else {
      message.thinkingBlocks.push({ ...fragment, thinking: fragment.thinking || null, data: fragment.data || null });
    }
  }
  for (const fragment of delta.toolCalls ?? []) {
    const call = (message.toolCalls[fragment.index] ??= { id: '', name: '', arguments: '' });
    if (fragment.id && !call.id) call.id = fragment.id;
    if (fragment.function?.name) call.name += fragment.function.name;
    if (fragment.function?.arguments) call.arguments += fragment.function.arguments;
  }
}

/** A copy for React: new objects wherever the message changes. */
function copyMessage(message: StreamedMessage): StreamedMessage {
  return {
    ...message,
    thinkingBlocks: message.thinkingBlocks.map((block) => ({ ...block })),
    toolCalls: message.toolCalls.filter(Boolean).map((call) => ({ ...call })),
  };
}

/** The message as the terminal ChatCompletion has it (choice 0): whole tool calls, assembled blocks. */
function messageOf(completion: Completion, streamed: StreamedMessage): StreamedMessage {
  const message = completion.choices.find((choice) => choice.index === 0)?.message;
  if (!message) return streamed;
  return {
    content: message.content ?? streamed.content,
    reasoning: message.reasoningContent ?? streamed.reasoning,
    refusal: message.refusal ?? streamed.refusal,
    thinkingBlocks: message.thinkingBlocks?.map(({ type, thinking, signature, data }) => ({ type, thinking, signature, data })) ?? [],
    toolCalls: message.toolCalls.map((call) => ({ id: call.id, name: call.function.name, arguments: call.function.arguments })),
  };
}

interface Run {
  id: number;
  input: ChatCompletionInput;
  resume: StartOptions['resume'] | undefined;
}

export function useChatStream(options: UseChatStreamOptions = {}) {
  const [state, setState] = useState<ChatStreamState>(IDLE);
  const [run, setRun] = useState<Run | null>(null);
  // The run's key, made in the effect below: `runId` ties it to the run it was made for.
  const [keyed, setKeyed] = useState<{ runId: number; key: string } | null>(null);
  const runs = useRef(0);
  // The run whose events count: an event of an earlier run (its `complete` may arrive after the
  // next run has started, before React has released its subscription) is ignored.
  const liveRun = useRef<number | null>(null);
  // The live state, written by every event; React sees a copy once per frame.
  const live = useRef<ChatStreamState>(IDLE);
  const frame = useRef<number | null>(null);
  const onFinish = useRef(options.onFinish);
  onFinish.current = options.onFinish;

  useEffect(() => {
    if (run === null) return;
    setKeyed({ runId: run.id, key: run.resume?.key ?? newKey() });
  }, [run]);

  const flush = useCallback(() => {
    if (frame.current !== null) cancelAnimationFrame(frame.current);
    frame.current = null;
    setState({ ...live.current, message: copyMessage(live.current.message) });
  }, []);

  /** Ends the run: the subscription is skipped from now on, which releases it. */
  const end = useCallback(
    (ended: Partial<ChatStreamState>) => {
      if (live.current.status !== 'streaming') return;
      liveRun.current = null;
      live.current = { ...live.current, ...ended, lastEventAt: performance.now() };
      flush();
      setRun(null);
      onFinish.current?.(live.current);
    },
    [flush],
  );

  const active = run !== null && keyed !== null && keyed.runId === run.id;
  // The run these callbacks were made for (each render makes them anew).
  const runId = active ? run.id : null;
  const current = () => runId !== null && runId === liveRun.current;
  const variables = useMemo(
    () =>
      active
        ? { input: run.input, resume: { key: keyed.key, ...(run.resume ? { after: run.resume.after } : {}) } }
        : { input: { model: '', messages: [] } },
    [active, run, keyed],
  );

  useSubscription(ChatStreamSubscription, {
    variables,
    skip: !active,
    fetchPolicy: 'no-cache',
    // Events are read in onData only: no re-render per event from Apollo itself.
    ignoreResults: true,
    onData: ({ data }) => {
      const event = data.data?.chatCompletionStream;
      if (!event || !current()) return;
      const now = performance.now();
      switch (event.__typename) {
        case 'ChatCompletionChunk': {
          for (const choice of event.choices) if (choice.index === 0) addDelta(live.current.message, choice.delta);
          live.current.lastSeq = event.seq ?? live.current.lastSeq;
          live.current.lastEventAt = now;
          if (event.usage) live.current.usage = event.usage;
          if (event.usage?.cost) live.current.cost = event.usage.cost;
          // One React update per frame, however many chunks arrive in it.
          frame.current ??= requestAnimationFrame(flush);
          return;
        }
        case 'ChatCompletion': {
          const choice = event.choices.find((candidate) => candidate.index === 0);
          end({
            status: 'done',
            completion: event,
            message: messageOf(event, live.current.message),
            finishReason: choice?.finishReason ?? null,
            usage: event.usage ?? live.current.usage,
            cost: event.usage?.cost ?? live.current.cost,
          });
          return;
        }
        default:
          end({ status: 'error', error: { kind: 'typed', error: event } });
      }
    },
    onError: (error) => {
      if (current()) end({ status: 'error', error: { kind: 'transport', error } });
    },
    onComplete: () => {
      if (!current()) return;
      // The contract puts a terminal event before `complete`: reaching here means it broke off.
      end({ status: 'error', error: { kind: 'transport', error: new Error('The stream ended without an answer.') } });
    },
  });

  // The key, known to the caller as soon as it is made (to keep it for a resume).
  useEffect(() => {
    if (!active || live.current.key === keyed.key) return;
    live.current = { ...live.current, key: keyed.key };
    flush();
  }, [active, keyed, flush]);

  useEffect(
    () => () => {
      if (frame.current !== null) cancelAnimationFrame(frame.current);
    },
    [],
  );

  const start = useCallback(
    (input: ChatCompletionInput, startOptions: StartOptions = {}) => {
      const resume = startOptions.resume;
      live.current = {
        ...IDLE,
        status: 'streaming',
        message: resume ? copyMessage(resume.message) : copyMessage(EMPTY_MESSAGE),
        key: resume?.key ?? null,
        lastSeq: resume?.after ?? 0,
        lastEventAt: performance.now(),
      };
      flush();
      setKeyed(null);
      const id = ++runs.current;
      liveRun.current = id;
      setRun({ id, input, resume });
    },
    [flush],
  );

  /** A real stop: the subscription ends with graphql-ws `complete`, and the service aborts the upstream request. */
  const stop = useCallback(() => end({ status: 'done', stopped: true }), [end]);

  /** Back to idle (a new conversation), stopping what runs. */
  const reset = useCallback(() => {
    stop();
    live.current = IDLE;
    flush();
  }, [stop, flush]);

  return { ...state, start, stop, reset };
}

export type ChatStream = ReturnType<typeof useChatStream>;
