import { describe, expect, it } from 'vitest';
import { type PacketCaseKind, instructionsPerPacket } from './packet-cases.js';

describe('instructions per packet (simulated CPU, exact)', () => {
  it('the dispatcher costs two instructions per tree level, the retpoline three more than jmp rdx', async () => {
    const count = (spec: PacketCaseKind) => instructionsPerPacket(spec);
    const noRetpoline = await count({ kind: 'no-retpoline' });
    const baseline = await count({ kind: 'baseline' });
    const d = async (entries: number) => count({ kind: 'dispatcher', entries });
    const [d1, d2, d4, d8, d16] = [await d(1), await d(2), await d(4), await d(8), await d(16)];
    // jmp thunk; call; mov [rsp], rdx; ret  versus  jmp rdx
    expect(baseline - noRetpoline).toBe(3);
    // dispatcher-1: jmp image; cmp; je   versus  jmp rdx
    expect(d1 - noRetpoline).toBe(1);
    expect([d2 - d1, d4 - d2, d8 - d4, d16 - d8]).toEqual([2, 2, 2, 2]);
    // full: the walk to a leaf, then the retpoline fallback
    expect((await count({ kind: 'full' })) - d16).toBe(4);
  }, 60_000);
});
