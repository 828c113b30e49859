/**
 * Trusted documents (PERSISTED_DOCUMENTS), against real servers: the service started with the
 * manifest codegen writes for the tests (test/gql/persisted-documents.json), driven over HTTP POST,
 * HTTP GET, SSE and graphql-ws. A listed document runs by its id and reaches the upstream; an
 * ad-hoc query (even `{ __typename }`, even the very text of a listed document), an unknown id or
 * no id at all is refused with a clear GraphQL error and never reaches the upstream. Without the
 * manifest, queries run as before and a request by id alone is refused clearly.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { type ExecutionResult, print } from 'graphql';
import type { Client, SubscribePayload } from 'graphql-ws';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import type { MockUpstream } from '../../src/mock-upstream/server.js';
import type {
  ChatCompletionInput,
  ChatCompletionMutation as MutationResult,
  ChatCompletionStreamSubscription as StreamResult,
  ModelsQuery as ModelsResult,
} from '../gql/graphql.js';
import { createWsClient } from '../utils/clients.js';
import { ChatCompletionMutation, ChatCompletionStreamSubscription, ModelsQuery } from '../utils/operations.js';
import { startMock, startService, type TestService } from '../utils/servers.js';

const MANIFEST_PATH = 'test/gql/persisted-documents.json';
const manifest = JSON.parse(readFileSync(MANIFEST_PATH, 'utf8')) as Record<string, string>;

const ONLY_TRUSTED =
  /^Only trusted documents run on this service \(PERSISTED_DOCUMENTS\): send the document's `documentId` instead of a `query`\.$/;
const UNKNOWN_ID = 'sha256:0000000000000000000000000000000000000000000000000000000000000000';
const UNKNOWN_ID_MESSAGE = `Unknown documentId "${UNKNOWN_ID}": it is not one of this service's trusted documents (PERSISTED_DOCUMENTS).`;
const NOT_SUPPORTED_MESSAGE = 'This service has no trusted documents (PERSISTED_DOCUMENTS is not set): send the operation as `query`.';

/** The id codegen embeds in a generated document (`__meta__.hash`), as a client reads it. */
function documentIdOf(document: TypedDocumentNode<unknown, never> | object): string {
  const hash = (document as { __meta__?: { hash?: unknown } }).__meta__?.hash;
  if (typeof hash !== 'string') throw new Error('the generated document has no __meta__.hash: is persistedDocuments on in codegen.ts?');
  return hash;
}

const MUTATION_ID = documentIdOf(ChatCompletionMutation);
const STREAM_ID = documentIdOf(ChatCompletionStreamSubscription);
const MODELS_ID = documentIdOf(ModelsQuery);

const input = (prompt: string): ChatCompletionInput => ({ model: 'chatql-mock', messages: [{ user: { content: prompt } }] });

let mock: MockUpstream;
let trusted: TestService;
let open: TestService;

beforeAll(async () => {
  mock = await startMock();
  // MODELS_CACHE_MS=0: every `models` query asks the upstream, so that it shows in mock.requests.
  trusted = await startService(mock, { PERSISTED_DOCUMENTS: MANIFEST_PATH, MODELS_CACHE_MS: '0' });
  open = await startService(mock, { MODELS_CACHE_MS: '0' });
});

function chatCalls(): number {
  return mock.requests.filter((request) => request.path === '/v1/chat/completions').length;
}

/** The last chat completion request's user message, as the upstream received it. */
function lastPrompt(): unknown {
  const request = mock.requests.filter((r) => r.path === '/v1/chat/completions').at(-1);
  return (request?.body as { messages?: Array<{ content?: unknown }> } | undefined)?.messages?.[0]?.content;
}

function messages(result: ExecutionResult<unknown>): string[] {
  return (result.errors ?? []).map((error) => error.message);
}

function codes(result: ExecutionResult<unknown>): unknown[] {
  return (result.errors ?? []).map((error) => error.extensions?.['code']);
}

// ---------- clients that send ids ----------

interface HttpAnswer<T> {
  status: number;
  contentType: string | null;
  body: ExecutionResult<T>;
}

async function post<T = Record<string, unknown>>(
  service: TestService,
  body: Record<string, unknown>,
  accept = 'application/graphql-response+json',
): Promise<HttpAnswer<T>> {
  const response = await fetch(service.httpUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept },
    body: JSON.stringify(body),
  });
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    body: (await response.json()) as ExecutionResult<T>,
  };
}

async function get<T = Record<string, unknown>>(service: TestService, params: Record<string, string>): Promise<HttpAnswer<T>> {
  const response = await fetch(`${service.httpUrl}?${new URLSearchParams(params).toString()}`, {
    headers: { accept: 'application/graphql-response+json' },
  });
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    body: (await response.json()) as ExecutionResult<T>,
  };
}

/** An SSE request: every `next` payload until `complete`, and the response status. */
async function sse<T>(
  service: TestService,
  body: Record<string, unknown>,
): Promise<{ status: number; results: Array<ExecutionResult<T>> }> {
  const response = await fetch(service.httpUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  const frames = text.split('\n\n').filter((frame) => frame.trim() !== '');
  expect(frames.at(-1), 'the stream ends with a complete event').toMatch(/^event: complete$/m);
  const results = frames
    .filter((frame) => /^event: next$/m.test(frame))
    .map(
      (frame) =>
        JSON.parse(
          frame
            .split('\n')
            .filter((line) => line.startsWith('data:'))
            .map((line) => line.slice(5).trimStart())
            .join('\n'),
        ) as ExecutionResult<T>,
    );
  return { status: response.status, results };
}

/**
 * A graphql-ws operation to its end: its results, or the operation's `error` message as
 * `{ errors }`. graphql-ws (client and server) insists on a string `query` in every subscribe
 * message, so an operation by id carries `query: ''`, as urql's subscriptionExchange does.
 */
function ws<T>(client: Client, payload: SubscribePayload & { documentId?: string }): Promise<Array<ExecutionResult<T>>> {
  return new Promise((resolve, reject) => {
    const results: Array<ExecutionResult<T>> = [];
    client.subscribe<T>(payload, {
      next: (result) => results.push(result as ExecutionResult<T>),
      error: (error) => {
        if (Array.isArray(error)) resolve([{ errors: error }]);
        else reject(error instanceof Error ? error : new Error(JSON.stringify(error)));
      },
      complete: () => resolve(results),
    });
  });
}

type StreamEvent = StreamResult['chatCompletionStream'];

/** Checks a stream's events: chunks, then exactly one terminal ChatCompletion, whose text the chunks add up to. */
function expectWholeStream(events: StreamEvent[], prompt: string): void {
  expect(events.length).toBeGreaterThan(2);
  const terminal = events.at(-1)!;
  if (terminal.__typename !== 'ChatCompletion') throw new Error(`expected a terminal ChatCompletion, got ${JSON.stringify(terminal)}`);
  const chunks = events.slice(0, -1);
  expect(chunks.every((event) => event.__typename === 'ChatCompletionChunk')).toBe(true);
  const streamed = chunks
    .flatMap((event) => (event.__typename === 'ChatCompletionChunk' ? event.choices.map((choice) => choice.delta.content ?? '') : []))
    .join('');
  const content = terminal.choices[0]?.message.content;
  expect(content).toContain(prompt);
  expect(streamed).toBe(content);
  expect(terminal.choices[0]?.finishReason).toBe('STOP');
}

// ---------- the manifest ----------

describe('the manifest codegen writes', () => {
  it('lists every test document under the id embedded in it, the sha256 of its text', () => {
    for (const id of [MUTATION_ID, STREAM_ID, MODELS_ID]) {
      const text = manifest[id];
      expect(text, id).toBeTypeOf('string');
      expect(id).toBe(`sha256:${createHash('sha256').update(text!).digest('hex')}`);
    }
    expect(manifest[MUTATION_ID]).toMatch(/^fragment CompletionFields .* mutation ChatCompletion\(\$input: ChatCompletionInput!\)/);
    expect(trusted.config.persistedDocuments?.size).toBe(Object.keys(manifest).length);
    expect(open.config.persistedDocuments).toBeNull();
  });
});

// ---------- with the manifest ----------

describe('with PERSISTED_DOCUMENTS, over HTTP POST', () => {
  afterEach(async () => {
    // Still healthy, and still running trusted documents.
    expect((await fetch(`${trusted.url}/healthz`)).status).toBe(200);
    const { status, body } = await post<MutationResult>(trusted, { documentId: MUTATION_ID, variables: { input: input('still there?') } });
    expect(status).toBe(200);
    expect(body.data?.chatCompletion.__typename).toBe('ChatCompletion');
  });

  it('runs a trusted mutation by documentId, and it reaches the upstream', async () => {
    const before = chatCalls();
    const { status, body } = await post<MutationResult>(trusted, {
      documentId: MUTATION_ID,
      operationName: 'ChatCompletion',
      variables: { input: input('persisted hello') },
    });
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    const completion = body.data?.chatCompletion;
    if (completion?.__typename !== 'ChatCompletion') throw new Error(`expected a ChatCompletion, got ${JSON.stringify(completion)}`);
    expect(completion.choices[0]?.message.content).toContain('persisted hello');
    expect(chatCalls()).toBe(before + 1);
    expect(lastPrompt()).toBe('persisted hello');
  });

  it("runs a trusted document by Apollo's extensions.persistedQuery.sha256Hash (bare hex)", async () => {
    const before = chatCalls();
    const { status, body } = await post<MutationResult>(trusted, {
      variables: { input: input('apollo style') },
      extensions: { persistedQuery: { version: 1, sha256Hash: MUTATION_ID.slice('sha256:'.length) } },
    });
    expect(status).toBe(200);
    expect(body.data?.chatCompletion.__typename).toBe('ChatCompletion');
    expect(chatCalls()).toBe(before + 1);
  });

  it('refuses an arbitrary query, even the text of a trusted document, with no upstream call', async () => {
    const before = mock.requests.length;
    for (const query of [print(ChatCompletionMutation), manifest[MUTATION_ID]!, '{ __typename }']) {
      const { status, contentType, body } = await post(trusted, { query, variables: { input: input('ad hoc') } });
      // The plugin's refusals carry no HTTP status: Yoga answers them 200, with the error as the body.
      expect(status).toBe(200);
      expect(contentType).toMatch(/^application\/graphql-response\+json/);
      expect(body.data).toBeUndefined();
      expect(messages(body)).toHaveLength(1);
      expect(messages(body)[0]).toMatch(ONLY_TRUSTED);
      expect(codes(body)).toEqual(['PERSISTED_QUERY_ONLY']);
    }
    // The same for a client that only accepts application/json.
    const legacy = await post(trusted, { query: '{ __typename }' }, 'application/json');
    expect(legacy.status).toBe(200);
    expect(messages(legacy.body)[0]).toMatch(ONLY_TRUSTED);
    // A query sent along with a valid id is refused too: the id does not vouch for the text.
    const both = await post(trusted, { query: '{ __typename }', documentId: MODELS_ID });
    expect(messages(both.body)[0]).toMatch(ONLY_TRUSTED);
    expect(mock.requests.length).toBe(before);
  });

  it('refuses an unknown id and a request with no id, with no upstream call', async () => {
    const before = mock.requests.length;
    const unknown = await post(trusted, { documentId: UNKNOWN_ID, variables: { input: input('x') } });
    expect(unknown.status).toBe(200);
    expect(messages(unknown.body)).toEqual([UNKNOWN_ID_MESSAGE]);
    expect(codes(unknown.body)).toEqual(['PERSISTED_QUERY_NOT_IN_LIST']);

    const none = await post(trusted, { variables: { input: input('x') } });
    expect(none.status).toBe(200);
    expect(messages(none.body)).toEqual([
      'A `documentId` is required: this service runs only its trusted documents (PERSISTED_DOCUMENTS), each sent by its id.',
    ]);
    expect(codes(none.body)).toEqual(['PERSISTED_QUERY_ID_REQUIRED']);
    expect(mock.requests.length).toBe(before);
  });
});

describe('with PERSISTED_DOCUMENTS, over HTTP GET', () => {
  it('runs a trusted query by ?documentId=, and it reaches the upstream', async () => {
    const before = mock.requests.filter((request) => request.path === '/v1/models').length;
    const { status, body } = await get<ModelsResult>(trusted, { documentId: MODELS_ID });
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    const models = body.data?.models;
    if (models?.__typename !== 'ModelList') throw new Error(`expected a ModelList, got ${JSON.stringify(models)}`);
    expect(models.models.map((model) => model.id)).toContain('chatql-mock');
    expect(mock.requests.filter((request) => request.path === '/v1/models').length).toBe(before + 1);
  });

  it('refuses ?query=, an unknown id, and a trusted mutation (GET runs no mutations), with no upstream call', async () => {
    const before = mock.requests.length;
    const adHoc = await get(trusted, { query: '{ __typename }' });
    expect(adHoc.status).toBe(200);
    expect(messages(adHoc.body)[0]).toMatch(ONLY_TRUSTED);

    const unknown = await get(trusted, { documentId: UNKNOWN_ID });
    expect(unknown.status).toBe(200);
    expect(messages(unknown.body)).toEqual([UNKNOWN_ID_MESSAGE]);

    // The id resolves, then Yoga's own rule applies to the trusted text: no mutation over GET.
    const mutation = await get(trusted, { documentId: MUTATION_ID, variables: JSON.stringify({ input: input('via GET') }) });
    expect(mutation.status).toBe(405);
    expect(messages(mutation.body)).toEqual(['Can only perform a mutation operation from a POST request.']);
    expect(mock.requests.length).toBe(before);
  });
});

describe('with PERSISTED_DOCUMENTS, over SSE', () => {
  it('streams the trusted subscription by documentId to its end', async () => {
    const before = chatCalls();
    const { status, results } = await sse<StreamResult>(trusted, {
      documentId: STREAM_ID,
      variables: { input: input('stream me over sse') },
    });
    expect(status).toBe(200);
    expect(results.flatMap((result) => result.errors ?? [])).toEqual([]);
    expectWholeStream(
      results.map((result) => result.data!.chatCompletionStream),
      'stream me over sse',
    );
    expect(chatCalls()).toBe(before + 1);
    expect(lastPrompt()).toBe('stream me over sse');
  });

  it('refuses an arbitrary subscription and an unknown id, with no upstream call', async () => {
    const before = mock.requests.length;
    const adHoc = await sse(trusted, { query: print(ChatCompletionStreamSubscription), variables: { input: input('ad hoc') } });
    expect(adHoc.status).toBe(200);
    expect(adHoc.results).toHaveLength(1);
    expect(adHoc.results[0]?.data).toBeUndefined();
    expect(messages(adHoc.results[0]!)[0]).toMatch(ONLY_TRUSTED);

    const typename = await sse(trusted, { query: 'subscription { __typename }' });
    expect(messages(typename.results[0]!)[0]).toMatch(ONLY_TRUSTED);

    const unknown = await sse(trusted, { documentId: UNKNOWN_ID, variables: { input: input('x') } });
    expect(unknown.results.map(messages)).toEqual([[UNKNOWN_ID_MESSAGE]]);
    expect(mock.requests.length).toBe(before);
  });
});

describe('with PERSISTED_DOCUMENTS, over graphql-ws', () => {
  let client: Client;
  beforeAll(() => {
    client = createWsClient(trusted);
  });

  it('streams the trusted subscription by documentId to its end, and runs the trusted mutation', async () => {
    const before = chatCalls();
    const results = await ws<StreamResult>(client, {
      query: '',
      documentId: STREAM_ID,
      variables: { input: input('stream me over ws') },
    });
    expect(results.flatMap((result) => result.errors ?? [])).toEqual([]);
    expectWholeStream(
      results.map((result) => result.data!.chatCompletionStream),
      'stream me over ws',
    );
    expect(lastPrompt()).toBe('stream me over ws');

    const [mutation] = await ws<MutationResult>(client, { query: '', documentId: MUTATION_ID, variables: { input: input('ws mutation') } });
    expect(mutation?.data?.chatCompletion.__typename).toBe('ChatCompletion');
    expect(lastPrompt()).toBe('ws mutation');

    // Apollo's form works here too.
    const [apollo] = await ws<ModelsResult>(client, {
      query: '',
      extensions: { persistedQuery: { version: 1, sha256Hash: MODELS_ID.slice('sha256:'.length) } },
    });
    expect(apollo?.data?.models.__typename).toBe('ModelList');
    expect(chatCalls()).toBe(before + 2);
  });

  it('answers an arbitrary query, an unknown id or no id with an error for that operation, socket open, no upstream call', async () => {
    const before = mock.requests.length;
    const refusals = await Promise.all([
      ws(client, { query: print(ChatCompletionMutation), variables: { input: input('ad hoc') } }),
      ws(client, { query: '{ __typename }' }),
      ws(client, { query: '{ __typename }', documentId: MODELS_ID }),
      ws(client, { query: '', documentId: UNKNOWN_ID }),
      ws(client, { query: '' }),
    ]);
    expect(refusals.map((results) => results.map(messages))).toEqual([
      [[expect.stringMatching(ONLY_TRUSTED)]],
      [[expect.stringMatching(ONLY_TRUSTED)]],
      [[expect.stringMatching(ONLY_TRUSTED)]],
      [[UNKNOWN_ID_MESSAGE]],
      [['A `documentId` is required: this service runs only its trusted documents (PERSISTED_DOCUMENTS), each sent by its id.']],
    ]);
    expect(refusals.map((results) => results.map(codes))).toEqual([
      [['PERSISTED_QUERY_ONLY']],
      [['PERSISTED_QUERY_ONLY']],
      [['PERSISTED_QUERY_ONLY']],
      [['PERSISTED_QUERY_NOT_IN_LIST']],
      [['PERSISTED_QUERY_ID_REQUIRED']],
    ]);
    expect(mock.requests.length).toBe(before);
    // The same connection still runs trusted documents.
    const [after] = await ws<MutationResult>(client, { query: '', documentId: MUTATION_ID, variables: { input: input('after refusals') } });
    expect(after?.data?.chatCompletion.__typename).toBe('ChatCompletion');
  });
});

// ---------- without the manifest ----------

describe('without PERSISTED_DOCUMENTS', () => {
  it('runs arbitrary queries as before', async () => {
    const { status, body } = await post<MutationResult>(open, {
      query: print(ChatCompletionMutation),
      variables: { input: input('open') },
    });
    expect(status).toBe(200);
    expect(body.data?.chatCompletion.__typename).toBe('ChatCompletion');
    const [typename] = await ws(createWsClient(open), { query: '{ __typename }' });
    expect(typename?.data).toEqual({ __typename: 'Query' });
  });

  it('refuses a request by id alone clearly, on every transport, with no upstream call', async () => {
    const before = mock.requests.length;
    const byPost = await post(open, { documentId: MUTATION_ID, variables: { input: input('x') } });
    expect(byPost.status).toBe(200);
    expect(messages(byPost.body)).toEqual([NOT_SUPPORTED_MESSAGE]);
    expect(codes(byPost.body)).toEqual(['PERSISTED_QUERY_NOT_SUPPORTED']);

    const byApollo = await post(open, { extensions: { persistedQuery: { version: 1, sha256Hash: MODELS_ID.slice(7) } } });
    expect(messages(byApollo.body)).toEqual([NOT_SUPPORTED_MESSAGE]);

    const byGet = await get(open, { documentId: MODELS_ID });
    expect(byGet.status).toBe(200);
    expect(messages(byGet.body)).toEqual([NOT_SUPPORTED_MESSAGE]);

    const bySse = await sse(open, { documentId: STREAM_ID, variables: { input: input('x') } });
    expect(bySse.results.map(messages)).toEqual([[NOT_SUPPORTED_MESSAGE]]);

    const byWs = await ws(createWsClient(open), { query: '', documentId: STREAM_ID, variables: { input: input('x') } });
    expect(byWs.map(messages)).toEqual([[NOT_SUPPORTED_MESSAGE]]);
    expect(mock.requests.length).toBe(before);
  });
});
