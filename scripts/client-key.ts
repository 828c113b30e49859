/**
 * `npm run client-key -- <client id>`: makes a new random client key for AUTH_MODE=api-key and
 * prints it once, with the CLIENT_KEYS_FILE entry that holds only its SHA-256. Give the key to the
 * client; add the entry to the file (with limits and models if wanted); restart the service.
 */
import { createHash, randomBytes } from 'node:crypto';

import { ANONYMOUS, CLIENT_ID_PATTERN } from '../src/auth/principal.js';

const id = process.argv[2];
if (!id || !CLIENT_ID_PATTERN.test(id) || id === ANONYMOUS) {
  console.error('usage: npm run client-key -- <client id>   (1 to 128 letters, digits or . _ @ -; not "anonymous")');
  process.exit(1);
}
const key = `ck_${randomBytes(32).toString('base64url')}`;
const entry = { id, keySha256: createHash('sha256').update(key).digest('hex') };
console.log(`key (give it to the client; it is not stored anywhere):\n  ${key}\n`);
console.log(`entry for CLIENT_KEYS_FILE's "clients" list:\n  ${JSON.stringify(entry)}`);
