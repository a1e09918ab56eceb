import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSlipwayError } from '../errors.js';
import type { ContainerConfig } from '../oci/types.js';
import { CNB_BUILD_METADATA_LABEL, CNB_LAUNCHER, processCommand } from './process-command.js';

const plain: ContainerConfig = { Entrypoint: ['/docker-entrypoint.sh'], Cmd: ['nginx', '-g', 'daemon off;'] };
const metadata = JSON.stringify({
  processes: [
    { type: 'web', command: ['node', 'server.js'], args: ['--port', '8080'], direct: true },
    { type: 'worker', command: 'bundle exec sidekiq', args: [], direct: false },
  ],
});
const cnb: ContainerConfig = { Entrypoint: ['/cnb/process/web'], Labels: { [CNB_BUILD_METADATA_LABEL]: metadata } };
const nothing = () => false;
const withLauncher = (paths: string[]) => (p: string) => paths.includes(p);

describe('processCommand', () => {
  it('runs Entrypoint + Cmd by default', () => {
    assert.deepEqual(processCommand(plain, {}, nothing).args, ['/docker-entrypoint.sh', 'nginx', '-g', 'daemon off;']);
  });

  it('-- CMD replaces both entrypoint and cmd of a plain image', () => {
    assert.deepEqual(processCommand(plain, { args: ['sh', '-c', 'exit 7'] }, nothing).args, ['sh', '-c', 'exit 7']);
  });

  it('-- CMD goes through the CNB launcher, directly, in a buildpack-built image', () => {
    assert.deepEqual(processCommand(cnb, { args: ['rake', 'db:migrate'] }, nothing).args, [
      CNB_LAUNCHER,
      '--',
      'rake',
      'db:migrate',
    ]);
  });

  it('--entrypoint drops the image Cmd as docker does, and takes the args after --', () => {
    assert.deepEqual(processCommand(plain, { entrypoint: '/bin/sh' }, nothing).args, ['/bin/sh']);
    assert.deepEqual(processCommand(plain, { entrypoint: '/bin/sh', args: ['-c', 'echo hi'] }, nothing).args, [
      '/bin/sh',
      '-c',
      'echo hi',
    ]);
  });

  it('--process uses /cnb/process/TYPE when the image has the launcher', () => {
    const exists = withLauncher([CNB_LAUNCHER, '/cnb/process/worker']);
    assert.deepEqual(processCommand(cnb, { processType: 'worker' }, exists), {
      args: ['/cnb/process/worker'],
      env: [],
    });
  });

  it('--process falls back to the launcher with CNB_PROCESS_TYPE when there is no per-type link', () => {
    assert.deepEqual(processCommand(cnb, { processType: 'worker' }, withLauncher([CNB_LAUNCHER])), {
      args: [CNB_LAUNCHER],
      env: ['CNB_PROCESS_TYPE=worker'],
    });
  });

  it('--process without a launcher runs the command itself: direct as is, else through /bin/sh -c', () => {
    assert.deepEqual(processCommand(cnb, { processType: 'web' }, nothing).args, [
      'node',
      'server.js',
      '--port',
      '8080',
    ]);
    assert.deepEqual(processCommand(cnb, { processType: 'web', args: ['--port', '9'] }, nothing).args, [
      'node',
      'server.js',
      '--port',
      '9',
    ]);
    assert.deepEqual(processCommand(cnb, { processType: 'worker' }, nothing).args, [
      '/bin/sh',
      '-c',
      'bundle exec sidekiq "$@"',
      'bundle exec sidekiq',
    ]);
  });

  it('an unknown process type is an error naming the available ones', () => {
    assert.throws(
      () => processCommand(cnb, { processType: 'cron' }, nothing),
      (err) => isSlipwayError(err, 'NOT_FOUND') && /web, worker/.test(err.message),
    );
  });

  it('--process on an image without buildpack metadata is an error', () => {
    assert.throws(
      () => processCommand(plain, { processType: 'web' }, nothing),
      (err) => isSlipwayError(err, 'NOT_FOUND') && err.message.includes(CNB_BUILD_METADATA_LABEL),
    );
  });

  it('an image with nothing to run asks for a command', () => {
    assert.throws(
      () => processCommand({}, {}, nothing),
      (err) => isSlipwayError(err, 'INVALID_ARGUMENT'),
    );
  });
});
