// A test file that crashes at load (or is killed) must not leave its redis-server, node processes,
// s3rver directory or temporary directory (with a private key in it) behind, and the clean-up commands
// it registered (deleting network namespaces) run: see ../helpers/exit-cleanup.ts.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { REPO } from '../helpers/fixtures.js';
import { until } from '../helpers/poll.js';
import { tempDir } from '../helpers/temp-dir.js';

const FIXTURE = fileURLToPath(new URL('./crash-at-load.fixture.ts', import.meta.url));

interface State {
  pids: number[];
  dirs: string[];
  /** Written by the fixture's runOnExit command. */
  marker: string;
}

/** Whether `pid` is a live process (a zombie waiting for init counts as gone). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function assertNothingSurvives(state: State): Promise<void> {
  assert.equal(state.pids.length, 2);
  assert.equal(state.dirs.length, 3);
  await until('the processes to end and the directories to go', () => state.pids.every((p) => !alive(p)) && state.dirs.every((d) => !existsSync(d)), 20_000).catch(
    () => undefined, // the assertions below say what is left
  );
  for (const pid of state.pids) assert.ok(!alive(pid), `process ${pid} (${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ')}) survived`);
  for (const dir of state.dirs) assert.ok(!existsSync(dir), `${dir} survived`);
  await until('the clean-up command to run', () => existsSync(state.marker), 20_000).catch(() => undefined);
  assert.equal(existsSync(state.marker) && readFileSync(state.marker, 'utf8'), 'ran', 'the command registered with runOnExit ran');
}

/** What the fixture recorded, once it is complete. */
function readState(file: string): State | undefined {
  try {
    return { ...(JSON.parse(readFileSync(file, 'utf8')) as Omit<State, 'marker'>), marker: join(dirname(file), 'ran') };
  } catch {
    return undefined;
  }
}

function runFixture(args: string[], mode: 'throw' | 'hang', stateFile: string, marker: string) {
  // a test runner of its own, not a child reporting to this file's runner
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  const child = spawn(process.execPath, ['--import', 'tsx', ...args, FIXTURE], {
    cwd: REPO,
    env: { ...env, CRASH_MODE: mode, CRASH_STATE: stateFile, CRASH_MARKER: marker },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, exited, output: () => output };
}

describe('what a test file starts does not outlive it', () => {
  it('a file that throws at load under node --test leaves no redis-server, node process or temporary directory, and its clean-up commands ran', async () => {
    const dir = await tempDir();
    const stateFile = join(dir, 'state.json');
    const run = runFixture(['--test', '--test-reporter=spec'], 'throw', stateFile, join(dir, 'ran'));
    const { code } = await run.exited;
    assert.notEqual(code, 0, 'the file failed');
    assert.match(run.output(), /crash at load \(on purpose\)/);
    const state = readState(stateFile);
    assert.ok(state, `the fixture got as far as recording what it started:\n${run.output()}`);
    await assertNothingSurvives(state);
  });

  it('a file killed with SIGKILL (a runner timeout, an OOM kill) leaves nothing either', async () => {
    const dir = await tempDir();
    const stateFile = join(dir, 'state.json');
    const run = runFixture([], 'hang', stateFile, join(dir, 'ran'));
    const state = await until('the fixture to start everything', () => readState(stateFile), 60_000);
    assert.ok(state.pids.every(alive), 'everything runs before the kill');
    run.child.kill('SIGKILL');
    assert.equal((await run.exited).signal, 'SIGKILL');
    await assertNothingSurvives(state);
  });
});
