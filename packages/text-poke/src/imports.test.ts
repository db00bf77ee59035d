/**
 * Importing `@bpf-dispatcher/text-poke` must load neither iced-x86 (a WebAssembly decoder,
 * needed only by the simulated CPU when it first decodes) nor koffi (a native module, needed
 * only by the native arena). Checked in a fresh Node process on the package's sources.
 */
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LOADED_HELPER, probeFreshImport } from '@bpf-dispatcher/vitest-config/fresh-import';
import { describe, expect, it } from 'vitest';

const probe = `${LOADED_HELPER}
const now = () => ({ iced: loaded('iced-x86'), koffi: loaded('koffi') });
const tp = await import('./index.js');
const { mov, ret } = await import('@bpf-dispatcher/x86');
const afterImport = now();
const arena = new tp.SimulatedArena();
const fn = tp.emitText(arena, (b) => { mov(b, 'eax', 7); ret(b); });
const value = String(arena.call(fn.address));
const afterSimulated = now();
let native = 'unsupported';
if (tp.nativeSupported()) {
  new tp.NativeArena({ textSize: 1 << 16, dataSize: 1 << 16 }).dispose();
  native = now();
}
console.log(JSON.stringify({ afterImport, value, afterSimulated, native }));
`;

interface Loaded {
  iced: boolean;
  koffi: boolean;
}

describe('import cost', () => {
  it('importing the package loads neither iced-x86 nor koffi; the simulated CPU loads iced, the native arena koffi', () => {
    const result = probeFreshImport(dirname(fileURLToPath(import.meta.url)), probe) as { afterImport: Loaded; value: string; afterSimulated: Loaded; native: 'unsupported' | Loaded };
    expect(result.afterImport).toEqual({ iced: false, koffi: false });
    expect(result.value).toBe('7');
    expect(result.afterSimulated).toEqual({ iced: true, koffi: false });
    if (result.native !== 'unsupported') expect(result.native.koffi).toBe(true);
  }, 90_000);
});
