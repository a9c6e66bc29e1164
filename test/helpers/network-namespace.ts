/*
 * Hosts of their own for worker processes: each a Linux network namespace (`ip netns add`) joined to
 * the root namespace by a veth pair, so that a test can cut one host off from one server while the
 * others — and that host's other routes — still work, as a partition between machines does.
 *
 * Addressing, per host, from a /24 picked at random under 10.200.0.0–10.249.255.0 that no address or
 * route of this machine uses (checked, so two runs at once or the host's own networks do not clash):
 *
 *   root side of the veth   10.X.Y.(8i+1)/30   `s3Address`: where the test's S3 stand-in listens for it
 *   host side of the veth   10.X.Y.(8i+2)/30   `address`: the host's own address
 *   root side, one more     10.X.Y.(8i+5)/32   `redisAddress`: where Redis listens for it, reached from
 *                                              the host by a route of its own (`10.X.Y.(8i+5) via .1`)
 *
 * `cutRedis()` deletes that route inside the namespace: packets to Redis then have nowhere to go (an
 * open connection hangs, as over a dead link; a new one fails), while the S3 address stays on the
 * connected /30. No packet filter is needed.
 *
 * Clean-up: `dispose()` deletes the root-side veth (its peer goes with it) and the namespace; both are
 * also registered with exit-cleanup's reaper (runOnExit), so they go however the test process ends.
 * Processes run inside a namespace (`wrap`) must be stopped by their owner; the reaper kills those it
 * knows before it deletes the namespaces.
 */
import { execFile } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { promisify } from 'node:util';
import { runOnExit } from './exit-cleanup.js';
import { announceSkip, commandPath, needsTools } from './requirements.js';

const run = promisify(execFile);

export interface NetworkHost {
  /** The namespace's name (unique per run). */
  readonly namespace: string;
  /** The host's own address (its side of the veth). */
  readonly address: string;
  /** A root-namespace address the host reaches over its veth (listen there for it: the S3 stand-in). */
  readonly s3Address: string;
  /** A second root-namespace address the host reaches by a route of its own, which `cutRedis` deletes. */
  readonly redisAddress: string;
  /** Command prefix that runs a process inside the namespace: `[ip, 'netns', 'exec', namespace]`. */
  readonly wrap: readonly string[];
  /** Deletes the host's route to `redisAddress`: Redis unreachable from it, `s3Address` still reachable. */
  cutRedis(): Promise<void>;
  /** Deletes the veth pair and the namespace (idempotent). */
  dispose(): Promise<void>;
}

/** The `ip` executable (iproute2), or undefined. */
function ipCommand(): string | undefined {
  return commandPath('ip');
}

async function ip(...args: string[]): Promise<string> {
  const { stdout } = await run(ipCommand() ?? 'ip', args, { timeout: 10_000 });
  return stdout;
}

let probed: string | false | undefined;

/**
 * Skip option for tests that make network namespaces. Without `ip` it is a missing tool
 * (BUNDLEFARM_REQUIRE_TOOLS=1 makes it a failure); not being root, or `ip netns add` failing (a container
 * without CAP_SYS_ADMIN, no netns support), is a skip with the reason printed, never a failure: the
 * machine cannot do it, whatever tools it has. Decided once per process, by adding and deleting a
 * namespace.
 */
export async function needsNetworkNamespaces(): Promise<string | false> {
  const tools = needsTools(['ip'], 'apt-get install iproute2');
  if (tools) return tools;
  if (probed !== undefined) return probed;
  const skip = (reason: string): string => {
    const text = `network namespaces: ${reason}`;
    announceSkip(text);
    return text;
  };
  if (process.getuid?.() !== 0) return (probed = skip('not root (ip netns needs CAP_SYS_ADMIN and CAP_NET_ADMIN)'));
  const name = `bf-probe-${process.pid}-${randomBytes(3).toString('hex')}`;
  try {
    runOnExit([ipCommand()!, 'netns', 'del', name]);
    await ip('netns', 'add', name);
    await ip('-n', name, 'link', 'set', 'lo', 'up');
    await ip('netns', 'del', name);
    probed = false;
  } catch (err) {
    await ip('netns', 'del', name).catch(() => {});
    probed = skip(`ip netns does not work here: ${((err as { stderr?: string }).stderr || (err as Error).message).trim().split('\n')[0]}`);
  }
  return probed;
}

/** A /24 (`10.X.Y`) that no address or route of the root namespace is in. */
async function freeSubnet(): Promise<string> {
  const used = `${await ip('-4', '-o', 'addr', 'show')}\n${await ip('-4', 'route', 'show', 'table', 'all')}`;
  for (let attempt = 0; attempt < 50; attempt++) {
    const net = `10.${randomInt(200, 250)}.${randomInt(0, 256)}`;
    if (!used.includes(`${net}.`)) return net;
  }
  throw new Error('no free 10.x.y.0/24 for the test network namespaces');
}

/**
 * `count` hosts (namespaces with a veth pair each, see above); `label` goes into the names. Run
 * `needsNetworkNamespaces()` first. If making one fails, those made are deleted before the error.
 */
export async function addNetworkHosts(count: number, label: string): Promise<NetworkHost[]> {
  if (count < 1 || count > 31) throw new RangeError('1 to 31 hosts');
  const ipPath = ipCommand();
  if (!ipPath) throw new Error('ip (iproute2) not found');
  const net = await freeSubnet();
  const tag = randomBytes(3).toString('hex');
  const hosts: NetworkHost[] = [];
  try {
    for (let i = 0; i < count; i++) hosts.push(await addHost(ipPath, net, i, `${label}-${process.pid}-${tag}-${i}`, `bf${tag}${i}`));
  } catch (err) {
    await Promise.all(hosts.map((h) => h.dispose()));
    throw err;
  }
  return hosts;
}

async function addHost(ipPath: string, net: string, index: number, namespace: string, ifPrefix: string): Promise<NetworkHost> {
  const base = 8 * index;
  const s3Address = `${net}.${base + 1}`;
  const address = `${net}.${base + 2}`;
  const redisAddress = `${net}.${base + 5}`;
  const rootIf = `${ifPrefix}r`;
  const hostIf = `${ifPrefix}h`;
  // registered before they exist: however the process ends from here on, they go
  runOnExit([ipPath, 'link', 'del', rootIf]);
  runOnExit([ipPath, 'netns', 'del', namespace]);
  let disposed = false;
  const dispose = async (): Promise<void> => {
    if (disposed) return;
    disposed = true;
    await ip('link', 'del', rootIf).catch(() => {});
    await ip('netns', 'del', namespace).catch(() => {});
  };
  try {
    await ip('netns', 'add', namespace);
    await ip('link', 'add', rootIf, 'type', 'veth', 'peer', 'name', hostIf);
    await ip('link', 'set', hostIf, 'netns', namespace);
    await ip('addr', 'add', `${s3Address}/30`, 'dev', rootIf);
    await ip('addr', 'add', `${redisAddress}/32`, 'dev', rootIf);
    await ip('link', 'set', rootIf, 'up');
    await ip('-n', namespace, 'link', 'set', 'lo', 'up');
    await ip('-n', namespace, 'addr', 'add', `${address}/30`, 'dev', hostIf);
    await ip('-n', namespace, 'link', 'set', hostIf, 'up');
    await ip('-n', namespace, 'route', 'add', `${redisAddress}/32`, 'via', s3Address, 'dev', hostIf);
  } catch (err) {
    await dispose();
    throw new Error(`setting up network namespace ${namespace} failed: ${((err as { stderr?: string }).stderr || (err as Error).message).trim()}`);
  }
  return {
    namespace,
    address,
    s3Address,
    redisAddress,
    wrap: [ipPath, 'netns', 'exec', namespace],
    async cutRedis() {
      await ip('-n', namespace, 'route', 'del', `${redisAddress}/32`);
    },
    dispose,
  };
}
