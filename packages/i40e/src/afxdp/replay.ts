/**
 * Running a ring's program over a list of frames (a capture file's) through a
 * {@link CaptureNic}: post a ring's worth, let the native poll loop process them, collect
 * what was passed (the stack queue) and transmitted (the tx ring), complete the
 * transmissions, and go on. Each frame is processed exactly once, in order; the outputs
 * carry the index of the frame they came from.
 */
import { I40eError } from '../errors.js';
import type { RxRing } from '../ring.js';
import type { CaptureNic } from './capture-nic.js';

/** A frame the program passed or transmitted, and which input frame it was. */
export interface ReplayedFrame {
  /** Index of the input frame. */
  readonly index: number;
  /** The bytes as the program left them (head and tail adjustments included). */
  readonly frame: Uint8Array;
}

/** What {@link replayFrames} produced. */
export interface ReplayOutput {
  /** Frames the program ran on. */
  readonly processed: number;
  /** PASS verdicts, in input order. */
  readonly pass: readonly ReplayedFrame[];
  /** TX verdicts, in input order. */
  readonly tx: readonly ReplayedFrame[];
  /** Indexes of frames too long for a UMEM chunk (never posted; the kernel would drop them too). */
  readonly skipped: readonly number[];
}

/**
 * @internal Run `ring`'s program over `frames` through `nic`. `run(count)` runs the native
 * driver loop over the ring until `count` packets are processed and returns how many
 * were; `run(0)` polls once with nothing posted, which only reaps the completion ring.
 * @throws I40eError EINVAL if the poll loop stops short (a frame accounting error: never expected).
 */
export function replayFrames(ring: RxRing, nic: CaptureNic, frames: readonly Uint8Array[], run: (count: number) => number): ReplayOutput {
  const pass: ReplayedFrame[] = [];
  const tx: ReplayedFrame[] = [];
  const skipped: number[] = [];
  let processed = 0;
  let next = 0;
  const indexOf = new Map<bigint, number>();
  while (next < frames.length) {
    // the frames that fit, up to what the rings take now
    const batch: Uint8Array[] = [];
    const indexes: number[] = [];
    while (next < frames.length && batch.length < nic.umem.frames) {
      const frame = frames[next] as Uint8Array;
      if (frame.length > nic.maxFrame) skipped.push(next);
      else {
        batch.push(frame);
        indexes.push(next);
      }
      next++;
    }
    let posted = 0;
    let stalled = false;
    while (posted < batch.length) {
      const { count, frameOffsets } = nic.receive(batch.slice(posted));
      if (count === 0) {
        // every chunk waits in the completion ring (transmitted): a poll reaps them
        if (stalled) throw new I40eError('EINVAL', 'replay: no UMEM chunk came back to the fill ring');
        run(0);
        stalled = true;
        continue;
      }
      stalled = false;
      indexOf.clear();
      frameOffsets.forEach((offset, k) => {
        indexOf.set(offset, indexes[posted + k] as number);
      });
      const done = run(count);
      if (done !== count) throw new I40eError('EINVAL', `replay: the poll loop processed ${done} of ${count} posted frames`);
      processed += done;
      for (const entry of ring.drainStack()) pass.push({ index: lookup(indexOf, entry.umemOffset), frame: entry.frame });
      for (const sent of nic.transmit()) tx.push({ index: lookup(indexOf, sent.frameOffset), frame: sent.frame });
      posted += count;
    }
  }
  run(0); // reap the last completions: every chunk is back in the fill ring
  return { processed, pass, tx, skipped };
}

function lookup(indexOf: Map<bigint, number>, offset: bigint | undefined): number {
  const index = offset === undefined ? undefined : indexOf.get(offset);
  if (index === undefined)
    throw new I40eError('EINVAL', `replay: an output frame came from UMEM offset ${String(offset)}, which no posted frame used`);
  return index;
}
