/**
 * Client authentication (AUTH_MODE): turns the bearer token of a request (the Authorization header
 * over HTTP and SSE, `connectionParams.authorization` over graphql-ws) into a `Principal`, or an
 * `AuthenticationError` whose message says what to fix without echoing the credential.
 *
 * - none: everyone is `anonymous`; credentials are ignored.
 * - api-key: the SHA-256 of the key is compared, in constant time, with every CLIENT_KEYS_FILE entry.
 * - jwt: `jose` verifies the token (JWT_SECRET for HS256, JWT_PUBLIC_KEY, or JWT_JWKS_URL), its
 *   expiry, and JWT_ISSUER / JWT_AUDIENCE when set; `sub` is the client id, and a `chatql` claim
 *   may carry the client's limits (`{ "limits": {...}, "models": [...] }`).
 * - forward: the token is the client's own upstream key (a LiteLLM virtual key), sent upstream in
 *   place of the server's; the client id is derived from its hash.
 */
import { createHash, type KeyObject, timingSafeEqual } from 'node:crypto';

import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { z } from 'zod';

import { AuthenticationError, ErrorSource } from '../errors.js';
import { type ClientKeyEntry, loadClientKeys } from './keys-file.js';
import {
  ANONYMOUS,
  type AuthMode,
  CLIENT_ID_PATTERN,
  type ClientLimits,
  clientLimitsSchema,
  mergeLimits,
  modelListSchema,
  type Principal,
} from './principal.js';

export type JwtKeyConfig = { kind: 'secret'; secret: Uint8Array } | { kind: 'publicKey'; key: KeyObject } | { kind: 'jwks'; url: URL };

export type AuthConfig =
  | { mode: 'none' }
  | { mode: 'api-key'; clients: ClientKeyEntry[] /** Re-read by `reload`. */; file: string }
  | {
      mode: 'jwt';
      key: JwtKeyConfig;
      issuer: string | null;
      audience: string | null;
      /** JWT_REQUIRE_EXP: refuse tokens without `exp` (the default; false accepts tokens that never expire). */
      requireExp: boolean;
    }
  | { mode: 'forward' };

export type AuthOutcome = Principal | AuthenticationError;

export type ReloadResult = { ok: true; clients: number } | { ok: false; problems: string[] };

export interface Authenticator {
  readonly mode: AuthMode;
  /** `authorization` is the header's value (`Bearer <token>`), or undefined when none was sent. */
  authenticate(authorization: string | null | undefined): Promise<AuthOutcome>;
  /**
   * AUTH_MODE=api-key: reads CLIENT_KEYS_FILE again. A file with problems changes nothing. Absent
   * in the other modes.
   */
  reload?(): ReloadResult;
  /**
   * What a principal authenticated earlier is now: after a reload, the same client with the
   * file's current limits, or null when its key was removed or replaced. The principal itself in
   * the other modes.
   */
  refresh(principal: Principal): Principal | null;
}

function refuse(message: string): AuthenticationError {
  return new AuthenticationError(message, ErrorSource.SERVICE);
}

const MISSING = 'Authentication required: send "Authorization: Bearer <token>" (over graphql-ws: connectionParams.authorization).';

/** AUTH_MODE=forward: a token that may go upstream as a header value. */
const FORWARDABLE_TOKEN = /^[\x21-\x7e]{1,4096}$/;

/** The token of a `Bearer <token>` value; null when the value has another shape. */
export function bearerToken(authorization: string): string | null {
  const match = /^\s*Bearer\s+([^\s]+)\s*$/i.exec(authorization);
  return match ? match[1]! : null;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

const claimSchema = z.object({ limits: clientLimitsSchema.optional(), models: modelListSchema.nullable().optional() }).strict();

/** The algorithms a public key can verify, so that a token cannot pick a weaker one. */
function algorithmsFor(key: KeyObject): string[] {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
    case 'rsa-pss':
      return ['PS256', 'PS384', 'PS512'];
    case 'ec':
      return ['ES256', 'ES384', 'ES512'];
    case 'ed25519':
    case 'ed448':
      return ['EdDSA', 'Ed25519'];
    default:
      return [];
  }
}

export function createAuthenticator(config: AuthConfig, defaults: ClientLimits): Authenticator {
  const anonymous: Principal = { id: ANONYMOUS, limits: defaults, upstreamKey: null, expiresAt: null };
  switch (config.mode) {
    case 'none':
      return { mode: 'none', authenticate: () => Promise.resolve(anonymous), refresh: (principal) => principal };

    case 'api-key': {
      /** The key digest behind each principal this authenticator made, for `refresh`. */
      const digests = new WeakMap<Principal, Buffer>();
      const build = (entries: ClientKeyEntry[]) =>
        entries.map((entry) => {
          const principal: Principal = { id: entry.id, limits: mergeLimits(defaults, entry.limits), upstreamKey: null, expiresAt: null };
          digests.set(principal, entry.keySha256);
          return { digest: entry.keySha256, principal };
        });
      let clients = build(config.clients);
      return {
        mode: 'api-key',
        reload: () => {
          const keys = loadClientKeys(config.file);
          if (!keys.ok) return { ok: false, problems: keys.problems };
          clients = build(keys.clients);
          return { ok: true, clients: clients.length };
        },
        refresh: (principal) => {
          const digest = digests.get(principal);
          if (digest === undefined) return null;
          return clients.find((client) => client.principal.id === principal.id && client.digest.equals(digest))?.principal ?? null;
        },
        authenticate: (authorization) => {
          if (!authorization) return Promise.resolve(refuse(MISSING));
          const token = bearerToken(authorization);
          if (!token) return Promise.resolve(refuse('The Authorization header must be "Bearer <key>".'));
          const digest = sha256(token);
          // Every entry is compared, in constant time, whatever matched before.
          let found: Principal | null = null;
          for (const client of clients) {
            if (timingSafeEqual(client.digest, digest)) found = client.principal;
          }
          return Promise.resolve(found ?? refuse('The API key is not valid.'));
        },
      };
    }

    case 'jwt': {
      const { key } = config;
      const getKey: Uint8Array | KeyObject | JWTVerifyGetKey =
        key.kind === 'secret' ? key.secret : key.kind === 'publicKey' ? key.key : createRemoteJWKSet(key.url);
      const algorithms = key.kind === 'secret' ? ['HS256'] : key.kind === 'publicKey' ? algorithmsFor(key.key) : undefined;
      const options = {
        ...(algorithms ? { algorithms } : {}),
        ...(config.issuer ? { issuer: config.issuer } : {}),
        ...(config.audience ? { audience: config.audience } : {}),
        requiredClaims: config.requireExp ? ['sub', 'exp'] : ['sub'],
      };
      return {
        mode: 'jwt',
        refresh: (principal) => principal,
        authenticate: async (authorization) => {
          if (!authorization) return refuse(MISSING);
          const token = bearerToken(authorization);
          if (!token) return refuse('The Authorization header must be "Bearer <JWT>".');
          let payload: Record<string, unknown>;
          try {
            // Overloads of jwtVerify differ only in the key's type.
            ({ payload } = await jwtVerify(token, getKey as Uint8Array, options));
          } catch (error) {
            if (error instanceof joseErrors.JWTExpired) return refuse('The token has expired.');
            if (error instanceof joseErrors.JWTClaimValidationFailed) {
              if (error.claim === 'exp' && error.reason === 'missing') return refuse('The token has no "exp" claim: tokens must expire.');
              return refuse(
                error.reason === 'missing'
                  ? `The token has no "${error.claim}" claim.`
                  : `The token's "${error.claim}" claim is not accepted.`,
              );
            }
            return refuse('The token is not valid.');
          }
          const sub = payload.sub;
          if (typeof sub !== 'string' || !CLIENT_ID_PATTERN.test(sub) || sub === ANONYMOUS) {
            return refuse('The token\'s "sub" claim must be a client id of 1 to 128 letters, digits or . _ @ -.');
          }
          const claim = payload.chatql === undefined ? undefined : claimSchema.safeParse(payload.chatql);
          if (claim && !claim.success) return refuse('The token\'s "chatql" claim is not valid.');
          const own = claim?.data
            ? { ...claim.data.limits, ...(claim.data.models === undefined ? {} : { models: claim.data.models }) }
            : undefined;
          return {
            id: sub,
            limits: mergeLimits(defaults, own),
            upstreamKey: null,
            expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : null,
          };
        },
      };
    }

    case 'forward':
      return {
        mode: 'forward',
        refresh: (principal) => principal,
        authenticate: (authorization) => {
          if (!authorization) return Promise.resolve(refuse(MISSING));
          const token = bearerToken(authorization);
          if (!token) return Promise.resolve(refuse('The Authorization header must be "Bearer <upstream key>".'));
          // It becomes an upstream header: anything an HTTP client would refuse to send is refused here.
          if (!FORWARDABLE_TOKEN.test(token)) {
            return Promise.resolve(refuse('The bearer token must be 1 to 4096 visible ASCII characters.'));
          }
          // The upstream judges the key; a stable id from its hash names the client in limits and logs.
          const id = `key-${sha256(token).toString('hex').slice(0, 16)}`;
          return Promise.resolve({ id, limits: defaults, upstreamKey: token, expiresAt: null });
        },
      };
  }
}
