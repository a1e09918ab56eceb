import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ApiToken } from '../model.js';
import { newGuid } from '../model.js';

/**
 * API tokens: `swt_<guid hex>_<secret>`. The secret (32 random bytes, base64url) is
 * shown once; the store keeps its sha256, compared in constant time.
 */
const TOKEN_RE = /^swt_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$/;
export const API_TOKEN_PREFIX = 'swt_';

/** A new token's secret and the record to store for it. */
export function newApiToken(
  userGuid: string,
  spaceGuid: string,
  name: string,
  createdAt: string,
): { token: string; record: ApiToken } {
  const guid = newGuid();
  const secret = randomBytes(32).toString('base64url');
  return {
    token: `${API_TOKEN_PREFIX}${guid.replaceAll('-', '')}_${secret}`,
    record: { guid, name, userGuid, spaceGuid, createdAt, secretHash: sha256(secret) },
  };
}

/** The record guid and secret of a token string; undefined when it is not one. */
export function parseApiToken(token: string): { guid: string; secret: string } | undefined {
  const m = TOKEN_RE.exec(token);
  if (!m) return undefined;
  const h = m[1]!;
  return {
    guid: `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`,
    secret: m[2]!,
  };
}

export function secretMatches(record: ApiToken, secret: string): boolean {
  const a = Buffer.from(record.secretHash, 'hex');
  const b = Buffer.from(sha256(secret), 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
