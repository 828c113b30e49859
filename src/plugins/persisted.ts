/**
 * Trusted documents (`PERSISTED_DOCUMENTS`): with a manifest set, only the documents it lists run,
 * each sent by its id instead of its text, on HTTP (POST body or GET query string), SSE and
 * graphql-ws alike. Anything else, an ad-hoc `query` included, is refused before parsing, so it
 * can reach neither a resolver nor the upstream.
 *
 * The manifest is what codegen's client preset writes with `persistedDocuments`
 * (`web/src/gql/persisted-documents.json`): a JSON object from `"sha256:<hex>"` ids to the
 * documents' normalised text. It is read once, at start-up, with the rest of the configuration.
 *
 * HTTP and SSE go through `@graphql-yoga/plugin-persisted-operations`; graphql-ws does not run
 * Yoga's `onParams` hooks, so `websocket.ts` resolves its payloads with `resolveOperation` below,
 * against the same store and with the same messages.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import { GraphQLError, parse } from 'graphql';
import type { GraphQLParams, Plugin } from 'graphql-yoga';

const SHA256_PREFIX = 'sha256:';
const BARE_SHA256 = /^[0-9a-f]{64}$/;

/** The manifest, loaded: a read-only map from document id to document text. */
export class PersistedDocuments {
  readonly #documents: ReadonlyMap<string, string>;

  constructor(documents: ReadonlyMap<string, string>) {
    this.#documents = documents;
  }

  get size(): number {
    return this.#documents.size;
  }

  /**
   * The document with this id. Apollo's `extensions.persistedQuery.sha256Hash` is the bare hex
   * hash, where codegen's ids carry the `sha256:` prefix (GraphQL over HTTP's "prefixed document
   * identifier"): a bare 64-digit hash is looked up with the prefix too.
   */
  get(id: string): string | undefined {
    return this.#documents.get(id) ?? (BARE_SHA256.test(id) ? this.#documents.get(SHA256_PREFIX + id) : undefined);
  }
}

export type LoadResult = { ok: true; documents: PersistedDocuments } | { ok: false; problem: string };

/** Long ids or texts quoted in messages are cut, so that one line stays one readable line. */
function quote(text: string, max = 80): string {
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
}

/** What a JSON value is, for messages: "null", "an array", "an object", "a number"... */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/**
 * Reads and checks a manifest. Every problem is a single line naming the variable and the file:
 * the file is missing or unreadable, is not JSON, is not an object, or has an entry whose value is
 * not a string, does not parse as GraphQL, or (for `sha256:` ids) whose id is not the sha256 of
 * its text, which catches a manifest edited by hand after codegen wrote it.
 */
export function loadPersistedDocuments(path: string): LoadResult {
  const fail = (why: string): LoadResult => ({ ok: false, problem: `PERSISTED_DOCUMENTS: ${path}: ${why}` });
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return fail(code === 'ENOENT' ? 'no such file' : `cannot be read (${code ?? (error as Error).message})`);
  }
  let manifest: unknown;
  try {
    manifest = JSON.parse(text);
  } catch (error) {
    return fail(`is not valid JSON (${(error as Error).message})`);
  }
  if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) {
    return fail(`must be a JSON object of document ids to document texts (codegen's persisted-documents.json), not ${kindOf(manifest)}`);
  }
  const documents = new Map<string, string>();
  for (const [id, document] of Object.entries(manifest)) {
    if (typeof document !== 'string') {
      return fail(`the entry ${quote(id)} must be a document's text (a string), not ${kindOf(document)}`);
    }
    try {
      parse(document);
    } catch (error) {
      return fail(`the entry ${quote(id)} is not a GraphQL document (${(error as Error).message.split('\n', 1)[0]})`);
    }
    if (id.startsWith(SHA256_PREFIX) && id !== SHA256_PREFIX + createHash('sha256').update(document).digest('hex')) {
      return fail(`the entry ${quote(id)} is not the sha256 of its document: regenerate the manifest (npm run codegen)`);
    }
    documents.set(id, document);
  }
  if (documents.size === 0) return fail('lists no documents, so nothing could run');
  return { ok: true, documents: new PersistedDocuments(documents) };
}

/** What a request or a graphql-ws payload may carry besides Yoga's own parameters. */
interface RequestParams {
  query?: unknown;
  documentId?: unknown;
  extensions?: unknown;
}

/**
 * The id a client sent: GraphQL over HTTP's `documentId` (codegen's client preset, urql, Relay),
 * else Apollo's `extensions.persistedQuery.sha256Hash` (the plugin's default form, kept).
 */
export function requestedDocumentId(params: RequestParams): string | null {
  if (typeof params.documentId === 'string' && params.documentId !== '') return params.documentId;
  const persistedQuery = (params.extensions as { persistedQuery?: { version?: unknown; sha256Hash?: unknown } } | null | undefined)
    ?.persistedQuery;
  if (persistedQuery?.version === 1 && typeof persistedQuery.sha256Hash === 'string') return persistedQuery.sha256Hash;
  return null;
}

/** True when a request asks for a persisted document in any form (to refuse it without a manifest). */
function asksForDocumentId(params: RequestParams): boolean {
  return params.documentId != null || requestedDocumentId(params) !== null;
}

/**
 * The refusals, shared by every transport. The codes are the plugin's own, except for
 * `PERSISTED_QUERY_NOT_SUPPORTED` (no manifest), which is the one Apollo's persisted-queries link
 * reads as "send the full query instead".
 */
export const persistedErrors = {
  queryNotAllowed: () =>
    new GraphQLError(
      "Only trusted documents run on this service (PERSISTED_DOCUMENTS): send the document's `documentId` instead of a `query`.",
      { extensions: { code: 'PERSISTED_QUERY_ONLY' } },
    ),
  idRequired: () =>
    new GraphQLError(
      'A `documentId` is required: this service runs only its trusted documents (PERSISTED_DOCUMENTS), each sent by its id.',
      { extensions: { code: 'PERSISTED_QUERY_ID_REQUIRED' } },
    ),
  unknownId: (id: string) =>
    new GraphQLError(`Unknown documentId ${quote(id)}: it is not one of this service's trusted documents (PERSISTED_DOCUMENTS).`, {
      extensions: { code: 'PERSISTED_QUERY_NOT_IN_LIST' },
    }),
  notSupported: () =>
    new GraphQLError('This service has no trusted documents (PERSISTED_DOCUMENTS is not set): send the operation as `query`.', {
      extensions: { code: 'PERSISTED_QUERY_NOT_SUPPORTED' },
    }),
} as const;

/**
 * Resolves a graphql-ws subscribe payload to the document text to run, or to the error to answer
 * that operation with. graphql-ws 6 requires `query` to be a string in every subscribe message
 * (it closes the socket with 4400 otherwise, and its client refuses to send one without it), so
 * clients send `query: ''` next to `documentId` (or Apollo's `extensions`).
 */
export function resolveOperation(documents: PersistedDocuments | null, payload: RequestParams & { query: string }): string | GraphQLError {
  if (documents === null) {
    return payload.query === '' && asksForDocumentId(payload) ? persistedErrors.notSupported() : payload.query;
  }
  if (payload.query !== '') return persistedErrors.queryNotAllowed();
  const id = requestedDocumentId(payload);
  if (id === null) return persistedErrors.idRequired();
  return documents.get(id) ?? persistedErrors.unknownId(id);
}

/**
 * Yoga's GET parser keeps only `query`, `variables`, `operationName` and `extensions` from the
 * query string: this puts `?documentId=` back into the request's parameters.
 */
const useDocumentIdFromQueryString: Plugin = {
  onRequestParse({ request, url }) {
    if (request.method !== 'GET') return undefined;
    const documentId = url.searchParams.get('documentId');
    if (documentId === null) return undefined;
    return {
      onRequestParseDone({ requestParserResult, setRequestParserResult }) {
        if (!Array.isArray(requestParserResult)) setRequestParserResult({ ...requestParserResult, documentId } as GraphQLParams);
      },
    };
  },
};

/**
 * The Yoga plugins for trusted documents. With a manifest: only its documents run, by id. Without
 * one: nothing changes for `query` requests, and a request by id alone gets a clear refusal
 * instead of Yoga's "Unexpected parameter" or "Must provide query string".
 *
 * Refusals happen in `onParams`, before parsing. Like the plugin's own errors they carry no HTTP
 * status, so Yoga answers them with 200 and `{ "errors": [...] }` (whichever JSON media type was
 * accepted), and over SSE as the stream's only `next` event before `complete`.
 */
export function persistedDocumentsPlugins(documents: PersistedDocuments | null): Plugin[] {
  if (documents === null) {
    return [
      useDocumentIdFromQueryString,
      {
        onParams({ params }) {
          if (!params.query && asksForDocumentId(params as RequestParams)) throw persistedErrors.notSupported();
        },
      },
    ];
  }
  return [
    useDocumentIdFromQueryString,
    usePersistedOperations({
      // The manifest's documents are texts: Yoga parses them through its parser cache, and armor's
      // limits and validation still apply to them (skipDocumentValidation stays false).
      getPersistedOperation: (id) => documents.get(id) ?? null,
      extractPersistedOperationId: (params) => requestedDocumentId(params as RequestParams),
      customErrors: {
        persistedQueryOnly: () => persistedErrors.queryNotAllowed(),
        keyNotFound: () => persistedErrors.idRequired(),
        notFound: ({ params }) => persistedErrors.unknownId(requestedDocumentId(params as RequestParams) ?? ''),
      },
    }),
  ];
}
