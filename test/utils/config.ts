/** loadConfig for the configuration tests: the config it must give, or the problems it must report. */
import { type Config, loadConfig } from '../../src/config.js';

export function ok(env: NodeJS.ProcessEnv): Config {
  const result = loadConfig(env);
  if (!result.ok) throw new Error(`expected a config, got problems: ${result.problems.join('; ')}`);
  return result.config;
}

export function problems(env: NodeJS.ProcessEnv): string[] {
  const result = loadConfig(env);
  if (result.ok) throw new Error('expected problems, got a config');
  return result.problems;
}

/** A LiteLLM proxy as the upstream. */
export const LITELLM = { OPENAI_BASE_URL: 'http://localhost:4000/v1', OPENAI_API_KEY: 'sk-litellm-master-1234' };
