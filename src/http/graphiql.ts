/**
 * GraphiQL, bundled with the service (no CDN, so it works offline), opened on a document that a
 * newcomer can run as it is: press Run on `Stream` and watch tokens arrive.
 */
import type { GraphiQLOptions } from 'graphql-yoga';

export function graphiqlDocument(model: string): string {
  return `# Welcome to ChatQL. Pick an operation with the Run button's menu:
#   Stream  - tokens arrive live (subscription over Server-Sent Events)
#   Ask     - one answer when the model has finished (mutation)
#   Models  - what the upstream serves

subscription Stream {
  chatCompletionStream(input: {
    model: "${model}"
    messages: [
      { system: { content: "You are a concise assistant." } }
      { user: { content: "Say hello to a GraphQL developer." } }
    ]
  }) {
    __typename
    ... on ChatCompletionChunk { choices { delta { content toolCalls { index id function { name arguments } } } finishReason } usage { totalTokens } }
    ... on ChatCompletion { choices { message { content } finishReason } usage { promptTokens completionTokens } }
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

# Every failure is data: a member of the result union. Try model: "fail-429".
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
