import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { interfaceIndex } from './interface.js';

describe('run: interface names', () => {
  it.skipIf(process.platform !== 'linux')("finds an interface's ifindex in the caller's network namespace, as if_nametoindex does", () => {
    expect(interfaceIndex('lo')).toBe(Number(readFileSync('/sys/class/net/lo/ifindex', 'utf8').trim()));
    expect(() => interfaceIndex('nosuchif0')).toThrow(
      expect.objectContaining({ code: 'INVALID_INPUT', message: '--dev nosuchif0: no such interface in this network namespace' }),
    );
  });

  it('refuses what cannot be an interface name before asking the kernel', () => {
    for (const bad of ['', 'a'.repeat(16), 'eth 0', 'a/b', 'eth0:1', '.', '..'])
      expect(() => interfaceIndex(bad), bad).toThrow(
        expect.objectContaining({ code: 'INVALID_INPUT', message: expect.stringMatching(/is not an interface name/) }),
      );
  });
});
