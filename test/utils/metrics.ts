/** Reading /metrics in tests. */
import type { TestService } from './servers.js';

/** The value of one sample line, e.g. `name{a="b"} 3`; undefined when absent. */
export function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** One sample of the service's /metrics now; undefined when absent. */
export async function metric(service: TestService, series: string): Promise<number | undefined> {
  const text = await (await fetch(service.metricsUrl ?? `${service.url}/metrics`)).text();
  return sample(text, series);
}
