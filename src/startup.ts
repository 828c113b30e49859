/**
 * What start-up says about the configuration besides its problems (which stop it, in config.ts):
 * the choices that are allowed but worth a line in the log.
 */
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import type { UpstreamTarget } from './upstream/targets.js';

export function logStartupWarnings(config: Config, targets: readonly UpstreamTarget[], logger: Logger): void {
  const { auth } = config.security;
  const elsewhere = targets.filter((target) => !target.sharesPrimaryUpstream).map((target) => target.name);
  if (auth.mode === 'forward' && elsewhere.length > 0) {
    logger.warn(
      { fallbacks: elsewhere },
      "AUTH_MODE=forward: fallbacks on another base URL are skipped, since a client's key goes only to the upstream it belongs to",
    );
  }
  if (auth.mode === 'jwt' && !auth.requireExp) {
    logger.warn('JWT_REQUIRE_EXP=false: tokens without an exp claim are accepted and never expire; prefer short-lived tokens');
  }
  if (config.production && config.metricsPort === null) {
    logger.info('/metrics is not served: with NODE_ENV=production set METRICS_PORT to serve it on a listener of its own');
  }
  if (auth.mode === 'none' && config.upstream.apiKey !== undefined && !config.upstream.embeddedMock) {
    logger.warn(
      'AUTH_MODE=none: anyone who can reach this service spends the upstream key; set AUTH_MODE to api-key, jwt or forward before exposing it',
    );
  }
}
