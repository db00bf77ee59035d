import { createHash } from 'node:crypto';
import { CodeBuffer } from '@bpf-dispatcher/x86';
import { describe, expect, it } from 'vitest';
import { emitDriverLoop } from './driver-loop.js';
import { emitNapiPoll } from './napi-poll.js';
import {
  BUFFER_SHIFT,
  BUFFER_STRIDE,
  COUNTERS,
  DESC,
  DESC_SHIFT,
  FRAME_SHIFT,
  FRAME_SLOT,
  RING,
  RxDescStruct,
  STACK_ENTRY_SHIFT,
  StackEntryStruct,
} from './ring.js';

describe('ring layouts (defined once with defineStruct)', () => {
  it('keep the offsets the poll loop was written against', () => {
    expect({ ...RING }).toEqual({
      descs: 0,
      mask: 8,
      nextToClean: 12,
      xdpProg: 16,
      xdpBuff: 24,
      templates: 32,
      buffers: 40,
      stack: 48,
      stackMask: 56,
      stackHead: 60,
      stackTail: 64,
      tx: 72,
      txLengths: 80,
      txMask: 88,
      txHead: 92,
      txTail: 96,
      fill: 104,
      fillMask: 112,
      fillProd: 116,
      fillCons: 120,
      counters: 128,
      size: 256,
    });
    expect({ ...DESC }).toEqual({ addr: 0, length: 8, status: 10, size: 16, DD: 1 });
    expect({ ...COUNTERS }).toEqual({
      packets: 0,
      bytes: 8,
      actions: 16,
      aborted: 16,
      drop: 24,
      pass: 32,
      tx: 40,
      redirect: 48,
      errors: 56,
      stackEnqueued: 64,
      stackDropped: 72,
      txPackets: 80,
      txDropped: 88,
      noProg: 96,
      polls: 104,
      misrouted: 112,
      size: 128,
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
  // sha256 prefixes of the emitted code: the bytes change only on purpose (last: the poller's
  // CPU index stored into the ring's xdp_buff by napi_poll and passed on by driver_loop, and
  // the fence after the quiescent state)
  const GOLDEN: Record<string, string> = {
    'copy false false': '0ceee296b76ca3c3',
    'copy false true': 'afb86d2d69080170',
    'copy true false': '16123491bb963015',
    'copy true true': '7918e271666e3791',
    'zc false false': '0ce22317c37438db',
    'zc false true': '0335c781e8d750d5',
    'zc true false': '917646d1aae73aec',
    'zc true true': 'd42d66b2ae3c05f6',
  };
  const digest = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex').slice(0, 16);

  it('napi_poll (copy and zero-copy, stats, verifyHandlers) and driver_loop are byte-identical to the golden code', () => {
    for (const mode of ['copy', 'zc'] as const) {
      for (const stats of [false, true]) {
        for (const verifyHandlers of [false, true]) {
          const buf = new CodeBuffer(0x10000n);
          emitNapiPoll(buf, 0x20000n, { mode, stats, verifyHandlers, signatureOffset: -4 });
          expect(digest(buf.finish()), `${mode} stats=${stats} verify=${verifyHandlers}`).toBe(
            GOLDEN[`${mode} ${stats} ${verifyHandlers}`],
          );
        }
      }
    }
    const loop = new CodeBuffer(0x10000n);
    emitDriverLoop(loop, 0x20000n);
    expect(digest(loop.finish())).toBe('bb42440b72fcd906');
  });
});
