/**
 * The bytes of documents Slipway writes. Manifests and configs are serialised once,
 * compactly, with keys in the order we build them, and never re-serialised: the
 * digest is of these exact bytes.
 */
export function canonicalJson(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}
