import {
  createHash,
  createPrivateKey,
  randomBytes,
  createPublicKey,
  generateKeyPairSync,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import { chmod, link, mkdir, open, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { SlipwayError, isErrno } from '../errors.js';

/** The ES256 key pair that signs and verifies registry tokens. */
export interface TokenKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /**
   * The key ID sent as the JWT `kid`, in libtrust's format (base32 of the SHA-256 of
   * the SPKI DER, first 240 bits, in colon-separated groups of four): CNCF Distribution
   * looks up the keys of its `rootcertbundle` by this ID, so it can trust our tokens.
   */
  kid: string;
}

/** Where the server keeps its signing key unless told otherwise. */
export function defaultTokenKeyPath(home: string): string {
  return join(home, 'registry', 'token-key.jwk');
}

/** A fresh P-256 key pair, in memory only (tests, and the first start). */
export async function generateTokenKey(): Promise<TokenKey> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, publicKey, kid: libtrustKeyId(publicKey) };
}

/**
 * Loads the signing key from `path` (a private JWK), generating it on first use. The
 * file is written 0600 and put in place with link(), so two servers starting at once
 * agree on one key instead of one overwriting the other's; tokens survive restarts.
 */
export async function loadOrCreateTokenKey(path: string): Promise<TokenKey> {
  const existing = await readKeyFile(path);
  if (existing) return existing;
  const jwk = await newTokenKeyJwk();
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(`${jwk}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await link(tmp, path);
  } catch (err) {
    if (!isErrno(err, 'EEXIST'))
      throw new SlipwayError('IO_ERROR', `cannot write the token signing key ${path}: ${(err as Error).message}`, {
        cause: err,
      });
  } finally {
    await rm(tmp, { force: true });
  }
  const key = await readKeyFile(path);
  if (!key) throw new SlipwayError('IO_ERROR', `the token signing key ${path} vanished while it was created`);
  return key;
}

/** The key in `path`, or undefined when there is none yet. */
async function readKeyFile(path: string): Promise<TokenKey | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw new SlipwayError('IO_ERROR', `cannot read the token signing key ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  try {
    const key = parseTokenKey(text);
    // Someone may have loosened the mode; the key signs every token, so tighten it again.
    await chmod(path, 0o600);
    return key;
  } catch (err) {
    throw new SlipwayError(
      'INVALID_DOCUMENT',
      `${path} is not a P-256 private JWK (${(err as Error).message}); remove it to have a new key generated (tokens issued so far stop working)`,
      { cause: err },
    );
  }
}

/** A fresh signing key as the private JWK text kept in a file or a shared database. */
export async function newTokenKeyJwk(): Promise<string> {
  const { privateKey } = await generateTokenKey();
  return JSON.stringify(privateKey.export({ format: 'jwk' }));
}

/** The key of a private P-256 JWK's text; throws on anything else. */
export function parseTokenKey(text: string): TokenKey {
  const privateKey = createPrivateKey({ key: JSON.parse(text) as JsonWebKey, format: 'jwk' });
  if (privateKey.asymmetricKeyType !== 'ec' || privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
    throw new Error('not a P-256 key');
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, kid: libtrustKeyId(publicKey) };
}

/** libtrust's KeyID of a public key (docker/libtrust util.go keyIDFromCryptoKey). */
export function libtrustKeyId(publicKey: KeyObject): string {
  const hash = createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest()
    .subarray(0, 30);
  return base32(hash)
    .match(/.{1,4}/g)!
    .join(':');
}

/** RFC 4648 base32 without padding. */
function base32(bytes: Buffer): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}
