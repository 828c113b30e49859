/**
 * GraphiQL, bundled with the service (no CDN, so it works offline), opened on a document that a
 * newcomer can run as it is: press Run on `Stream` and watch tokens arrive.
 *
 * The page is about 9 MB of HTML and the same for every request, so it is served here rather than
 * by Yoga: rendered once (again only when the example model changes), compressed once per encoding
 * a client asks for, and revalidated by ETag, so that a reload costs a 304.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

import type { GraphiQLOptions } from 'graphql-yoga';

import type { Logger } from '../logger.js';
import { type Compression, type ContentEncoding, compress, matchesETag, preferredEncoding } from './compression.js';

/** Where GraphiQL is served: Yoga's GraphQL endpoint, with or without its trailing slash. */
const GRAPHIQL_PATHS = ['/graphql', '/graphql/'];

/** Offered in GraphiQL's example document until the upstream's model list is known. */
const FALLBACK_EXAMPLE_MODEL = 'gpt-4o-mini';

/** The example document, its operations running against `model`. */
export function graphiqlDocument(model: string): string {
  return `# Welcome to ChatQL. Pick an operation with the Run button's menu:
#   Stream  - tokens arrive live (a subscription, over Server-Sent Events here)
#   Ask     - one answer when the model has finished (a mutation): it calls the get_weather tool
#   Models  - what the upstream serves
# Every failure is data (see the Failure fragment): with the embedded mock upstream, set the model
# to "fail-429", "fail-500" or "fail-401" and run again.

# The second half of a tool call: the model asked for get_weather (as Ask shows), the tool answered,
# and now the model writes its answer from the tool's result, token by token.
subscription Stream {
  chatCompletionStream(input: {
    model: "${model}"
    messages: [
      { system: { content: "You are a concise assistant." } }
      { user: { content: "What's the weather in Paris?" } }
      { assistant: { toolCalls: [{ id: "call_weather_1", function: { name: "get_weather", arguments: """{"city": "Paris"}""" } }] } }
      { tool: { toolCallId: "call_weather_1", content: """{"city": "Paris", "temperature_c": 18, "sky": "sunny", "forecast": "Clear skies all afternoon, a light breeze from the west and a mild evening around 15 degrees; no rain before Thursday, when clouds roll in from the Atlantic."}""" } }
    ]
    tools: [{ function: {
      name: "get_weather"
      description: "Current weather for a city"
      parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] }
    } }]
  }) {
    __typename
    ... on ChatCompletionChunk { choices { delta { content toolCalls { index id function { name arguments } } } finishReason } usage { totalTokens } }
    ... on ChatCompletion {
      choices { message { content toolCalls { id function { name arguments } } } finishReason }
      usage { promptTokens completionTokens }
    }
    ...Failure
  }
}

mutation Ask {
  chatCompletion(input: {
    model: "${model}"
    messages: [{ user: { content: "What's the weather in Paris?" } }]
    tools: [{ function: {
      name: "get_weather"
      description: "Current weather for a city"
      parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] }
    } }]
  }) {
    __typename
    ... on ChatCompletion {
      id
      choices { message { content toolCalls { id function { name arguments } } } finishReason }
      usage { totalTokens }
    }
    ...Failure
  }
}

query Models {
  models {
    ... on ModelList { models { id ownedBy } }
    ...Failure
  }
}

# Every failure is a member of the result union implementing Error.
fragment Failure on Error {
  __typename
  message
  retryable
  ... on RateLimitError { retryAfterSeconds }
  ... on InvalidRequestError { param code }
  ... on UpstreamUnavailableError { status }
}
`;
}

/** The page's options: its title, the example document, and SSE for subscriptions. */
export function graphiqlOptions(model: string): GraphiQLOptions {
  return { title: 'ChatQL', defaultQuery: graphiqlDocument(model), subscriptionsProtocol: 'SSE' };
}

/**
 * Renders the page. The bundle is loaded on the first request rather than at start-up: it holds
 * about 30 MB of strings that a service whose clients never open GraphiQL should not carry.
 */
export async function renderGraphiQL(options: GraphiQLOptions): Promise<string> {
  const { renderGraphiQL: render } = await import('@graphql-yoga/render-graphiql');
  return render(options);
}

/**
 * Whether a request asks for GraphiQL: a GET of /graphql that accepts HTML, Yoga's own test. A
 * query string does not matter, as it does not to Yoga: the page reads it in the browser.
 */
export function wantsGraphiQL(req: IncomingMessage, path: string | undefined): boolean {
  return req.method === 'GET' && path !== undefined && GRAPHIQL_PATHS.includes(path) && (req.headers.accept ?? '').includes('text/html');
}

/** The page for one example model: its bytes, its ETag, and each compression once it was asked for. */
interface RenderedPage {
  readonly identity: Buffer;
  /** A digest of the identity bytes: the same page gets the same tag in every process and replica. */
  readonly digest: string;
  readonly compressed: Map<Compression, Promise<Buffer>>;
}

async function renderPage(model: string): Promise<RenderedPage> {
  const identity = Buffer.from(await renderGraphiQL(graphiqlOptions(model)));
  const digest = createHash('sha256').update(identity).digest('base64url');
  return { identity, digest, compressed: new Map() };
}

/** A strong ETag per representation: each encoding's bytes differ, so each gets a tag of its own. */
function etagOf(page: RenderedPage, encoding: ContentEncoding): string {
  return encoding === 'identity' ? `"${page.digest}"` : `"${page.digest}-${encoding}"`;
}

/** The page's body in `encoding`, compressed on the first request that asks for it and kept. */
function bodyOf(page: RenderedPage, encoding: ContentEncoding): Promise<Buffer> {
  if (encoding === 'identity') return Promise.resolve(page.identity);
  let body = page.compressed.get(encoding);
  if (!body) {
    body = compress(page.identity, encoding);
    page.compressed.set(encoding, body);
    // A failed compression is tried again by the next request rather than kept.
    body.catch(() => page.compressed.delete(encoding));
  }
  return body;
}

/**
 * Serves GraphiQL's page (see `wantsGraphiQL`) with its example document naming
 * `exampleModel()` (the upstream's first model, once known): brotli or gzip by Accept-Encoding,
 * identity otherwise, `Cache-Control: no-cache` and an ETag, so that a browser revalidates on every
 * load and gets a 304 while the page is unchanged.
 */
export function createGraphiQLHandler(
  exampleModel: () => string | undefined,
  logger: Logger,
): (req: IncomingMessage, res: ServerResponse) => void {
  let current: Promise<RenderedPage> | undefined;
  let currentModel: string | undefined;

  const page = (): Promise<RenderedPage> => {
    const model = exampleModel() ?? FALLBACK_EXAMPLE_MODEL;
    if (current === undefined || model !== currentModel) {
      currentModel = model;
      const rendering = renderPage(model);
      current = rendering;
      // A failed render is tried again by the next request rather than kept.
      rendering.catch(() => {
        if (current === rendering) current = undefined;
      });
    }
    return current;
  };

  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const encoding = preferredEncoding(req.headers['accept-encoding']);
    const rendered = await page();
    const etag = etagOf(rendered, encoding);
    const headers: Record<string, string> = { etag, 'cache-control': 'no-cache', vary: 'Accept-Encoding' };
    if (matchesETag(req.headers['if-none-match'], etag)) {
      res.writeHead(304, headers).end();
      return;
    }
    const body = await bodyOf(rendered, encoding);
    // The client may have left while the page was rendered or compressed.
    if (res.destroyed) return;
    res
      .writeHead(200, {
        ...headers,
        'content-type': 'text/html; charset=utf-8',
        'content-length': String(body.length),
        ...(encoding === 'identity' ? {} : { 'content-encoding': encoding }),
      })
      .end(body);
  };

  return (req, res) => {
    serve(req, res).catch((error: unknown) => {
      logger.error({ error: error instanceof Error ? error.message : String(error) }, 'GraphiQL could not be served');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('GraphiQL could not be rendered.\n');
    });
  };
}
