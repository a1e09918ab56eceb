import type { LocalStore } from '../store/local-store.js';
import type { AppImages } from './jobs.js';
import type { App } from './model.js';
import type { PlatformStore } from './store/platform-store.js';

/** An app's images live in the store as `apps/<app guid>` (public name ORG/SPACE/APP). */
export const appRepository = (appGuid: string) => `apps/${appGuid}`;
const APP_REPOSITORY = /^apps\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

/**
 * The apps' images in the platform's store: deleted with their apps (every droplet is an
 * image of the app's repository), and on start the repositories of apps that no longer
 * exist (a delete stopped between its two steps) removed.
 */
export class StoreAppImages implements AppImages {
  constructor(
    private readonly store: LocalStore,
    private readonly onDeleted: (app: App) => void = () => undefined,
  ) {}

  async deleteImages(apps: App[]): Promise<void> {
    for (const app of apps) {
      await this.store.meta.deleteRepositories(appRepository(app.guid));
      this.onDeleted(app);
    }
  }

  /** Removes `apps/<guid>` repositories whose app is gone; answers their names. */
  async sweepOrphans(platform: PlatformStore): Promise<string[]> {
    const removed: string[] = [];
    for (const repo of await this.store.meta.listRepositories()) {
      const guid = APP_REPOSITORY.exec(repo)?.[1];
      if (!guid || (await platform.getApp(guid))) continue;
      await this.store.meta.deleteRepositories(repo);
      removed.push(repo);
    }
    return removed;
  }
}
