import { Dispatcher, createRetpolineThunk, createTrampoline } from '@bpf-dispatcher/dispatcher';
import { NativeArena, emitText } from '@bpf-dispatcher/text-poke';
import { type CodeBuffer, call, dec, jcc, mov, pop, push, ret } from '@bpf-dispatcher/x86';
import { XdpAction, createXdpProg, emitReturn } from '@bpf-dispatcher/xdp-call';

/** A program that returns at once (`mov eax, XDP_DROP; ret`): the call's cost alone, without a program body or frame. */
const returnAtOnce = (arena: NativeArena, name: string) => createXdpProg(arena, name, 16, (b) => emitReturn(b, XdpAction.DROP));

/** A call-only case: a native loop that makes `n` calls to a program. */
export interface CallCase {
  readonly name: string;
  readonly entries: number | null;
  /** Make `calls` calls; returns nanoseconds. */
  run(calls: number): number;
  dispose(): Promise<void>;
}

/** How the loop reaches the program. */
export type CallCaseKind = 'direct' | 'indirect' | 'retpoline' | { dispatcher: number } | 'full';

/**
 * The call-only microbenchmark: a native loop `for (n) rax = target(ctx, 0, prog)` where
 * the target is the program itself (direct call), `call rdx` (plain indirect), the
 * retpoline thunk for rdx, or a dispatcher trampoline with N entries / 16 other entries.
 */
export async function callCase(kind: CallCaseKind): Promise<CallCase> {
  const arena = new NativeArena({ textSize: 1 << 20, dataSize: 1 << 20 });
  const prog = returnAtOnce(arena, 'callee');
  let dispatcher: Dispatcher | undefined;
  let emitCall: (buf: CodeBuffer) => void;
  let name: string;
  let entries: number | null = null;
  if (kind === 'direct') {
    name = 'call-direct';
    emitCall = (b) => call(b, prog.bpfFunc);
  } else if (kind === 'indirect') {
    name = 'call-indirect';
    emitCall = (b) => call(b, 'rdx');
  } else if (kind === 'retpoline') {
    name = 'call-retpoline';
    const thunk = createRetpolineThunk(arena).address;
    emitCall = (b) => call(b, thunk);
  } else {
    const trampoline = createTrampoline(arena, { fallback: 'retpoline' });
    dispatcher = new Dispatcher(arena, trampoline);
    const others = kind === 'full' ? 16 : kind.dispatcher - 1;
    for (let i = 0; i < others; i++) await dispatcher.changeProg(null, returnAtOnce(arena, `other_${i}`).bpfFunc);
    if (kind !== 'full') await dispatcher.changeProg(null, prog.bpfFunc);
    entries = kind === 'full' ? 16 : kind.dispatcher;
    name = kind === 'full' ? 'call-full' : `call-dispatcher-${kind.dispatcher}`;
    emitCall = (b) => call(b, trampoline.entry);
  }
  const emitTheCall = emitCall;
  const region = emitText(
    arena,
    (buf) => {
      const loop = buf.newLabel();
      push(buf, 'rbx');
      push(buf, 'r12');
      push(buf, 'r13');
      mov(buf, 'r13', 'rdi');
      mov(buf, 'rbx', prog.bpfFunc);
      buf.align(16);
      buf.bind(loop);
      mov(buf, 'edi', 0);
      mov(buf, 'esi', 0);
      mov(buf, 'rdx', 'rbx');
      emitTheCall(buf);
      dec(buf, 'r13');
      jcc(buf, 'ne', loop);
      pop(buf, 'r13');
      pop(buf, 'r12');
      pop(buf, 'rbx');
      ret(buf);
    },
    { align: 64 },
  );
  arena.call(region.address, 100_000);
  return {
    name,
    entries,
    run: (calls) => {
      const start = process.hrtime.bigint();
      arena.call(region.address, calls);
      return Number(process.hrtime.bigint() - start);
    },
    dispose: async () => {
      await dispatcher?.dispose();
      arena.dispose();
    },
  };
}
