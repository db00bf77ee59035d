/**
 * The parser's resource limits: what it refuses rather than allocate or compute without
 * bound on hostile input.
 */

/** Largest object file accepted, in bytes (64 MiB); larger inputs are refused with `EINVAL`. */
export const MAX_OBJECT_SIZE = 64 * 1024 * 1024;

/** Largest global data section (64 MiB): only `NOBITS` sections can claim more than the file holds. */
export const ELF_SECTION_LIMIT = MAX_OBJECT_SIZE;

/**
 * Most instructions in one program after its subprograms are appended: the kernel's
 * `BPF_COMPLEXITY_LIMIT_INSNS` (1,000,000), beyond which `BPF_PROG_LOAD` fails with E2BIG.
 */
export const MAX_PROGRAM_INSNS = 1_000_000;

/** Most instructions across all programs of an object after linking (bounds memory when many programs share large subprograms). */
export const MAX_TOTAL_INSNS = 4_000_000;
