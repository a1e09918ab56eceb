import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { getApp } from '../../platform/actions/workload-context.js';
import { liveSections } from './pages/app-page.js';
import { rolloutSection } from './pages/stacks-page.js';
import type { WebRequest } from './web-context.js';

/**
 * The live views, as server-sent events: the app page's instances, builds, deployments
 * and state re-rendered each second (sent only when they changed) and every new log
 * line as it is written; a stack update's rollout progress until its job ends. Access
 * is checked when the stream opens, as the page's (who reads the space reads its logs).
 */

const TICK_MS = 1000;

export async function appEvents(c: Context, r: WebRequest, guid: string): Promise<Response> {
  await getApp(r.ctx, guid);
  return streamSSE(c, async (stream) => {
    let open = true;
    const stop = r.ctx.services.logs.follow(guid, (line) => {
      if (!open) return;
      const text = `${line.source}${line.instance ? `/${line.instance}` : ''} ${line.text}`;
      void stream.writeSSE({ event: 'log', data: JSON.stringify(text) }).catch(() => undefined);
    });
    stream.onAbort(() => {
      open = false;
      stop();
    });
    const last = new Map<string, string>();
    while (open) {
      const sections = await liveSections(r.ctx, guid).catch(() => undefined);
      if (!sections) break;
      for (const [id, markup] of Object.entries(sections)) {
        if (last.get(id) === markup) continue;
        last.set(id, markup);
        await stream.writeSSE({ event: 'section', data: JSON.stringify({ id, html: markup }) });
      }
      await stream.sleep(TICK_MS);
    }
    stop();
  });
}

export async function stackEvents(c: Context, r: WebRequest, name: string, job: string): Promise<Response> {
  await rolloutSection(r, name, job);
  return streamSSE(c, async (stream) => {
    let open = true;
    stream.onAbort(() => {
      open = false;
    });
    let last = '';
    while (open) {
      const markup = await rolloutSection(r, name, job).catch(() => undefined);
      if (markup === undefined) break;
      if (markup !== last) {
        last = markup;
        await stream.writeSSE({ event: 'section', data: JSON.stringify({ id: 'rollout', html: markup }) });
      }
      await stream.sleep(TICK_MS);
    }
  });
}
