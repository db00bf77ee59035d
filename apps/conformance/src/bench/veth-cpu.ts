/**
 * CPU time as the kernel accounts it, for the veth benchmark's breakdown: per CPU from
 * `/proc/stat` (user, system, softirq, idle — sampled at every scheduler tick, so a
 * softirq's time is told apart from the system call it ran in) and per thread from
 * `/proc/thread-self/stat` (utime, stime) — clock ticks (`USER_HZ`, 100 per second on
 * Linux; differences over a run of half a second resolve about 1%) — and, in nanoseconds,
 * from `/proc/thread-self/schedstat`: the time the thread ran (softirqs it served
 * included) and the time it waited, runnable, for a CPU that ran something else — what a
 * shared machine costs it.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of `/proc` (`sysconf(_SC_CLK_TCK)`, 100 on every Linux architecture). */
export const USER_HZ = 100;

/** One CPU's ticks by kind. */
export interface CpuTicks {
  readonly user: number;
  readonly system: number;
  readonly softirq: number;
  /** Hardware interrupts. */
  readonly irq: number;
  /** Idle and I/O wait. */
  readonly idle: number;
  /** Stolen by the hypervisor. */
  readonly steal: number;
}

const ZERO: CpuTicks = Object.freeze({ user: 0, system: 0, softirq: 0, irq: 0, idle: 0, steal: 0 });

/** Ticks of each CPU so far (`/proc/stat`); an empty map where it cannot be read. */
export function readCpuTicks(): Map<number, CpuTicks> {
  const out = new Map<number, CpuTicks>();
  let text: string;
  try {
    text = readFileSync('/proc/stat', 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (m === null) continue;
    // user nice system idle iowait irq softirq steal guest guest_nice
    const f = (m[2] as string).split(/\s+/).map(Number);
    const at = (i: number) => f[i] ?? 0;
    out.set(Number(m[1]), { user: at(0) + at(1), system: at(2), idle: at(3) + at(4), irq: at(5), softirq: at(6), steal: at(7) });
  }
  return out;
}

/** `after - before` for one CPU (zeros when it is missing). */
export function cpuDelta(before: Map<number, CpuTicks>, after: Map<number, CpuTicks>, cpu: number | null): CpuTicks {
  if (cpu === null) return ZERO;
  const a = before.get(cpu);
  const b = after.get(cpu);
  if (a === undefined || b === undefined) return ZERO;
  return {
    user: b.user - a.user,
    system: b.system - a.system,
    softirq: b.softirq - a.softirq,
    irq: b.irq - a.irq,
    idle: b.idle - a.idle,
    steal: b.steal - a.steal,
  };
}

/** Sum of tick records. */
export function addTicks(list: readonly CpuTicks[]): CpuTicks {
  return list.reduce(
    (s, t) => ({
      user: s.user + t.user,
      system: s.system + t.system,
      softirq: s.softirq + t.softirq,
      irq: s.irq + t.irq,
      idle: s.idle + t.idle,
      steal: s.steal + t.steal,
    }),
    ZERO,
  );
}

/** The calling thread's user and system time so far, in ticks (`/proc/thread-self/stat` fields 14 and 15); zeros where unreadable. */
export function threadCpuTicks(): { user: number; system: number } {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'utf8');
    // the command name (field 2) may hold spaces: count fields after its closing parenthesis
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: Number(fields[11] ?? 0), system: Number(fields[12] ?? 0) };
  } catch {
    return { user: 0, system: 0 };
  }
}

/** The calling thread's scheduler time so far, nanoseconds: on a CPU, and runnable but waiting for one. Zeros where unreadable. */
export function threadSchedNs(): { run: number; wait: number } {
  try {
    const [run, wait] = readFileSync('/proc/thread-self/schedstat', 'utf8').trim().split(/\s+/).map(Number);
    return { run: run ?? 0, wait: wait ?? 0 };
  } catch {
    return { run: 0, wait: 0 };
  }
}

/** The pid of `ksoftirqd/<cpu>`, the kernel thread that takes over softirqs a CPU could not finish in place (null if not found). */
export function ksoftirqdPid(cpu: number | null): number | null {
  if (cpu === null) return null;
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === `ksoftirqd/${cpu}`) return Number(entry);
      } catch {
        // the process went away
      }
    }
  } catch {
    // no /proc
  }
  return null;
}

/** Nanoseconds task `pid` has run so far (`/proc/<pid>/schedstat`); 0 where unreadable. */
export function taskRunNs(pid: number | null): number {
  if (pid === null) return 0;
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(/\s+/)[0] ?? 0);
  } catch {
    return 0;
  }
}
