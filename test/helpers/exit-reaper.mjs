#!/usr/bin/env node
// The reaper of one test process (see exit-cleanup.ts): waits until its stdin ends — the test process
// is gone, however it ended — then kills the processes and removes the directories listed in the
// registry file given as its argument, and removes the registry. Plain JavaScript, so that it starts
// without tsx.
//
// Registry lines (JSON): {"kill":PID,"start":STARTTIME} a process to kill (if /proc still shows that
// PID with that start time: never a process that reused the number), {"forget":PID} it exited by
// itself, {"run":["cmd","arg"…]} a command to run after the kills (its failure ignored), {"rm":"/abs/dir"}
// a directory to remove.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';

const registry = process.argv[2];

/** Field 22 of /proc/PID/stat (start time in clock ticks since boot), or undefined when PID is gone. */
function startTime(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function reap() {
  let lines = [];
  try {
    lines = readFileSync(registry, 'utf8').split('\n');
  } catch {
    // nothing was registered
  }
  const processes = new Map();
  const dirs = new Set();
  const commands = [];
  for (const line of lines) {
    let entry;
    try {
      entry = JSON.parse(line);
    } catch {
      continue; // empty, or the last line cut short by a crash
    }
    if (Number.isInteger(entry.kill) && entry.kill > 1) processes.set(entry.kill, String(entry.start));
    else if (Number.isInteger(entry.forget)) processes.delete(entry.forget);
    else if (Array.isArray(entry.run) && entry.run.length > 0 && entry.run.every((a) => typeof a === 'string')) commands.push(entry.run);
    else if (typeof entry.rm === 'string' && entry.rm.startsWith('/') && entry.rm.length > 1) dirs.add(entry.rm);
  }
  for (const [pid, start] of processes) {
    if (startTime(pid) !== start) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  for (const [cmd, ...args] of commands) {
    // a namespace outlives its last process only briefly: the kills above were just sent
    spawnSync(cmd, args, { stdio: 'ignore', timeout: 10_000 });
  }
  for (const dir of dirs) {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
    } catch {
      // best effort
    }
  }
  rmSync(registry, { force: true });
}

process.stdin.on('data', () => {});
process.stdin.on('end', reap);
process.stdin.on('error', reap);
process.stdin.resume();
