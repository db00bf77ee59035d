/**
 * Hostile objects at load time: mutations of the loadable fixtures — instruction bytes,
 * whole instruction slots, legacy map definitions, `.maps` and global data bytes — must be
 * opened and loaded (maps created, programs verified and JIT'd) or refused with a typed
 * error, never anything else; and what loads must run without a fault: every program runs
 * on the simulated CPU over a packet, where any access outside what the arena allocated is
 * a typed CPU fault, caught here as a failure. Bounded by count (deterministic seed).
 */
import { XDP_BUFF, XdpBuffStruct, runtimeOf } from '@bpf-dispatcher/runtime';
import { SimulatedArena } from '@bpf-dispatcher/text-poke';
import { BpfDispatcherError } from '@bpf-dispatcher/x86';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { openObject } from './object.js';
import { fixture, headers } from './test-support/fixtures.js';

const LOADABLE = [
  ['btf-maps', ['xdp', '.maps']],
  ['legacy-maps', ['xdp', 'maps']],
  ['global-data', ['xdp', '.data', '.rodata']],
  ['subprograms', ['xdp', '.text']],
] as const;

type Mutation = { kind: 'byte'; section: number; at: number; value: number } | { kind: 'slot'; section: number; at: number; value: bigint } | { kind: 'u32'; section: number; at: number; value: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('byte' as const), section: fc.nat(), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('slot' as const), section: fc.nat(), at: fc.nat(), value: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) }),
  fc.record({
    kind: fc.constant('u32' as const),
    section: fc.nat(),
    at: fc.nat(),
    value: fc.constantFrom(0, 1, 2, 4, 5, 6, 8, 12, 0x7fff_ffff, 0xffff_ffff, 1 << 16, 1 << 20, 513),
  }),
);

/** Errors a hostile object may legitimately end in: the loader's, the runtime's, the verifier's (wrapped), the arena's when full. */
function typed(error: unknown): boolean {
  return BpfDispatcherError.isInstance(error) && ['EINVAL', 'NOT_ELF', 'NOT_BPF', 'MALFORMED', 'UNSUPPORTED', 'VERIFY', 'E2BIG', 'ENOMEM'].includes(error.code);
}

describe('hostile objects at load time', () => {
  it('load or refuse with a typed error; what loads runs without a fault', async () => {
    const arena = new SimulatedArena({ textSize: 8 << 20, dataSize: 32 << 20 });
    runtimeOf(arena);
    const packet = arena.allocData(4096);
    const ctx = arena.allocData(XDP_BUFF.size + 16);
    const buff = XdpBuffStruct.view(arena.memory(ctx));
    buff.set('dataHardStart', packet.address);
    buff.set('data', packet.address + 256n);
    buff.set('dataMeta', packet.address + 256n);
    buff.set('dataEnd', packet.address + 256n + 64n);
    buff.set('rxq', ctx.address + BigInt(XDP_BUFF.size));
    buff.set('frameSize', 4096);
    const counts = { loaded: 0, refused: 0, ran: 0 };
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...LOADABLE), fc.array(mutation, { minLength: 1, maxLength: 3 }), async ([name, sections], mutations) => {
        const bytes = fixture(name);
        const h = headers(bytes);
        const view = new DataView(bytes.buffer);
        for (const m of mutations) {
          const s = h.section(sections[m.section % sections.length] as string);
          if (s.size === 0) continue;
          if (m.kind === 'byte') bytes[s.offset + (m.at % s.size)] = m.value;
          else if (m.kind === 'slot' && s.size >= 8) view.setBigUint64(s.offset + 8 * (m.at % Math.floor(s.size / 8)), m.value, true);
          else if (m.kind === 'u32' && s.size >= 4) view.setUint32(s.offset + 4 * (m.at % Math.floor(s.size / 4)), m.value, true);
        }
        let object: ReturnType<typeof openObject> | undefined;
        try {
          object = openObject(bytes, { name });
          object.load(arena);
        } catch (error) {
          if (!typed(error)) throw error;
          counts.refused++;
          await object?.close();
          return;
        }
        counts.loaded++;
        for (const program of object.programs) {
          arena.write(packet.address + 256n, new Uint8Array(64).fill(0x5a));
          arena.call(program.jit.bpfFunc, ctx.address); // a fault throws: the property fails
          counts.ran++;
        }
        await object.close();
      }),
      { numRuns: 300, seed: 20261207 },
    );
    console.info(`hostile objects at load time: ${counts.loaded} loaded (${counts.ran} programs ran), ${counts.refused} refused with a typed error`);
    expect(counts.loaded).toBeGreaterThan(20);
    expect(counts.refused).toBeGreaterThan(20);
    arena.dispose();
  });
});
