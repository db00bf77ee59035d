import { createHash } from 'node:crypto';
import { CodeBuffer } from '@bpf-dispatcher/x86';
import { describe, expect, it } from 'vitest';
import { emitDriverLoop } from './driver-loop.js';
import { emitNapiPoll } from './napi-poll.js';
import { BUFFER_SHIFT, BUFFER_STRIDE, COUNTERS, DESC, DESC_SHIFT, FRAME_SHIFT, FRAME_SLOT, RING, RxDescStruct, STACK_ENTRY_SHIFT, StackEntryStruct } from './ring.js';

describe('ring layouts (defined once with defineStruct)', () => {
  it('keep the offsets the poll loop was written against', () => {
    expect({ ...RING }).toEqual({
      descs: 0, mask: 8, nextToClean: 12, xdpProg: 16, xdpBuff: 24, templates: 32, buffers: 40,
      stack: 48, stackMask: 56, stackHead: 60, stackTail: 64, tx: 72, txLengths: 80, txMask: 88, txHead: 92, txTail: 96,
      fill: 104, fillMask: 112, fillProd: 116, fillCons: 120, counters: 128, size: 256,
    });
    expect({ ...DESC }).toEqual({ addr: 0, length: 8, status: 10, size: 16, DD: 1 });
    expect({ ...COUNTERS }).toEqual({
      packets: 0, bytes: 8, actions: 16, aborted: 16, drop: 24, pass: 32, tx: 40, redirect: 48, errors: 56,
      stackEnqueued: 64, stackDropped: 72, txPackets: 80, txDropped: 88, noProg: 96, polls: 104, misrouted: 112, size: 128,
    });
    expect({ ...StackEntryStruct.offsets, size: StackEntryStruct.size }).toEqual({ data: 0, length: 8, size: 16 });
  });

  it('the shifts the emitters index with match the sizes', () => {
    expect(1 << DESC_SHIFT).toBe(RxDescStruct.size);
    expect(1 << STACK_ENTRY_SHIFT).toBe(StackEntryStruct.size);
    expect(1 << BUFFER_SHIFT).toBe(BUFFER_STRIDE);
    expect(1 << FRAME_SHIFT).toBe(FRAME_SLOT);
  });
});

describe('emitted code', () => {
  // sha256 prefixes of the code as it was before the restructuring into ring.ts / xsk.ts /
  // driver-loop.ts (checked then against the old emitter): the bytes must not change
  const GOLDEN: Record<string, string> = {
    'copy false false': '79896fd309420c4e',
    'copy false true': '275d7e33328afe4c',
    'copy true false': '938b899d08bb9db7',
    'copy true true': '2c258a578746ffec',
    'zc false false': 'b10adeab98e42b35',
    'zc false true': 'cbd38827d9414646',
    'zc true false': '96e770204fb47266',
    'zc true true': '98fda6bb650e7d6c',
  };
  const digest = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex').slice(0, 16);

  it('napi_poll (copy and zero-copy, stats, verifyHandlers) and driver_loop are byte-identical to the golden code', () => {
    for (const mode of ['copy', 'zc'] as const) {
      for (const stats of [false, true]) {
        for (const verifyHandlers of [false, true]) {
          const buf = new CodeBuffer(0x10000n);
          emitNapiPoll(buf, 0x20000n, { mode, stats, verifyHandlers, signatureOffset: -4 });
          expect(digest(buf.finish()), `${mode} stats=${stats} verify=${verifyHandlers}`).toBe(GOLDEN[`${mode} ${stats} ${verifyHandlers}`]);
        }
      }
    }
    const loop = new CodeBuffer(0x10000n);
    emitDriverLoop(loop, 0x20000n);
    expect(digest(loop.finish())).toBe('1b66ec713ef64d89');
  });
});
