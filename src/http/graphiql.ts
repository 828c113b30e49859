/**
 * GraphiQL, bundled with the service (no CDN, so it works offline), opened on a document that a
 * newcomer can run as it is: press Run on `Stream` and watch tokens arrive.
 */
import type { GraphiQLOptions } from 'graphql-yoga';

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
