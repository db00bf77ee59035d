import { describe, expect, it } from 'vitest';
import { accepts, memOpts, rejects } from '../test-support/verifier.js';

describe('verifier: registers', () => {
  it('refuses reading a register never written: "R3 !read_ok"', () => {
    rejects('mov %r0, %r3\nexit', memOpts(), 'R3 !read_ok', 0);
    rejects('exit', memOpts(), 'R0 !read_ok', 0);
    rejects('jeq %r4, 0, +0\nmov %r0, 0\nexit', memOpts(), 'R4 !read_ok', 0);
  });

  it('refuses writing r10: "frame pointer is read only"', () => {
    rejects('mov %r10, 0\nmov %r0, 0\nexit', memOpts(), 'frame pointer is read only', 0);
    rejects('add %r10, -8\nmov %r0, 0\nexit', memOpts(), 'frame pointer is read only', 0);
    rejects('ldxdw %r10, [%r1]\nmov %r0, 0\nexit', memOpts(), 'frame pointer is read only', 0);
  });

  it('memory program type: r1 points to the buffer, r2 holds its size', () => {
    accepts('mov %r0, %r2\nldxb %r3, [%r1+63]\nstxb [%r1], %r3\nexit', memOpts(64));
    rejects('ldxb %r0, [%r1+64]\nexit', memOpts(64), 'invalid access to memory, mem_size=64 off=64 size=1', 0);
    rejects('ldxw %r0, [%r1-1]\nexit', memOpts(64), 'invalid access to memory, mem_size=64 off=-1 size=4', 0);
    rejects('ldxb %r0, [%r1]\nexit', memOpts(0), 'invalid access to memory, mem_size=0 off=0 size=1', 0);
  });

  it('refuses memory access through a scalar: "invalid mem access \'scalar\'"', () => {
    rejects('ldxw %r0, [%r2]\nexit', memOpts(), "R2 invalid mem access 'scalar'", 0);
    rejects('mov %r3, 0x1000\nstw [%r3], 1\nmov %r0, 0\nexit', memOpts(), "R3 invalid mem access 'scalar'", 1);
  });

  it('pointer arithmetic: add/sub of bounded scalars only, 64-bit only', () => {
    rejects('mul %r1, 2\nmov %r0, 0\nexit', memOpts(), 'R1 pointer arithmetic with *= operator prohibited', 0);
    rejects('and %r1, 0xff\nmov %r0, 0\nexit', memOpts(), 'R1 bitwise operator &= on pointer prohibited', 0);
    rejects('add32 %r1, 1\nmov %r0, 0\nexit', memOpts(), 'R1 32-bit pointer arithmetic prohibited', 0);
    rejects('mov %r3, 1\nsub %r3, %r1\nmov %r0, 0\nexit', memOpts(), 'R3 tried to subtract pointer from scalar', 1);
    rejects('add %r1, %r10\nmov %r0, 0\nexit', memOpts(), 'R1 pointer += pointer prohibited', 0);
    rejects(
      'ldxdw %r3, [%r1]\nadd %r1, %r3\nmov %r0, 0\nexit',
      memOpts(),
      'math between mem pointer and register with unbounded min value is not allowed',
      1,
    );
    // a bounded variable offset, then bounds-checked access
    accepts('ldxb %r3, [%r1]\nadd %r1, %r3\nldxb %r0, [%r1+8]\nexit', memOpts(264));
    rejects(
      'ldxb %r3, [%r1]\nadd %r1, %r3\nldxb %r0, [%r1+8]\nexit',
      memOpts(263),
      'R1 unbounded memory access, make sure to bounds check any such access',
      2,
    );
    // a bound proven by a comparison
    accepts('ldxdw %r3, [%r1]\njgt %r3, 15, out\nadd %r1, %r3\nldxb %r0, [%r1+48]\nexit\nout:\nmov %r0, 0\nexit', memOpts(64));
    // pointer - pointer is a number (as for root in the kernel)
    accepts('mov %r3, %r10\nsub %r3, %r1\nmov %r0, %r3\nexit');
  });

  it('scalar - pointer moves and partial copies give numbers, not pointers', () => {
    rejects('mov32 %r3, %r1\nldxb %r0, [%r3]\nexit', memOpts(), "R3 invalid mem access 'scalar'", 1);
  });

  it('refuses comparing pointers (other than packet checks and NULL checks)', () => {
    rejects('jeq %r1, %r10, +0\nmov %r0, 0\nexit', memOpts(), 'R1 pointer comparison prohibited', 0);
    rejects('jgt %r1, 5, +0\nmov %r0, 0\nexit', memOpts(), 'R1 pointer comparison prohibited', 0);
    rejects('mov %r3, 5\njlt %r3, %r1, +0\nmov %r0, 0\nexit', memOpts(), 'R1 pointer comparison prohibited', 1);
  });

  it('follows only the feasible way of a branch on known values', () => {
    // the fall-through would read r3, never written: dead, so not explored
    accepts('mov %r2, 7\njeq %r2, 7, ok\nmov %r0, %r3\nexit\nok:\nmov %r0, 0\nexit');
    accepts('mov %r2, 7\njgt %r2, 6, ok\nmov %r0, %r3\nexit\nok:\nmov %r0, 0\nexit');
    // a non-NULL pointer compared with 0 only takes the "not equal" way
    accepts('jeq %r1, 0, bad\nmov %r0, 0\nexit\nbad:\nmov %r0, %r3\nexit');
  });

  it('refuses a pointer returned from the program: "R0 leaks addr as return value"', () => {
    rejects('mov %r0, %r1\nexit', memOpts(), 'R0 leaks addr as return value', 1);
  });

  it('checks the whole program in bounded work: "BPF program is too complex"', () => {
    rejects('mov %r0, 0\nadd %r0, 1\nadd %r0, 1\nexit', memOpts(64, { maxStates: 3 }), 'BPF program is too complex', 3);
  });
});

describe('verifier: stack', () => {
  it('refuses accesses outside the 512-byte frame: "invalid stack off=-520 size=8"', () => {
    rejects('stdw [%r10-520], 0\nmov %r0, 0\nexit', memOpts(), 'invalid stack off=-520 size=8', 0);
    rejects('ldxdw %r0, [%r10-4]\nexit', memOpts(), 'invalid stack off=-4 size=8', 0);
    rejects('ldxb %r0, [%r10]\nexit', memOpts(), 'invalid stack off=0 size=1', 0);
    accepts('stdw [%r10-512], 0\nldxdw %r0, [%r10-512]\nexit');
  });

  it('refuses misaligned stack accesses, as the kernel does for the stack on every architecture', () => {
    rejects('stdw [%r10-12], 0\nmov %r0, 0\nexit', memOpts(), 'misaligned stack access off -12 size 8', 0);
    rejects('mov %r2, %r10\nadd %r2, -3\nldxh %r0, [%r2]\nexit', memOpts(), 'misaligned stack access off -3 size 2', 2);
    // other memory may be misaligned (x86-64 has efficient unaligned access)
    accepts('ldxdw %r0, [%r1+3]\nexit');
  });

  it('refuses a variable offset into the stack', () => {
    rejects(
      'ldxb %r3, [%r1]\nmov %r2, %r10\nsub %r2, %r3\nldxb %r0, [%r2-1]\nexit',
      memOpts(),
      /^variable stack access var_off=\(-255; 0\) off=-1 size=1/,
      3,
    );
  });

  it('allows reading stack never written (as for root) and reports it', () => {
    const r = accepts('ldxdw %r0, [%r10-8]\nexit');
    expect(r.readsUninitStack).toBe(true);
    expect(r.subprograms[0]?.stackDepth).toBe(8);
    expect(accepts('stdw [%r10-8], 1\nldxdw %r0, [%r10-8]\nexit').readsUninitStack).toBe(false);
  });

  it("spill and fill keep a pointer's type and a scalar's value", () => {
    accepts('stxdw [%r10-8], %r1\nldxdw %r2, [%r10-8]\nldxb %r0, [%r2+63]\nexit', memOpts(64));
    accepts('stdw [%r10-16], 40\nldxdw %r3, [%r10-16]\nadd %r1, %r3\nldxdw %r0, [%r1+16]\nexit', memOpts(64));
    // a narrow read of a spilled constant gives its bytes
    accepts('stdw [%r10-8], 0x0200\nldxb %r3, [%r10-7]\nadd %r1, %r3\nldxb %r0, [%r1+61]\nexit', memOpts(64));
  });

  it('refuses a narrow read of a spilled pointer: "invalid size of register fill"', () => {
    rejects('stxdw [%r10-8], %r1\nldxw %r0, [%r10-8]\nexit', memOpts(), 'invalid size of register fill', 1);
  });

  it('refuses a narrow store of a pointer to the stack: "invalid size of register spill"', () => {
    rejects('stxw [%r10-8], %r1\nmov %r0, 0\nexit', memOpts(), 'invalid size of register spill', 0);
  });

  it('a partial overwrite destroys a spilled pointer', () => {
    rejects(
      'stxdw [%r10-8], %r1\nstb [%r10-8], 0\nldxdw %r2, [%r10-8]\nldxb %r0, [%r2]\nexit',
      memOpts(),
      "R2 invalid mem access 'scalar'",
      3,
    );
  });

  it('refuses storing a pointer outside the stack: "leaks addr"', () => {
    rejects('stxdw [%r1], %r10\nmov %r0, 0\nexit', memOpts(), 'R10 leaks addr into mem', 0);
  });

  it('atomics work on the stack and the buffer; they need a scalar operand', () => {
    accepts('stdw [%r10-8], 0\nmov %r2, 1\nlock fetch add [%r10-8], %r2\nlock add32 [%r1+4], %r2\nmov %r0, %r2\nexit');
    rejects('lock add [%r1], %r10\nmov %r0, 0\nexit', memOpts(), 'R10 leaks addr into mem', 0);
    rejects('stdw [%r10-8], 0\nmov %r0, %r1\nlock cmpxchg [%r10-8], %r2\nmov %r0, 0\nexit', memOpts(), 'R0 leaks addr into mem', 2);
  });
});
