/**
 * Trusted documents: the page sends each operation by its id (`documentId`) instead of its text,
 * so that it works against a service started with `PERSISTED_DOCUMENTS`, which runs nothing else.
 * Against a service without a manifest, the first request by id is answered with the error code
 * `PERSISTED_QUERY_NOT_SUPPORTED`: that request is sent again as text, unseen by the rest of the
 * page, and every later one goes as text from the start. One build works against both.
 *
 * The ids come from the documents themselves: codegen's client preset (`persistedDocuments` in
 * `embedHashInDocument` mode, see codegen.ts) puts each operation's id in its `__meta__.hash`, the
 * same `"sha256:<hex>"` key it writes to `gql/persisted-documents.json`. No list to keep up to
 * date: `npm run codegen` regenerates both together. An operation without a hash goes as text.
 */
import type { ExecutionResult, FormattedExecutionResult } from 'graphql';
import type { Client as WsClient } from 'graphql-ws';

/** One subscription's callbacks. */
export interface Sink {
  next(result: FormattedExecutionResult): void;
  error(error: unknown): void;
  complete(): void;
}

/** A subscription as it goes over graphql-ws: the document's text, its variables and name. */
export interface SubscriptionRequest {
  query: string;
  variables?: Record<string, unknown> | undefined;
  operationName?: string | undefined;
}

/** The error code of a service without trusted documents for a request by id alone (src/plugins/persisted.ts). */
const NOT_SUPPORTED = 'PERSISTED_QUERY_NOT_SUPPORTED';

/** The id codegen embedded in a generated document, or null (a document it did not generate). */
export function documentIdOf(document: unknown): string | null {
  const hash = (document as { __meta__?: { hash?: unknown } } | null)?.__meta__?.hash;
  return typeof hash === 'string' && hash !== '' ? hash : null;
}

/**
 * The page's documents by operation name. Apollo rewrites a document before it reaches the link
 * (its cache adds `__typename`), which drops the id codegen embedded; the operation's name, which
 * codegen keeps unique, finds it again.
 */
const idsByOperation = new Map<string, string>();

/** Registers generated documents, so that their operations go by id. */
export function registerDocuments(...documents: unknown[]): void {
  for (const document of documents) {
    const id = documentIdOf(document);
    const definitions = (document as { definitions?: Array<{ kind?: string; name?: { value?: string } }> }).definitions ?? [];
    const name = definitions.find((definition) => definition.kind === 'OperationDefinition')?.name?.value;
    if (id !== null && name) idsByOperation.set(name, id);
  }
}

/** The trusted-document id of a registered operation, or null (it goes as text). */
export function documentIdForOperation(operationName: string): string | null {
  return idsByOperation.get(operationName) ?? null;
}

/** True when GraphQL errors include the service's "no trusted documents here" refusal. */
function refusesIds(errors: unknown): boolean {
  return (
    Array.isArray(errors) &&
    errors.some((error) => (error as { extensions?: { code?: unknown } } | null)?.extensions?.code === NOT_SUPPORTED)
  );
}

/**
 * How the page sends its documents, for the page's lifetime: by id until the service says it
 * has no trusted documents, then as text. (A service that has them never accepts text, so there
 * is no way back to learn.)
 */
export class DocumentMode {
  #byId = true;

  get byId(): boolean {
    return this.#byId;
  }

  /** The service has no trusted documents: text from now on. */
  switchToText(): void {
    this.#byId = false;
  }

  /**
   * The `fetch` for one HTTP operation: the GraphQL client builds the request as usual, with the
   * text as `query` (a POST's JSON body, or a GET's `?query=`); this sends it with `documentId` in
   * place of `query` (operationName, variables and extensions unchanged). If the answer is the
   * `PERSISTED_QUERY_NOT_SUPPORTED` refusal, it switches to text and returns the answer to the
   * client's own request instead, so the client never sees the refused try.
   */
  fetchFor(documentId: string): typeof fetch {
    return async (input, init) => {
      const byId = this.#byId ? withDocumentId(input, init, documentId) : null;
      if (!byId) return fetch(input, init);
      const response = await fetch(byId.input, byId.init);
      if (!(await isNotSupportedAnswer(response))) return response;
      this.switchToText();
      return fetch(input, init);
    };
  }

  /**
   * Starts a graphql-ws subscription: `{ query: '', documentId, variables, operationName }` by id
   * (graphql-ws requires a string `query`), the text otherwise. If the answer by id is the
   * `PERSISTED_QUERY_NOT_SUPPORTED` refusal (a subscription sent before any HTTP request told the
   * mode), it subscribes again with the text into the same sink. Returns the unsubscribe of
   * whichever subscription is current.
   */
  subscribe(ws: WsClient, request: SubscriptionRequest, documentId: string | null, sink: Sink): () => void {
    const text = { ...request };
    let unsubscribe: () => void;
    const start = (byId: boolean) => {
      let answered = false;
      const payload = byId ? { query: '', documentId, variables: request.variables, operationName: request.operationName } : text;
      unsubscribe = ws.subscribe<ExecutionResult['data'], NonNullable<ExecutionResult['extensions']>>(payload, {
        next: (result) => {
          answered = true;
          sink.next(result);
        },
        error: (error) => {
          if (byId && !answered && refusesIds(error)) {
            this.switchToText();
            start(false);
            return;
          }
          sink.error(error);
        },
        complete: () => sink.complete(),
      });
    };
    start(this.#byId && documentId !== null);
    return () => unsubscribe();
  }
}

/**
 * The client's request, sent by id: a JSON POST body without `query` and with `documentId`, or a GET
 * URL with `?documentId=` instead of `?query=`. Null for anything else (a multipart upload),
 * which then goes as it is.
 */
function withDocumentId(
  input: RequestInfo | URL,
  init: RequestInit | undefined,
  documentId: string,
): { input: RequestInfo | URL; init: RequestInit | undefined } | null {
  if (typeof init?.body === 'string') {
    const body = JSON.parse(init.body) as Record<string, unknown>;
    if (typeof body['query'] !== 'string') return null;
    return { input, init: { ...init, body: JSON.stringify({ ...body, query: undefined, documentId }) } };
  }
  if (init?.body != null || input instanceof Request) return null;
  const url = new URL(String(input), location.href);
  if (!url.searchParams.has('query')) return null;
  url.searchParams.delete('query');
  url.searchParams.set('documentId', documentId);
  return { input: url.href, init };
}

/** Reads a copy of a JSON answer (the refusal is a small JSON body) for the refusal's code. */
async function isNotSupportedAnswer(response: Response): Promise<boolean> {
  if (!/json/i.test(response.headers.get('content-type') ?? '')) return false;
  try {
    const body = (await response.clone().json()) as { errors?: unknown };
    return refusesIds(body.errors);
  } catch {
    return false;
  }
}
