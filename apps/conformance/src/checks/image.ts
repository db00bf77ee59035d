import assert from 'node:assert/strict';
import { Dispatcher, createTrampoline, dispatcherImageSize, generateImage, maxProgsForHalf } from '@bpf-dispatcher/dispatcher';
import { IMAGE_SIZES, LISTING_1_ENTRY, LISTING_16_ENTRIES, REFERENCE } from '@bpf-dispatcher/reference';
import { SimulatedArena } from '@bpf-dispatcher/text-poke';
import { listing } from '@bpf-dispatcher/x86/disasm';
import type { Check } from '../suite.js';

/** Checks of the generated image itself. */
export const imageChecks: readonly Check[] = [
  {
    id: 'golden-1-entry',
    title: 'golden listing, 1 entry',
    arenas: ['simulated'],
    run: async (arena) => {
      const trampoline = createTrampoline(arena, { thunk: REFERENCE.thunk });
      const d = new Dispatcher(arena, trampoline, { imageAddress: REFERENCE.image1 });
      await d.changeProg(null, -1);
      assert.equal(d.disassemble(), LISTING_1_ENTRY, 'the installed image does not read as listing-1-entry.lst');
    },
  },
  {
    id: 'golden-16-entries',
    title: 'golden listing, 16 entries',
    arenas: ['simulated'],
    run: () => {
      const bytes = generateImage(REFERENCE.image16, REFERENCE.progs(16).reverse(), { fallback: 'retpoline', thunk: REFERENCE.thunk });
      assert.equal(listing(bytes, REFERENCE.image16), LISTING_16_ENTRIES, 'the image does not read as listing-16-entries.lst');
    },
  },
  {
    id: 'image-sizes',
    title: 'image sizes 1..64 entries',
    arenas: ['simulated'],
    run: () => {
      for (const [n, size] of Object.entries(IMAGE_SIZES)) assert.equal(dispatcherImageSize(Number(n)), size, `size of a ${n}-entry image`);
      assert.ok(dispatcherImageSize(maxProgsForHalf()) <= 2048 && dispatcherImageSize(maxProgsForHalf() + 1) > 2048, 'maxProgsForHalf');
    },
  },
  {
    id: 'identity-on-rdx',
    title: 'image is the identity on rdx (random sets)',
    arenas: ['simulated'],
    run: () => {
      const sim = new SimulatedArena();
      try {
        const image = sim.alloc(2048);
        let seed = 12345;
        const random = () => {
          seed = (seed * 1103515245 + 12345) & 0x7fffffff;
          return seed;
        };
        for (let round = 0; round < 50; round++) {
          const n = 1 + (round % 16);
          const progs = new Set<bigint>();
          while (progs.size < n) progs.add(BigInt(-(1 + (random() % 0x3000_0000))));
          const list = [...progs].map((p) => BigInt.asUintN(64, p));
          const bytes = generateImage(image.address, list, { fallback: 'indirect' });
          sim.write(image.address, bytes);
          for (const target of [...list, BigInt.asUintN(64, BigInt(-0x3000_0001 - round))]) {
            sim.defineExternal(target, () => target);
            const run = sim.run(image.address, { rdx: target });
            sim.removeExternal(target);
            assert.equal(run.rax, target, `rdx=0x${target.toString(16)} did not reach itself`);
          }
        }
      } finally {
        sim.dispose();
      }
    },
  },
];
