import assert from 'node:assert/strict';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { isSlipwayError } from '../../errors.js';
import { cfErrorOf } from './api-errors.js';
import { CfClient, encodeQuery } from './cf-client.js';
import type { CfConfig } from './config.js';

/** A JWT-shaped token (unsigned: the client never checks signatures) expiring in `seconds`. */
function token(seconds: number, extra: Record<string, unknown> = {}): string {
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'ES256' })}.${part({ exp: Math.floor(Date.now() / 1000) + seconds, user_name: 'u', user_id: 'id', origin: 'uaa', ...extra })}.sig`;
}

/**
 * The client's answers to what a real server cannot be made to do on demand: warnings
 * headers, a failing job, a 503 gateway, a token rejected by UAA. Everything else is
 * tested against `slipway serve` in test/cf-cli.test.ts.
 */
describe('CfClient', () => {
  let server: Server;
  let base: string;
  const seen: { method: string; url: string; auth: string | undefined; body: string }[] = [];
  let flaky = 0;
  let jobPolls = 0;

  before(async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, auth: req.headers.authorization, body });
        const json = (status: number, value: unknown, headers: Record<string, string> = {}) => {
          res.writeHead(status, { 'content-type': 'application/json', ...headers });
          res.end(JSON.stringify(value));
        };
        const url = new URL(req.url!, base);
        if (url.pathname === '/uaa/oauth/token') {
          const form = new URLSearchParams(body);
          if (form.get('refresh_token') === 'revoked')
            return json(401, { error: 'invalid_token', error_description: 'revoked' });
          return json(200, { access_token: token(600), refresh_token: 'r2', token_type: 'bearer' });
        }
        if (url.pathname === '/v3/warned')
          return json(200, {}, { 'x-cf-warnings': `${encodeURIComponent('first, with a comma')},second+one` });
        if (url.pathname === '/v3/flaky') {
          flaky++;
          return flaky < 3 ? json(503, { errors: [] }) : json(200, { ok: true });
        }
        if (url.pathname === '/v3/flaky-post')
          return json(503, { errors: [{ code: 1, title: 'CF-X', detail: 'busy' }] });
        if (url.pathname === '/v3/things' && req.method === 'DELETE')
          return json(202, {}, { location: `${base}/v3/jobs/j1` });
        if (url.pathname === '/v3/jobs/j1') {
          jobPolls++;
          return jobPolls < 3
            ? json(200, { guid: 'j1', state: 'PROCESSING' })
            : json(200, {
                guid: 'j1',
                state: 'FAILED',
                errors: [{ code: 10008, title: 'CF-UnprocessableEntity', detail: 'the space has apps' }],
                warnings: [{ detail: 'job warning' }],
              });
        }
        if (url.pathname === '/v3/missing')
          return json(404, { errors: [{ code: 10010, title: 'CF-ResourceNotFound', detail: 'App not found' }] });
        if (url.pathname === '/v3/two')
          return json(422, {
            errors: [
              { code: 1, title: 'CF-A', detail: 'first problem' },
              { code: 2, title: 'CF-B', detail: 'second problem' },
            ],
          });
        if (url.pathname === '/v3/html') {
          res.writeHead(502, { 'content-type': 'text/html' });
          return res.end('<html>bad gateway</html>');
        }
        json(404, { errors: [{ code: 10000, title: 'CF-NotFound', detail: 'Unknown request' }] });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const config = (over: Partial<CfConfig> = {}): CfConfig => ({
    api: base,
    loginUrl: `${base}/uaa`,
    uaaUrl: `${base}/uaa`,
    accessToken: token(600),
    refreshToken: 'r1',
    ...over,
  });

  it('encodes queries as the cf CLI: keys sorted, values comma-joined, a comma in a name double-encoded', () => {
    assert.equal(
      encodeQuery({ per_page: 1, names: ['a,b', 'c d'], organization_guids: ['g1', 'g2'] }),
      '?names=a%252Cb%2Cc+d&organization_guids=g1%2Cg2&per_page=1',
    );
    assert.equal(encodeQuery({}), '');
  });

  it('prints X-Cf-Warnings, each one unescaped', async () => {
    const warnings: string[] = [];
    await new CfClient(config(), { onWarning: (w) => warnings.push(w) }).get('/v3/warned');
    assert.deepEqual(warnings, ['first, with a comma', 'second one']);
  });

  it('refreshes a token that expires in less than 60 s before sending, and saves it', async () => {
    let saved: CfConfig | undefined;
    const c = config({ accessToken: token(30) });
    seen.length = 0;
    await new CfClient(c, { onTokens: async (x) => void (saved = { ...x }) }).get('/v3/warned');
    assert.equal(seen[0]?.url, '/uaa/oauth/token');
    assert.equal(seen[0]?.auth, `Basic ${Buffer.from('cf:').toString('base64')}`);
    assert.equal(seen[0]?.body, 'grant_type=refresh_token&refresh_token=r1');
    assert.equal(seen[1]?.auth, `bearer ${c.accessToken}`);
    assert.equal(saved?.refreshToken, 'r2');
    seen.length = 0;
    await new CfClient(config({ accessToken: token(120) })).get('/v3/warned');
    assert.equal(seen.length, 1, 'a token with two minutes left is used as is');
  });

  it('says to log in again when the refresh token is refused', async () => {
    await assert.rejects(
      new CfClient(config({ accessToken: 'not-a-jwt', refreshToken: 'revoked' })).get('/v3/warned'),
      /The token expired, was revoked, or the token ID is incorrect\. Please log back in/,
    );
  });

  it('retries a GET on 503 (twice), never a POST', async () => {
    flaky = 0;
    assert.deepEqual(await new CfClient(config()).get('/v3/flaky'), { ok: true });
    seen.length = 0;
    await assert.rejects(new CfClient(config()).post('/v3/flaky-post', {}), /busy/);
    assert.equal(seen.filter((s) => s.url === '/v3/flaky-post').length, 1);
  });

  it("polls a delete's job to FAILED and says the job's error", async () => {
    const warnings: string[] = [];
    await assert.rejects(
      new CfClient(config(), { pollStartMs: 1, onWarning: (w) => warnings.push(w) }).delete('/v3/things'),
      /^SlipwayError: Job \(j1\) failed: the space has apps$/,
    );
    assert.equal(jobPolls, 3);
    assert.ok(warnings.includes('job warning'));
  });

  it("turns CF's error JSON into a SlipwayError with the detail as its message", async () => {
    const client = new CfClient(config());
    const err = await client.get('/v3/missing').catch((e: unknown) => e);
    assert.ok(isSlipwayError(err, 'NOT_FOUND'));
    assert.equal((err as Error).message, 'App not found');
    assert.equal(cfErrorOf(err)?.title, 'CF-ResourceNotFound');
    await assert.rejects(client.get('/v3/two'), { message: 'first problem\nsecond problem' });
    await assert.rejects(
      client.get('/v3/html'),
      /Unexpected Response from GET .*\/v3\/html: status 502: <html>bad gateway<\/html>/,
    );
  });

  it('needs a login before any request', async () => {
    await assert.rejects(
      new CfClient({ api: base }).get('/v3/x'),
      /Not logged in\. Use 'slipway cf login' to log in\./,
    );
  });
});
