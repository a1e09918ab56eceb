import { Command } from 'commander';
import { cfAction } from '../../cf/action.js';
import { appByName } from '../../cf/lookups.js';
import type { CfSession } from '../../cf/session.js';

/** `env`, `set-env`, `unset-env`: an app's environment as the cf CLI shows and changes it. */

interface CfAppEnv {
  environment_variables?: Record<string, unknown> | null;
  system_env_json?: Record<string, unknown> | null;
  application_env_json?: Record<string, unknown> | null;
  running_env_json?: Record<string, unknown> | null;
  staging_env_json?: Record<string, unknown> | null;
}

async function appIn(s: CfSession, name: string, doing: (where: string) => string) {
  const user = await s.check({ org: true, space: true });
  const org = s.org();
  const space = s.space();
  s.say(doing(`in org ${org.name} / space ${space.name} as ${user.name}`));
  return appByName(s.client, name, space.guid);
}

const scalar = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));

function group(title: string, none: string, vars: Record<string, unknown> | null | undefined, json = false): string {
  const keys = Object.keys(vars ?? {}).sort();
  if (keys.length === 0) return none;
  return [title, ...keys.map((k) => `${k}: ${json ? JSON.stringify(vars![k], null, 2) : scalar(vars![k])}`)].join('\n');
}

export function envCommand(): Command {
  return new Command('env')
    .description("Show an app's environment: the platform's (VCAP_APPLICATION, ...) and the variables set on it")
    .argument('<APP>', 'the app')
    .addHelpText('after', '\nExample:\n  $ slipway cf env web')
    .action(
      cfAction(async (s: CfSession, name: string) => {
        const app = await appIn(s, name, (w) => `Getting env variables for app ${name} ${w}...`);
        const env = await s.client.get<CfAppEnv>(`/v3/apps/${app.guid}/env`);
        s.done({ app: { guid: app.guid, name: app.name }, ...env }, () => {
          const system = { ...(env.system_env_json ?? {}) };
          const application = { ...(env.application_env_json ?? {}) };
          const parts: string[] = [];
          if (Object.keys(system).length + Object.keys(application).length > 0) {
            const lines = ['System-Provided:'];
            for (const [k, v] of Object.entries(system)) lines.push(`${k}: ${JSON.stringify(v, null, 2)}`, '');
            for (const [k, v] of Object.entries(application)) lines.push(`${k}: ${JSON.stringify(v, null, 2)}`, '');
            parts.push(lines.join('\n').trimEnd());
          } else parts.push('No system-provided env variables have been set');
          parts.push(
            group('User-Provided:', 'No user-provided env variables have been set', env.environment_variables),
          );
          parts.push(
            group(
              'Running Environment Variable Groups:',
              'No running env variables have been set',
              env.running_env_json,
            ),
          );
          parts.push(
            group(
              'Staging Environment Variable Groups:',
              'No staging env variables have been set',
              env.staging_env_json,
            ),
          );
          return parts.join('\n\n');
        });
      }),
    );
}

export function setEnvCommand(): Command {
  return new Command('set-env')
    .description('Set an environment variable of an app (it takes effect on the next restage or restart)')
    .argument('<APP>', 'the app')
    .argument('<NAME>', 'the variable')
    .argument('<VALUE>', 'its value')
    .addHelpText('after', '\nExample:\n  $ slipway cf set-env web GREETING hello && slipway cf restart web')
    .action(
      cfAction(async (s: CfSession, name: string, variable: string, value: string) => {
        const app = await appIn(s, name, (w) => `Setting env variable ${variable} for app ${name} ${w}...`);
        await s.client.patch(`/v3/apps/${app.guid}/environment_variables`, { var: { [variable]: value } });
        s.ok();
        s.say(`TIP: Use 'slipway cf restage ${name}' to ensure your env variable changes take effect.`);
        s.done({ app: { guid: app.guid, name: app.name }, set: variable });
      }),
    );
}

export function unsetEnvCommand(): Command {
  return new Command('unset-env')
    .description('Remove an environment variable of an app')
    .argument('<APP>', 'the app')
    .argument('<NAME>', 'the variable')
    .addHelpText('after', '\nExample:\n  $ slipway cf unset-env web GREETING')
    .action(
      cfAction(async (s: CfSession, name: string, variable: string) => {
        const app = await appIn(s, name, (w) => `Removing env variable ${variable} from app ${name} ${w}...`);
        const current = await s.client.get<{ var?: Record<string, unknown> }>(
          `/v3/apps/${app.guid}/environment_variables`,
        );
        if (!current.var || !(variable in current.var)) {
          s.say(`Env variable ${variable} was not set.`);
          s.ok();
          s.done({ app: { guid: app.guid, name: app.name }, unset: variable, changed: false });
          return;
        }
        await s.client.patch(`/v3/apps/${app.guid}/environment_variables`, { var: { [variable]: null } });
        s.ok();
        s.say(`TIP: Use 'slipway cf restage ${name}' to ensure your env variable changes take effect.`);
        s.done({ app: { guid: app.guid, name: app.name }, unset: variable, changed: true });
      }),
    );
}
