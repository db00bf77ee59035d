/** One kind of fault the soak injects, and the typed error code it must raise. */
export interface FaultKind {
  readonly fault: string;
  readonly code: string;
}

/** Every kind of fault the soak injects, in the order of a fault round. */
export const FAULT_KINDS: readonly FaultKind[] = Object.freeze([
  { fault: 'poke site holds foreign bytes', code: 'POKE_FAILED' },
  { fault: 'program address not simm32', code: 'NOT_SIMM32' },
  { fault: 'max larger than a half holds', code: 'EINVAL' },
  { fault: 'synchronize() times out on a stuck reader', code: 'SYNC_TIMEOUT' },
  { fault: 'arena allocation failure', code: 'ENOMEM' },
]);

/** Updates between two fault rounds in a long run. */
export const UPDATES_PER_FAULT_ROUND = 20_000;
/** The first round comes after this many updates (or half the run, if shorter). */
export const FIRST_FAULT_ROUND = 500;

/**
 * The update counts after which a fault round (every kind of {@link FAULT_KINDS} once) is
 * injected, for a run limited to `updates` updates. Independent of machine speed: the
 * first round comes early (after 500 updates, or half of a shorter run), and the soak
 * does not stop on its time limit before that round is done; further rounds are spread
 * evenly over the requested updates, one per 20,000. Every point is at most `updates`.
 * Never throws: a count below 1 is treated as 1.
 */
export function faultSchedule(updates: number): number[] {
  const total = Math.max(1, Math.floor(updates));
  const rounds = Math.max(1, Math.floor(total / UPDATES_PER_FAULT_ROUND));
  const first = Math.min(FIRST_FAULT_ROUND, Math.ceil(total / 2));
  return Array.from({ length: rounds }, (_, i) => first + Math.floor((i * total) / rounds));
}
