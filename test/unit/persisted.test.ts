/**
 * The trusted-documents manifest (PERSISTED_DOCUMENTS): loading codegen's file, every way a file
 * can be wrong (each one line naming the variable and the path), the id lookup, and the start-up
 * configuration that carries it.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { GraphQLError } from 'graphql';
import { afterAll, describe, expect, it } from 'vitest';

import { loadConfig } from '../../src/config.js';
import { loadPersistedDocuments, PersistedDocuments, requestedDocumentId, resolveOperation } from '../../src/plugins/persisted.js';

const CODEGEN_MANIFEST = 'test/gql/persisted-documents.json';
const dir = mkdtempSync(join(tmpdir(), 'chatql-persisted-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
/** Writes `content` to a fresh file in the temp dir and returns its path. */
function file(content: string): string {
  const path = join(dir, `manifest-${++files}.json`);
  writeFileSync(path, content);
  return path;
}

const sha = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`;
const MODELS = 'query Models { models { __typename } }';

function problem(path: string): string {
  const result = loadPersistedDocuments(path);
  if (result.ok) throw new Error('expected a problem, got documents');
  return result.problem;
}

function documents(path: string): PersistedDocuments {
  const result = loadPersistedDocuments(path);
  if (!result.ok) throw new Error(`expected documents, got: ${result.problem}`);
  return result.documents;
}

describe('loadPersistedDocuments', () => {
  it("loads codegen's manifest: every entry under its id", () => {
    const manifest = JSON.parse(readFileSync(CODEGEN_MANIFEST, 'utf8')) as Record<string, string>;
    const loaded = documents(CODEGEN_MANIFEST);
    expect(loaded.size).toBe(Object.keys(manifest).length);
    expect(loaded.size).toBeGreaterThanOrEqual(3);
    for (const [id, text] of Object.entries(manifest)) expect(loaded.get(id)).toBe(text);
  });

  it("finds a sha256 id with or without its prefix (Apollo's sha256Hash is bare hex), and nothing else", () => {
    const id = sha(MODELS);
    const loaded = documents(file(JSON.stringify({ [id]: MODELS, 'custom-id-1': '{ __typename }' })));
    expect(loaded.get(id)).toBe(MODELS);
    expect(loaded.get(id.slice('sha256:'.length))).toBe(MODELS);
    expect(loaded.get(id.slice('sha256:'.length).toUpperCase())).toBeUndefined();
    // Ids that are not sha256 hashes (Relay-style) are taken as they are, with no hash check.
    expect(loaded.get('custom-id-1')).toBe('{ __typename }');
    expect(loaded.get('sha256:custom-id-1')).toBeUndefined();
    expect(loaded.get(sha('{ __typename }'))).toBeUndefined();
    expect(loaded.get('')).toBeUndefined();
  });

  it('reports a missing or unreadable file', () => {
    const missing = join(dir, 'nope.json');
    expect(problem(missing)).toBe(`PERSISTED_DOCUMENTS: ${missing}: no such file`);
    expect(problem(dir)).toBe(`PERSISTED_DOCUMENTS: ${dir}: cannot be read (EISDIR)`);
  });

  it('reports a file that is not JSON, or not a JSON object', () => {
    const broken = file('{"sha256:ab": "{ __typename }",');
    expect(problem(broken)).toMatch(new RegExp(`^PERSISTED_DOCUMENTS: ${broken}: is not valid JSON \\(.+\\)$`));
    const objectExpected = (kind: string) =>
      `must be a JSON object of document ids to document texts (codegen's persisted-documents.json), not ${kind}`;
    const array = file('["{ __typename }"]');
    expect(problem(array)).toBe(`PERSISTED_DOCUMENTS: ${array}: ${objectExpected('an array')}`);
    const text = file('"{ __typename }"');
    expect(problem(text)).toBe(`PERSISTED_DOCUMENTS: ${text}: ${objectExpected('a string')}`);
    const nil = file('null');
    expect(problem(nil)).toBe(`PERSISTED_DOCUMENTS: ${nil}: ${objectExpected('null')}`);
    const empty = file('{}');
    expect(problem(empty)).toBe(`PERSISTED_DOCUMENTS: ${empty}: lists no documents, so nothing could run`);
  });

  it('reports an entry that is not a string, naming it', () => {
    const good = { [sha(MODELS)]: MODELS };
    for (const [value, kind] of [
      [42, 'a number'],
      [{ query: MODELS }, 'an object'],
      [null, 'null'],
      [[MODELS], 'an array'],
      [true, 'a boolean'],
    ] as const) {
      const path = file(JSON.stringify({ ...good, 'sha256:bad': value }));
      expect(problem(path)).toBe(`PERSISTED_DOCUMENTS: ${path}: the entry "sha256:bad" must be a document's text (a string), not ${kind}`);
    }
  });

  it('reports an entry that is not GraphQL, or whose sha256 id does not match its text', () => {
    const notGraphQL = file(JSON.stringify({ 'my-id': 'query {' }));
    expect(problem(notGraphQL)).toBe(
      `PERSISTED_DOCUMENTS: ${notGraphQL}: the entry "my-id" is not a GraphQL document (Syntax Error: Expected Name, found <EOF>.)`,
    );
    const edited = `${MODELS} `;
    const mismatch = file(JSON.stringify({ [sha(MODELS)]: edited }));
    expect(problem(mismatch)).toBe(
      `PERSISTED_DOCUMENTS: ${mismatch}: the entry "${sha(MODELS)}" is not the sha256 of its document: regenerate the manifest (npm run codegen)`,
    );
  });

  it('cuts a long id in a message, so that the problem stays one short line', () => {
    const id = 'x'.repeat(500);
    const path = file(JSON.stringify({ [id]: 1 }));
    const line = problem(path);
    expect(line).toContain(`"${'x'.repeat(80)}…"`);
    expect(line).not.toContain('x'.repeat(81));
    expect(line).not.toContain('\n');
  });
});

describe('requestedDocumentId and resolveOperation (graphql-ws payloads)', () => {
  const id = sha(MODELS);
  const store = new PersistedDocuments(new Map([[id, MODELS]]));

  it("reads documentId first, then Apollo's extensions.persistedQuery (version 1 only)", () => {
    const apollo = { persistedQuery: { version: 1, sha256Hash: 'abc' } };
    expect(requestedDocumentId({ documentId: 'a', extensions: apollo })).toBe('a');
    expect(requestedDocumentId({ extensions: apollo })).toBe('abc');
    expect(requestedDocumentId({ extensions: { persistedQuery: { version: 2, sha256Hash: 'abc' } } })).toBeNull();
    expect(requestedDocumentId({ documentId: 42 })).toBeNull();
    expect(requestedDocumentId({ documentId: '' })).toBeNull();
    expect(requestedDocumentId({ extensions: null })).toBeNull();
  });

  it('with a manifest: runs a listed id, refuses a query, an unknown id or no id', () => {
    expect(resolveOperation(store, { query: '', documentId: id })).toBe(MODELS);
    const refused = [
      resolveOperation(store, { query: '{ __typename }' }),
      resolveOperation(store, { query: MODELS, documentId: id }),
      resolveOperation(store, { query: '', documentId: 'sha256:00' }),
      resolveOperation(store, { query: '' }),
    ];
    expect(refused.every((result) => result instanceof GraphQLError)).toBe(true);
    expect(refused.map((result) => (result as GraphQLError).extensions['code'])).toEqual([
      'PERSISTED_QUERY_ONLY',
      'PERSISTED_QUERY_ONLY',
      'PERSISTED_QUERY_NOT_IN_LIST',
      'PERSISTED_QUERY_ID_REQUIRED',
    ]);
  });

  it('without one: runs queries as they are, refuses an id sent instead of a query', () => {
    expect(resolveOperation(null, { query: '{ __typename }' })).toBe('{ __typename }');
    // An empty query with no id is left to the parser's own "Syntax Error".
    expect(resolveOperation(null, { query: '' })).toBe('');
    const refused = resolveOperation(null, { query: '', documentId: id });
    expect(refused).toBeInstanceOf(GraphQLError);
    expect((refused as GraphQLError).message).toBe(
      'This service has no trusted documents (PERSISTED_DOCUMENTS is not set): send the operation as `query`.',
    );
    expect((refused as GraphQLError).extensions['code']).toBe('PERSISTED_QUERY_NOT_SUPPORTED');
  });
});

describe('loadConfig with PERSISTED_DOCUMENTS', () => {
  it('is off when unset or empty', () => {
    for (const env of [{}, { PERSISTED_DOCUMENTS: '' }, { PERSISTED_DOCUMENTS: '  ' }]) {
      const result = loadConfig(env);
      if (!result.ok) throw new Error(result.problems.join('; '));
      expect(result.config.persistedDocuments).toBeNull();
    }
  });

  it("loads codegen's manifest", () => {
    const result = loadConfig({ PERSISTED_DOCUMENTS: CODEGEN_MANIFEST });
    if (!result.ok) throw new Error(result.problems.join('; '));
    expect(result.config.persistedDocuments).toBeInstanceOf(PersistedDocuments);
    expect(result.config.persistedDocuments?.size).toBeGreaterThanOrEqual(3);
  });

  it('refuses to start on a bad manifest, one line among the other problems', () => {
    const missing = join(dir, 'missing.json');
    const result = loadConfig({ PERSISTED_DOCUMENTS: missing, WS_MAX_SUBSCRIPTIONS: 'many' });
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.problems).toEqual([
      'WS_MAX_SUBSCRIPTIONS must be a whole number from 1 to 100000 (got "many")',
      `PERSISTED_DOCUMENTS: ${missing}: no such file`,
    ]);
    const broken = file('not json');
    const brokenResult = loadConfig({ PERSISTED_DOCUMENTS: broken });
    expect(brokenResult.ok ? [] : brokenResult.problems).toEqual([
      expect.stringMatching(new RegExp(`^PERSISTED_DOCUMENTS: ${broken}: is not valid JSON \\(`)),
    ]);
  });
});
