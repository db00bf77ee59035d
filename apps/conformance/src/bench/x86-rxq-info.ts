/**
 * The hand-written x86-64 `xdp_rxq_info` the eBPF program replaced, kept as the benchmark's
 * reference row (`x86-rxq-info`): what the JIT'd program costs per packet beyond code
 * written by hand for the same job. Same behaviour as `bpf/xdp_rxq_info.bpf.c` without
 * the options: global `processed`, the ifindex check (`issue`, XDP_ABORTED), the per-queue
 * record of `min(rx_queue_index, 64)`, then the configured verdict. Its counters are plain
 * (one poller at a time), in one data block.
 */
import { type Region, type TextArena, defineStruct } from '@bpf-dispatcher/text-poke';
import { type XdpActionValue, XDP_BUFF, XDP_RXQ, XdpAction, type XdpProg, createXdpProg } from '@bpf-dispatcher/xdp-call';
import { alu, dword, inc, jcc, lea, mov, ptr, qword, ret, shift } from '@bpf-dispatcher/x86';

const MAX_RXQS = 64;
const Config = defineStruct('x86_rxq_info_config', { action: 'u32', ifindex: 'u32', processed: 'u64', issue: 'u64' }, { size: 64 });
const RECORD = 16;
const SIZE = Config.size + RECORD * (MAX_RXQS + 1);

/** The reference program with its counters. */
export interface X86RxqInfo {
  readonly prog: XdpProg;
  counters(): { processed: bigint; issue: bigint };
  resetCounters(): void;
  dispose(): Promise<void>;
}

/** Emit the program body against the data block at `data`. */
function emit(b: Parameters<Parameters<typeof createXdpProg>[3]>[0], data: bigint): void {
  const mismatch = b.newLabel();
  const inRange = b.newLabel();
  mov(b, 'rax', data);
  inc(b, qword('rax', Config.offsets.processed));
  mov(b, 'rcx', qword('rdi', XDP_BUFF.rxq));
  mov(b, 'edx', dword('rcx', XDP_RXQ.ifindex));
  alu(b, 'cmp', 'edx', dword('rax', Config.offsets.ifindex));
  jcc(b, 'ne', mismatch);
  mov(b, 'edx', dword('rcx', XDP_RXQ.queueIndex));
  alu(b, 'cmp', 'edx', MAX_RXQS);
  jcc(b, 'b', inRange, 'short');
  mov(b, 'edx', MAX_RXQS);
  shift(b, 'shl', 'rdx', 4);
  lea(b, 'rcx', ptr('rax', Config.size));
  alu(b, 'add', 'rcx', 'rdx');
  inc(b, qword('rcx', 0));
  inc(b, qword('rcx', 8));
  mov(b, 'eax', dword('rax', Config.offsets.action));
  ret(b);
  b.bind(inRange);
  shift(b, 'shl', 'rdx', 4);
  lea(b, 'rcx', ptr('rax', Config.size));
  alu(b, 'add', 'rcx', 'rdx');
  inc(b, qword('rcx', 0));
  mov(b, 'eax', dword('rax', Config.offsets.action));
  ret(b);
  b.bind(mismatch);
  inc(b, qword('rax', Config.offsets.issue));
  mov(b, 'eax', XdpAction.ABORTED);
  ret(b);
}

/** Assemble the hand-written xdp_rxq_info into `arena`. */
export function x86RxqInfo(arena: TextArena, options: { action: XdpActionValue; ifindex: number }): X86RxqInfo {
  const data: Region = arena.allocData(SIZE, 64);
  const config = Config.view(arena, data);
  config.set('action', options.action);
  config.set('ifindex', options.ifindex);
  let prog: XdpProg;
  try {
    prog = createXdpProg(arena, 'x86_rxq_info', 256, (b) => emit(b, data.address));
  } catch (error) {
    arena.free(data);
    throw error;
  }
  return {
    prog,
    counters: () => ({ processed: config.get('processed'), issue: config.get('issue') }),
    resetCounters: () => {
      config.set('processed', 0n);
      config.set('issue', 0n);
      arena.write(data.address + BigInt(Config.size), new Uint8Array(RECORD * (MAX_RXQS + 1)));
    },
    dispose: async () => {
      await prog.dispose();
      if (!arena.disposed) arena.free(data);
    },
  };
}
