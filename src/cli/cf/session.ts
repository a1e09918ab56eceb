import { SlipwayError } from '../../errors.js';
import type { CliContext } from '../context.js';
import { keyValueTable } from './output.js';
import { CfClient } from './cf-client.js';
import { type CfConfig, type Named, cfConfigPath, readCfConfig, writeCfConfig } from './config.js';
import { type CurrentUser, currentUserOf, needsRefresh } from './token.js';

export const NOT_LOGGED_IN = "Not logged in. Use 'slipway cf login' to log in.";
export const NO_API = "No API endpoint set. Use 'slipway cf login -a API_URL' to target an endpoint.";
export const NO_ORG = "No org targeted, use 'slipway cf target -o ORG' to target an org.";
export const NO_SPACE = "No space targeted, use 'slipway cf target -s SPACE' to target a space.";

/**
 * What a `slipway cf` command works with: the saved config (its target and tokens),
 * the API client over it (a refreshed token is saved at once), and the cf CLI's way
 * of talking: progress lines and OK on stdout, warnings on stderr, nothing but the
 * result's JSON under --json.
 */
export class CfSession {
  readonly ctx: CliContext;
  readonly path: string;
  readonly config: CfConfig;
  readonly client: CfClient;

  private constructor(ctx: CliContext, path: string, config: CfConfig) {
    this.ctx = ctx;
    this.path = path;
    this.config = config;
    this.client = new CfClient(config, {
      onTokens: () => this.save(),
      onWarning: (w) => this.warn(w),
    });
  }

  static async open(ctx: CliContext): Promise<CfSession> {
    const path = cfConfigPath();
    return new CfSession(ctx, path, await readCfConfig(path));
  }

  /** True when human text is printed (neither --json nor --quiet). */
  get human(): boolean {
    return !this.ctx.options.json && !this.ctx.options.quiet;
  }

  /** A line of the command's running commentary (stdout, human mode only). */
  say(text = ''): void {
    if (this.human) process.stdout.write(`${text}\n`);
  }

  ok(): void {
    this.say('OK');
  }

  /** A warning: stderr, as the cf CLI prints them (not under --quiet). */
  warn(text: string): void {
    if (!this.ctx.options.quiet) process.stderr.write(`${text}\n`);
  }

  /** The command's result: its JSON under --json, else the rest of its human text. */
  done(json: unknown, human: () => string = () => ''): void {
    this.ctx.print(json, human);
  }

  save(): Promise<void> {
    return writeCfConfig(this.path, this.config);
  }

  /** The cf CLI's CheckTarget: an API, a login, and (when asked) a targeted org and space. */
  async check(need: { org?: boolean; space?: boolean } = {}): Promise<CurrentUser> {
    if (!this.config.api) throw new SlipwayError('INVALID_ARGUMENT', NO_API);
    if (!this.config.accessToken && !this.config.refreshToken) throw new SlipwayError('UNAUTHORIZED', NOT_LOGGED_IN);
    if (need.org && !this.config.org) throw new SlipwayError('INVALID_ARGUMENT', NO_ORG);
    if (need.space && !this.config.space) throw new SlipwayError('INVALID_ARGUMENT', NO_SPACE);
    // The user is read from the access token: one that expires (or is not a JWT) is refreshed first.
    if (this.config.refreshToken && needsRefresh(this.config.accessToken)) await this.client.refresh();
    return this.user();
  }

  /** The logged-in user, from the access token's claims (never fetched, as the cf CLI). */
  user(): CurrentUser {
    const user = currentUserOf(this.config.accessToken);
    if (!user) throw new SlipwayError('UNAUTHORIZED', NOT_LOGGED_IN);
    return user;
  }

  org(): Named {
    if (!this.config.org) throw new SlipwayError('INVALID_ARGUMENT', NO_ORG);
    return this.config.org;
  }

  space(): Named {
    if (!this.config.space) throw new SlipwayError('INVALID_ARGUMENT', NO_SPACE);
    return this.config.space;
  }

  /** Forgets the user and the targets (logout, passwd), keeping the API. */
  forgetUser(): void {
    delete this.config.accessToken;
    delete this.config.refreshToken;
    delete this.config.org;
    delete this.config.space;
  }

  /** The target as `target` and `login` show it. */
  targetSummary(): TargetSummary {
    const user = currentUserOf(this.config.accessToken);
    return {
      api: this.config.api ?? null,
      apiVersion: this.config.apiVersion ?? null,
      user: user?.name ?? null,
      org: this.config.org ?? null,
      space: this.config.space ?? null,
    };
  }

  /** The key-value table of `target` (and the end of `login`). */
  targetTable(): string {
    const t = this.targetSummary();
    const rows: [string, string][] = [
      ['API endpoint:', t.api ?? ''],
      ['API version:', t.apiVersion ?? ''],
      ['user:', t.user ?? ''],
    ];
    if (t.org) rows.push(['org:', t.org.name]);
    if (t.space) rows.push(['space:', t.space.name]);
    return keyValueTable(rows);
  }
}

export interface TargetSummary {
  api: string | null;
  apiVersion: string | null;
  user: string | null;
  org: Named | null;
  space: Named | null;
}
