/**
 * The security part of the configuration: AUTH_MODE and its credentials, ALLOWED_MODELS and
 * REDIS_URL (the CLIENT_* default limits are numbers, read with the others in config.ts). Read with the rest of the configuration at start-up;
 * every problem is one line.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';

import type { AuthConfig, JwtKeyConfig } from './authenticate.js';
import { loadClientKeys } from './keys-file.js';
import { AUTH_MODES, type AuthMode, type ClientLimits } from './principal.js';

/** What `readSecurityConfig` reads; the CLIENT_* limits are read with the other numbers in config.ts. */
export type SecuritySettings = Omit<SecurityConfig, 'defaultLimits'>;

export interface SecurityConfig {
  auth: AuthConfig;
  /** Whether AUTH_MODE was set (with NODE_ENV=production it must be). */
  authModeExplicit: boolean;
  /** Every client's limits unless its own entry or claim says otherwise. */
  defaultLimits: ClientLimits;
  /** ALLOWED_MODELS; null: every model. */
  allowedModels: string[] | null;
  /** REDIS_URL: shared limit counters; null keeps them in memory. */
  redisUrl: string | null;
}

type Env = Record<string, string | undefined>;

/** HS256 keys shorter than the hash add no strength and are guessable offline. */
const MIN_SECRET_BYTES = 32;

function list(raw: string | undefined): string[] | null {
  if (raw === undefined) return null;
  return raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

function jwtKey(env: Env, problems: string[]): JwtKeyConfig | null {
  const given = (['JWT_SECRET', 'JWT_PUBLIC_KEY', 'JWT_JWKS_URL'] as const).filter((name) => env[name] !== undefined);
  if (given.length !== 1) {
    problems.push(
      given.length === 0
        ? 'AUTH_MODE=jwt needs one of JWT_SECRET (HS256), JWT_PUBLIC_KEY (PEM) or JWT_JWKS_URL'
        : `AUTH_MODE=jwt takes one of JWT_SECRET, JWT_PUBLIC_KEY, JWT_JWKS_URL (got ${given.join(', ')})`,
    );
    return null;
  }
  if (env.JWT_SECRET !== undefined) {
    const secret = new TextEncoder().encode(env.JWT_SECRET);
    if (secret.length < MIN_SECRET_BYTES) {
      problems.push(`JWT_SECRET must be at least ${MIN_SECRET_BYTES} bytes long (got ${secret.length})`);
      return null;
    }
    return { kind: 'secret', secret };
  }
  if (env.JWT_PUBLIC_KEY !== undefined) {
    let key: KeyObject;
    try {
      // Environments often carry a PEM on one line with literal \n.
      key = createPublicKey(env.JWT_PUBLIC_KEY.replace(/\\n/g, '\n'));
    } catch {
      problems.push('JWT_PUBLIC_KEY must be a PEM public key ("-----BEGIN PUBLIC KEY-----...")');
      return null;
    }
    if (!['rsa', 'rsa-pss', 'ec', 'ed25519', 'ed448'].includes(key.asymmetricKeyType ?? '')) {
      problems.push(`JWT_PUBLIC_KEY is a ${key.asymmetricKeyType} key; RSA, EC or Ed25519 keys verify JWTs`);
      return null;
    }
    return { kind: 'publicKey', key };
  }
  const raw = env.JWT_JWKS_URL!;
  if (!URL.canParse(raw) || !/^https?:$/.test(new URL(raw).protocol)) {
    problems.push('JWT_JWKS_URL must be an http(s) URL such as https://issuer.example/.well-known/jwks.json');
    return null;
  }
  return { kind: 'jwks', url: new URL(raw) };
}

/** Reads the security settings from `env` (empty values already removed); pushes problems. */
export function readSecurityConfig(env: Env, problems: string[]): SecuritySettings | null {
  const before = problems.length;
  const rawMode = env.AUTH_MODE?.trim();
  let mode: AuthMode = 'none';
  if (rawMode !== undefined) {
    if ((AUTH_MODES as readonly string[]).includes(rawMode)) mode = rawMode as AuthMode;
    else problems.push(`AUTH_MODE must be one of ${AUTH_MODES.join(', ')} (got "${rawMode}")`);
  }
  if (rawMode === undefined && env.NODE_ENV === 'production') {
    problems.push(
      'AUTH_MODE is not set: with NODE_ENV=production choose api-key, jwt or forward, or set AUTH_MODE=none to serve the upstream openly on purpose',
    );
  }

  let auth: AuthConfig | null = null;
  if (mode === 'none' || mode === 'forward') auth = { mode };
  if (mode === 'api-key') {
    if (env.CLIENT_KEYS_FILE === undefined) {
      problems.push('AUTH_MODE=api-key needs CLIENT_KEYS_FILE (a JSON file of client ids and key hashes; see README)');
    } else {
      const keys = loadClientKeys(env.CLIENT_KEYS_FILE);
      if (keys.ok) auth = { mode, clients: keys.clients, file: env.CLIENT_KEYS_FILE };
      else problems.push(...keys.problems);
    }
  }
  if (mode === 'jwt') {
    const key = jwtKey(env, problems);
    const requireExp = env.JWT_REQUIRE_EXP?.trim();
    if (requireExp !== undefined && requireExp !== 'true' && requireExp !== 'false') {
      problems.push(`JWT_REQUIRE_EXP must be true or false (got "${requireExp}")`);
    }
    if (key) auth = { mode, key, issuer: env.JWT_ISSUER ?? null, audience: env.JWT_AUDIENCE ?? null, requireExp: requireExp !== 'false' };
  }
  if (mode !== 'jwt') {
    for (const name of ['JWT_SECRET', 'JWT_PUBLIC_KEY', 'JWT_JWKS_URL', 'JWT_REQUIRE_EXP']) {
      if (env[name] !== undefined) problems.push(`${name} is set but AUTH_MODE is ${mode}, not jwt`);
    }
  }
  if (mode !== 'api-key' && env.CLIENT_KEYS_FILE !== undefined) {
    problems.push(`CLIENT_KEYS_FILE is set but AUTH_MODE is ${mode}, not api-key`);
  }

  const allowedModels = list(env.ALLOWED_MODELS);
  if (allowedModels !== null && allowedModels.length === 0) problems.push('ALLOWED_MODELS must name at least one model (or be unset)');

  const redisUrl = env.REDIS_URL ?? null;
  if (redisUrl !== null && (!URL.canParse(redisUrl) || !/^rediss?:$/.test(new URL(redisUrl).protocol))) {
    problems.push('REDIS_URL must be a redis:// or rediss:// URL such as redis://localhost:6379');
  }

  if (problems.length > before || auth === null) return null;
  return { auth, authModeExplicit: rawMode !== undefined, allowedModels, redisUrl };
}
