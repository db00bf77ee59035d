/**
 * The helper functions of the runtime as machine code (the kernel's `bpf_func_proto`
 * implementations): one text region per runtime holding `bpf_map_lookup_elem`,
 * `bpf_map_update_elem`, `bpf_map_delete_elem` (which go on to the map's own functions),
 * `bpf_ktime_get_ns`, `bpf_get_prandom_u32`, `bpf_get_smp_processor_id`,
 * `bpf_xdp_adjust_head`, `bpf_xdp_adjust_meta` and `bpf_xdp_adjust_tail`, plus the stub
 * through which TypeScript calls native functions of the runtime's ABI.
 *
 * Every helper follows the runtime ABI (map-struct.ts, `RUNTIME_ABI`): System V, r12 = the
 * CPU index (checked against the CPU count before it indexes anything).
 */
import { type Region, type TextArena, emitText } from '@bpf-dispatcher/text-poke';
import {
  type CodeBuffer,
  alu,
  byte,
  call,
  dword,
  imul,
  jcc,
  jmp,
  mov,
  movsx,
  mul,
  pop,
  push,
  qword,
  ret,
  shift,
  test,
} from '@bpf-dispatcher/x86';
import { ClockStruct, emitReadTsc } from './clock.js';
import { emitZero } from './emit-copy.js';
import { ERRNO } from './errors.js';
import { BPF_MAP } from './map-struct.js';
import { XDP_BUFF, XDP_FRAME_SIZE, XDP_METADATA_MAX, XDP_TAILROOM } from './xdp-context.js';

/** Kernel helper ids (`enum bpf_func_id`). */
export const BPF_FUNC = Object.freeze({
  map_lookup_elem: 1,
  map_update_elem: 2,
  map_delete_elem: 3,
  ktime_get_ns: 5,
  get_prandom_u32: 7,
  get_smp_processor_id: 8,
  xdp_adjust_head: 44,
  xdp_adjust_meta: 54,
  xdp_adjust_tail: 65,
});

/** Errno the kernel returns from `xdp_adjust_meta` when the driver has no metadata support (ENOTSUPP). */
const ENOTSUPP = 524;
/** `xdp_adjust_meta` refuses a metadata length it cannot hold (EACCES). */
const EACCES = 13;
/** Bytes of an Ethernet header: `xdp_adjust_head`/`tail` leave at least this much packet. */
const ETH_HLEN = 14;
/** Bytes of per-CPU state of `get_prandom_u32` (one cache line per CPU). */
export const PRANDOM_STRIDE = 64;

/** Where the helpers find the runtime's data. */
export interface HelperData {
  /** The clock calibration (`ClockStruct`). */
  readonly clock: bigint;
  /** Per-CPU random state, `cpus` × {@link PRANDOM_STRIDE} bytes. */
  readonly prandom: bigint;
  readonly cpus: number;
}

/** The helpers' entry points by helper id, and the TypeScript call stub. */
export interface HelperCode {
  readonly region: Region;
  readonly byId: ReadonlyMap<number, bigint>;
  /** `user_call(fn, a1..a5)`: run `fn(a1..a5)` with r12 = 0. */
  readonly userCall: bigint;
  /** `cpu_call(fn, cpu, a1..a4)`: run `fn(a1..a4)` with r12 = cpu (tests and per-CPU work from TypeScript). */
  readonly cpuCall: bigint;
}

/** `mov rax, -errno; ret`. */
function fail(b: CodeBuffer, errno: number): void {
  mov(b, 'rax', -errno);
  ret(b);
}

/** r12 as an index below `cpus`, into `reg` (0 when out of range: never indexes past the per-CPU data). */
function cpuIndex(b: CodeBuffer, cpus: number, reg: 'rcx' | 'rdx'): void {
  const ok = b.newLabel();
  mov(b, reg === 'rcx' ? 'ecx' : 'edx', 'r12d');
  alu(b, 'cmp', reg === 'rcx' ? 'ecx' : 'edx', cpus);
  jcc(b, 'b', ok, 'short');
  alu(b, 'xor', reg === 'rcx' ? 'ecx' : 'edx', reg === 'rcx' ? 'ecx' : 'edx');
  b.bind(ok);
}

/** Generic map helpers: tail-jump to the map's own function (`map->ops->map_lookup_elem`, ...). */
function emitMapHelper(b: CodeBuffer, op: 'lookup' | 'update' | 'delete'): void {
  mov(b, 'r11', qword('rdi', BPF_MAP[op]));
  jmp(b, 'r11');
}

/** `u64 bpf_ktime_get_ns(void)`: CLOCK_MONOTONIC from the time-stamp counter. */
function emitKtime(b: CodeBuffer, clock: bigint): void {
  const ahead = b.newLabel();
  emitReadTsc(b);
  mov(b, 'rcx', clock);
  alu(b, 'sub', 'rax', qword('rcx', ClockStruct.offsets.tsc0));
  jcc(b, 'ae', ahead, 'short');
  alu(b, 'xor', 'eax', 'eax'); // a reading from before the calibration: no time passed
  b.bind(ahead);
  mul(b, qword('rcx', ClockStruct.offsets.mult)); // rdx:rax = ticks * mult (32.32)
  shift(b, 'shr', 'rax', 32);
  shift(b, 'shl', 'rdx', 32);
  alu(b, 'or', 'rax', 'rdx');
  alu(b, 'add', 'rax', qword('rcx', ClockStruct.offsets.ns0));
  ret(b);
}

/** `u32 bpf_get_prandom_u32(void)`: xorshift64* on the CPU's own state. */
function emitPrandom(b: CodeBuffer, data: HelperData): void {
  cpuIndex(b, data.cpus, 'rcx');
  imul(b, 'rcx', 'rcx', PRANDOM_STRIDE);
  mov(b, 'rdx', data.prandom);
  alu(b, 'add', 'rcx', 'rdx');
  mov(b, 'rax', qword('rcx', 0));
  for (const [op, n] of [
    ['shr', 12],
    ['shl', 25],
    ['shr', 27],
  ] as const) {
    mov(b, 'rdx', 'rax');
    shift(b, op, 'rdx', n);
    alu(b, 'xor', 'rax', 'rdx');
  }
  mov(b, qword('rcx', 0), 'rax');
  mov(b, 'rdx', 0x2545f4914f6cdd1dn);
  imul(b, 'rax', 'rdx');
  shift(b, 'shr', 'rax', 32);
  ret(b);
}

/** `u32 bpf_get_smp_processor_id(void)`. */
function emitProcessorId(b: CodeBuffer, cpus: number): void {
  cpuIndex(b, cpus, 'rcx');
  mov(b, 'eax', 'ecx');
  ret(b);
}

/**
 * `long bpf_xdp_adjust_head(struct xdp_buff *xdp, int delta)`: move `data` by `delta`
 * (negative: grow into the headroom) keeping the metadata in front of it; at least
 * {@link XDP_FRAME_SIZE} bytes of headroom stay reserved and 14 bytes of packet remain.
 * A buffer without metadata support (`data_meta > data`) has no metadata to move (the
 * kernel's `xdp_get_metalen`); the metadata is moved byte by byte (memmove), whatever its length.
 */
function emitAdjustHead(b: CodeBuffer): void {
  const einval = b.newLabel();
  const noMeta = b.newLabel();
  const down = b.newLabel();
  const next = b.newLabel();
  const metaOk = b.newLabel();
  movsx(b, 'rsi', 'esi');
  mov(b, 'rax', qword('rdi', XDP_BUFF.data));
  mov(b, 'r8', 'rax');
  alu(b, 'sub', 'r8', qword('rdi', XDP_BUFF.dataMeta)); // metalen
  jcc(b, 'ae', metaOk, 'short');
  alu(b, 'xor', 'r8d', 'r8d'); // data_meta > data: no metadata support, nothing to move
  b.bind(metaOk);
  alu(b, 'add', 'rax', 'rsi'); // new data
  mov(b, 'rcx', qword('rdi', XDP_BUFF.dataHardStart));
  alu(b, 'add', 'rcx', XDP_FRAME_SIZE);
  alu(b, 'add', 'rcx', 'r8'); // the lowest data may go
  alu(b, 'cmp', 'rax', 'rcx');
  jcc(b, 'b', einval);
  mov(b, 'rcx', qword('rdi', XDP_BUFF.dataEnd));
  alu(b, 'sub', 'rcx', ETH_HLEN);
  alu(b, 'cmp', 'rax', 'rcx');
  jcc(b, 'a', einval);
  // move the metadata (normally a multiple of 4 bytes, at most 32) along with data
  test(b, 'r8', 'r8');
  jcc(b, 'e', noMeta);
  mov(b, 'rdx', qword('rdi', XDP_BUFF.dataMeta)); // source
  mov(b, 'rcx', 'rdx');
  alu(b, 'add', 'rcx', 'rsi'); // destination
  test(b, 'rsi', 'rsi');
  jcc(b, 's', down, 'short');
  // delta > 0: copy from the end down
  alu(b, 'add', 'rdx', 'r8');
  alu(b, 'add', 'rcx', 'r8');
  const upLoop = b.newLabel();
  b.bind(upLoop);
  alu(b, 'sub', 'rdx', 1);
  alu(b, 'sub', 'rcx', 1);
  mov(b, 'r9b', byte('rdx', 0));
  mov(b, byte('rcx', 0), 'r9b');
  alu(b, 'sub', 'r8', 1);
  jcc(b, 'ne', upLoop, 'short');
  jmp(b, next, 'short');
  // delta < 0: copy from the start up
  b.bind(down);
  const downLoop = b.newLabel();
  b.bind(downLoop);
  mov(b, 'r9b', byte('rdx', 0));
  mov(b, byte('rcx', 0), 'r9b');
  alu(b, 'add', 'rdx', 1);
  alu(b, 'add', 'rcx', 1);
  alu(b, 'sub', 'r8', 1);
  jcc(b, 'ne', downLoop, 'short');
  b.bind(next);
  b.bind(noMeta);
  alu(b, 'add', qword('rdi', XDP_BUFF.dataMeta), 'rsi');
  mov(b, qword('rdi', XDP_BUFF.data), 'rax');
  alu(b, 'xor', 'eax', 'eax');
  ret(b);
  b.bind(einval);
  fail(b, ERRNO.EINVAL);
}

/**
 * `long bpf_xdp_adjust_meta(struct xdp_buff *xdp, int delta)`: move `data_meta` by
 * `delta`; the metadata (`data - data_meta`) must be a multiple of 4 bytes and at most 32.
 */
function emitAdjustMeta(b: CodeBuffer): void {
  const einval = b.newLabel();
  const eacces = b.newLabel();
  const unsupported = b.newLabel();
  movsx(b, 'rsi', 'esi');
  mov(b, 'rax', qword('rdi', XDP_BUFF.dataMeta));
  mov(b, 'rdx', qword('rdi', XDP_BUFF.data));
  alu(b, 'cmp', 'rax', 'rdx');
  jcc(b, 'a', unsupported);
  alu(b, 'add', 'rax', 'rsi'); // new meta
  mov(b, 'rcx', qword('rdi', XDP_BUFF.dataHardStart));
  alu(b, 'add', 'rcx', XDP_FRAME_SIZE);
  alu(b, 'cmp', 'rax', 'rcx');
  jcc(b, 'b', einval, 'short');
  alu(b, 'cmp', 'rax', 'rdx');
  jcc(b, 'a', einval, 'short');
  alu(b, 'sub', 'rdx', 'rax'); // metalen
  test(b, 'edx', 3);
  jcc(b, 'ne', eacces, 'short');
  alu(b, 'cmp', 'rdx', XDP_METADATA_MAX);
  jcc(b, 'a', eacces, 'short');
  mov(b, qword('rdi', XDP_BUFF.dataMeta), 'rax');
  alu(b, 'xor', 'eax', 'eax');
  ret(b);
  b.bind(einval);
  fail(b, ERRNO.EINVAL);
  b.bind(eacces);
  fail(b, EACCES);
  b.bind(unsupported);
  fail(b, ENOTSUPP);
}

/**
 * `long bpf_xdp_adjust_tail(struct xdp_buff *xdp, int offset)`: move `data_end` by
 * `offset`, not beyond the buffer's end less {@link XDP_TAILROOM} and leaving at least 14
 * bytes of packet; bytes gained are zeroed.
 */
function emitAdjustTail(b: CodeBuffer): void {
  const einval = b.newLabel();
  const shrink = b.newLabel();
  movsx(b, 'rsi', 'esi');
  mov(b, 'rax', qword('rdi', XDP_BUFF.dataEnd));
  alu(b, 'add', 'rax', 'rsi'); // new end
  mov(b, 'ecx', dword('rdi', XDP_BUFF.frameSize));
  alu(b, 'add', 'rcx', qword('rdi', XDP_BUFF.dataHardStart));
  alu(b, 'sub', 'rcx', XDP_TAILROOM); // data_hard_end
  alu(b, 'cmp', 'rax', 'rcx');
  jcc(b, 'a', einval, 'short');
  mov(b, 'rcx', qword('rdi', XDP_BUFF.data));
  alu(b, 'add', 'rcx', ETH_HLEN);
  alu(b, 'cmp', 'rax', 'rcx');
  jcc(b, 'b', einval, 'short');
  test(b, 'rsi', 'rsi');
  jcc(b, 'le', shrink, 'short');
  mov(b, 'rdx', qword('rdi', XDP_BUFF.dataEnd));
  emitZero(b, 'rdx', 'rsi');
  b.bind(shrink);
  mov(b, qword('rdi', XDP_BUFF.dataEnd), 'rax');
  alu(b, 'xor', 'eax', 'eax');
  ret(b);
  b.bind(einval);
  fail(b, ERRNO.EINVAL);
}

/**
 * The stubs through which TypeScript calls functions of the runtime ABI: `user` is
 * `user_call(fn, a1..a5)` (r12 = 0), `cpu` is `cpu_call(fn, cpu, a1..a4)` (r12 = cpu). Each
 * keeps rsp aligned (one push) and preserves r12 for its caller.
 */
export function emitCallStub(b: CodeBuffer, kind: 'user' | 'cpu'): void {
  push(b, 'r12');
  if (kind === 'user') alu(b, 'xor', 'r12d', 'r12d');
  else mov(b, 'r12d', 'esi');
  mov(b, 'rax', 'rdi');
  const args = kind === 'user' ? (['rsi', 'rdx', 'rcx', 'r8', 'r9'] as const) : (['rdx', 'rcx', 'r8', 'r9'] as const);
  const into = ['rdi', 'rsi', 'rdx', 'rcx', 'r8'] as const;
  args.forEach((from, i) => {
    mov(b, into[i] as (typeof into)[number], from);
  });
  call(b, 'rax');
  pop(b, 'r12');
  ret(b);
}

/**
 * Emit every helper into one text region of `arena`.
 * @throws the arena's TextPokeError (ENOMEM, DISPOSED).
 */
export function emitHelpers(arena: TextArena, data: HelperData): HelperCode {
  const offsets = new Map<number, number>();
  let user = 0;
  let cpu = 0;
  const region = emitText(
    arena,
    (b) => {
      const entry = (id: number) => {
        b.align(16);
        offsets.set(id, b.length);
      };
      entry(BPF_FUNC.map_lookup_elem);
      emitMapHelper(b, 'lookup');
      entry(BPF_FUNC.map_update_elem);
      emitMapHelper(b, 'update');
      entry(BPF_FUNC.map_delete_elem);
      emitMapHelper(b, 'delete');
      entry(BPF_FUNC.ktime_get_ns);
      emitKtime(b, data.clock);
      entry(BPF_FUNC.get_prandom_u32);
      emitPrandom(b, data);
      entry(BPF_FUNC.get_smp_processor_id);
      emitProcessorId(b, data.cpus);
      entry(BPF_FUNC.xdp_adjust_head);
      emitAdjustHead(b);
      entry(BPF_FUNC.xdp_adjust_meta);
      emitAdjustMeta(b);
      entry(BPF_FUNC.xdp_adjust_tail);
      emitAdjustTail(b);
      b.align(16);
      user = b.length;
      emitCallStub(b, 'user');
      b.align(16);
      cpu = b.length;
      emitCallStub(b, 'cpu');
    },
    16,
  );
  const at = (offset: number) => region.address + BigInt(offset);
  return {
    region,
    byId: new Map([...offsets].map(([id, offset]) => [id, at(offset)])),
    userCall: at(user),
    cpuCall: at(cpu),
  };
}
