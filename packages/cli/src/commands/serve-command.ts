/*
 * `bundlefarm serve --local`: the whole service on this machine in one command (see
 * @bundlefarm/local-service): Redis, a local S3 with per-bucket regions, the API and N workers. Prints
 * where everything is and, on a first start, the API token and Bull Board password (also in the data
 * dir's env file, 0600); runs until Ctrl-C or SIGTERM, then stops everything. The service package is
 * loaded only when the command runs.
 */
import { homedir } from 'node:os';
import type { Command } from 'commander';
import { InvalidOptionError } from '@bundlefarm/errors';
import type { LocalBucket, LocalService } from '@bundlefarm/local-service';
import type { LogLevel } from '@bundlefarm/queue';
import { out, type CliIo } from '../cli-io.js';
import { intOption } from '../option-parsers.js';

interface ServeFlags {
  local?: boolean;
  dataDir?: string;
  host?: string;
  port?: number;
  s3Port?: number;
  redis?: string;
  redisPort?: number;
  workers?: number;
  bucket?: string[];
  logLevel?: string;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function registerServe(program: Command, io: CliIo): void {
  program
    .command('serve')
    .description('run the whole service on this machine (--local): Redis, a local S3 with per-bucket regions, the API and workers; Ctrl-C stops it')
    .option('--local', 'everything on this machine (the only mode for now; a deployment runs apps/api and apps/worker, docs/service.md)')
    .option('--data-dir <dir>', 'where Redis\'s AOF, the S3 store, keys, logs and the env file are kept (default $XDG_DATA_HOME/bundlefarm/local, ~/.local/share/…)')
    .option('--host <address>', 'address the API and S3 listen on (default 127.0.0.1)')
    .option('--port <n>', 'API port (default 8080; 0: any free port)', intOption('--port', 0, 65_535))
    .option('--s3-port <n>', "S3 endpoint port of the first bucket's region; each further region the next one (default 9000; 0: any free)", intOption('--s3-port', 0, 65_535))
    .option('--redis <url>', 'use this Redis (default: start redis-server with AOF in the data dir)')
    .option('--redis-port <n>', 'port of the redis-server started (default: any free port)', intOption('--redis-port', 0, 65_535))
    .option('--workers <n>', 'worker processes (default 1)', intOption('--workers', 1, 64))
    .option(
      '--bucket <NAME:REGION>',
      'a bucket of the local S3 in that region, repeatable (default bundlefarm-local:us-east-1 and bundlefarm-local-gov:us-gov-west-1)',
      collect,
    )
    .option('--log-level <level>', 'API and worker log level, logs in DATA_DIR/logs (a pino level: fatal, error, warn, info, debug, trace, silent; default info)')
    .action(async (opts: ServeFlags) => {
      if (!opts.local) throw new InvalidOptionError('serve', 'give --local (the only mode for now); a deployment runs apps/api and apps/worker, see docs/service.md');
      const { defaultLocalDataDir, parseLocalBucket, startLocalService, LocalServiceError } = await import('@bundlefarm/local-service');
      // the rule the API and the workers apply to BUNDLEFARM_LOG_LEVEL (loaded with the service anyway)
      const { LOG_LEVELS } = await import('@bundlefarm/queue');
      if (opts.logLevel !== undefined && !(LOG_LEVELS as readonly string[]).includes(opts.logLevel)) {
        throw new InvalidOptionError('--log-level', `${JSON.stringify(opts.logLevel)} is not one of ${LOG_LEVELS.join(', ')}`);
      }
      const buckets: LocalBucket[] | undefined = opts.bucket?.map(parseLocalBucket);

      // a signal while starting stops what started as soon as the start is over
      let signalled: NodeJS.Signals | undefined;
      let onSignal: (signal: NodeJS.Signals) => void = (signal) => (signalled = signal);
      const handler = (signal: NodeJS.Signals): void => onSignal(signal);
      process.on('SIGINT', handler);
      process.on('SIGTERM', handler);
      try {
        const service = await startLocalService({
          dataDir: opts.dataDir ?? defaultLocalDataDir(io.env, homedir()),
          ...(opts.host !== undefined ? { host: opts.host } : {}),
          ...(opts.port !== undefined ? { apiPort: opts.port } : {}),
          ...(opts.s3Port !== undefined ? { s3Port: opts.s3Port } : {}),
          ...(opts.redis !== undefined ? { redisUrl: opts.redis } : {}),
          ...(opts.redisPort !== undefined ? { redisPort: opts.redisPort } : {}),
          ...(opts.workers !== undefined ? { workers: opts.workers } : {}),
          ...(buckets !== undefined ? { buckets } : {}),
          ...(opts.logLevel !== undefined ? { logLevel: opts.logLevel as LogLevel } : {}),
        });
        if (signalled === undefined) printService(io, service);
        const ended = await new Promise<{ signal: NodeJS.Signals } | { failure: string }>((resolve) => {
          if (signalled !== undefined) return resolve({ signal: signalled });
          onSignal = (signal) => resolve({ signal });
          void service.failed.then((failure) => resolve({ failure }));
        });
        let signals = 0;
        onSignal = () => {
          if (++signals === 1) io.stderr.write('bundlefarm: still stopping (running jobs finish or go back to the queue, at most ~25 s)\n');
        };
        io.stderr.write(`bundlefarm: ${'signal' in ended ? `${ended.signal}: ` : ''}stopping the local service…\n`);
        await service.stop();
        io.stderr.write('bundlefarm: local service stopped\n');
        if ('failure' in ended) throw new LocalServiceError(`${ended.failure}; stopped the rest`);
      } finally {
        process.off('SIGINT', handler);
        process.off('SIGTERM', handler);
      }
    });
}

function printService(io: CliIo, s: LocalService): void {
  const pad = (label: string): string => label.padEnd(12);
  out(io, `bundlefarm: local service running — data in ${s.dataDir}`);
  out(io, `  ${pad('API')}${s.apiUrl}`);
  out(io, `  ${pad('Bull Board')}${s.boardUrl} (write actions: ${s.apiUrl}/admin/manage, user ${s.secrets.adminUser})`);
  out(io, `  ${pad('metrics')}${[s.metricsUrl, ...s.workerMetricsUrls.map((u, i) => `worker ${i + 1} ${u}`)].join(', ')}`);
  for (const [region, endpoint] of Object.entries(s.s3Endpoints)) {
    const names = s.buckets.filter((b) => b.region === region).map((b) => b.name);
    out(io, `  ${pad('S3')}${region} ${endpoint} (bucket${names.length > 1 ? 's' : ''} ${names.join(', ')}; path-style, keys in the env file)`);
  }
  out(io, `  ${pad('Redis')}${s.redisUrl}${s.ownRedis ? ` (AOF in ${s.dataDir}/redis)` : ''}`);
  out(io, `  ${pad('identity')}${s.identity.name} (${s.identity.key}, throwaway)`);
  out(io, `  ${pad('image root')}${s.imageRoot}`);
  out(io, `  ${pad('logs')}${s.dataDir}/logs/`);
  if (s.secretsGenerated) {
    out(io, `API token:      ${s.secrets.apiToken}`);
    out(io, `admin password: ${s.secrets.adminPassword}`);
    out(io, `(printed once; both are kept in ${s.envFile}, mode 0600)`);
  } else {
    out(io, `API token and admin password: in ${s.envFile} (kept from an earlier start)`);
  }
  const targets = s.buckets.map((b) => `--target ${b.region}:${b.name}/demo`).join(' ');
  out(io);
  out(io, 'Use it from another shell:');
  out(io, `  set -a; . '${s.envFile}'; set +a`);
  out(io, `  cp my.img '${s.imageRoot}/'`);
  out(io, `  bundlefarm enqueue -i my.img -u 123456789012 -r x86_64 --identity ${s.identity.name} ${targets} --wait`);
  out(io, 'Ctrl-C stops everything.');
}
