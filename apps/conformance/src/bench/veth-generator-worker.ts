/**
 * The veth benchmark's generator thread: it joins the test namespace (`setns` is per
 * thread), pins itself to its CPU and runs the kernel's live-frame generator
 * (`BPF_PROG_TEST_RUN` of an XDP_TX program on `peer0`): every frame leaves `peer0` and
 * arrives at `xsk0`, whose NAPI (XDP, the redirect into the socket) runs in softirq on this
 * same CPU, inside the system call. Bounded by frame counts only. Progress goes to the
 * shared block; details come back as messages (see veth-protocol.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BPF_ATTACH_TYPE, type KernelProg, kernelProgLoad } from '@bpf-dispatcher/ebpf';
import { joinTestNetns, loadXdpTx, sendLiveFrames } from '@bpf-dispatcher/i40e/testbed';
import { pinToCpu } from './pin.js';
import { threadCpuTicks, threadSchedNs } from './veth-cpu.js';
import {
  CTRL,
  type GeneratorCommand,
  type GeneratorProgram,
  type GeneratorReply,
  type GeneratorWorkerData,
  STAMP,
  STAMP_OFFSET,
  STATE,
} from './veth-protocol.js';

const data = workerData as GeneratorWorkerData;
const ctrl = new Int32Array(data.shared, 0, 8);
const stamp = new BigInt64Array(data.shared, STAMP_OFFSET, 4);
const port = parentPort;
const reply = (message: GeneratorReply) => port?.postMessage(message);

let leave: (() => void) | undefined;
let prog: KernelProg | undefined;
let drop: KernelProg | undefined;

function send(repeat: number, batchSize: number, program: GeneratorProgram = 'tx'): number {
  return sendLiveFrames((program === 'tx' ? prog : drop) as KernelProg, { ifindex: data.ifindex, frame: data.frame, repeat, batchSize });
}

function run(command: GeneratorCommand): GeneratorReply {
  if (command.op === 'send') {
    const kernelNs: number[] = [];
    const cpu0 = threadCpuTicks();
    const sched0 = threadSchedNs();
    Atomics.store(stamp, STAMP.sent, 0n);
    Atomics.store(ctrl, CTRL.state, STATE.sending);
    Atomics.store(stamp, STAMP.start, process.hrtime.bigint());
    let frames = 0;
    for (let i = 0; i < command.calls; i++) {
      kernelNs.push(send(command.repeat, command.batchSize, command.program));
      frames += command.repeat;
      Atomics.store(stamp, STAMP.sent, BigInt(frames));
    }
    Atomics.store(stamp, STAMP.end, process.hrtime.bigint());
    const cpu1 = threadCpuTicks();
    const sched1 = threadSchedNs();
    return {
      op: 'sent',
      id: command.id,
      frames,
      kernelNs,
      cpuTicks: { user: cpu1.user - cpu0.user, system: cpu1.system - cpu0.system },
      schedNs: { run: sched1.run - sched0.run, wait: sched1.wait - sched0.wait },
    };
  }
  if (command.op === 'bursts') {
    Atomics.store(ctrl, CTRL.ready, 0);
    for (let i = 0; i < command.count; i++) {
      send(command.repeat, command.batchSize);
      Atomics.store(ctrl, CTRL.ready, i + 1);
      Atomics.notify(ctrl, CTRL.ready);
      // the main thread consumes the burst before the next one is sent (it acknowledges every burst, also on failure)
      while (Atomics.load(ctrl, CTRL.ack) <= i) Atomics.wait(ctrl, CTRL.ack, i, 1_000);
    }
    return { op: 'bursts', id: command.id, frames: command.count * command.repeat };
  }
  if (command.op === 'pingpong') {
    // answer every ball the main thread throws; it waits (bounded) for each answer
    for (let i = 0; i < command.count; i++) {
      while (Atomics.load(ctrl, CTRL.ball) !== 2 * i + 1) {}
      Atomics.store(ctrl, CTRL.ball, 2 * i + 2);
    }
    return { op: 'pingpong', id: command.id };
  }
  prog?.close();
  drop?.close();
  prog = undefined;
  drop = undefined;
  leave?.();
  leave = undefined;
  return { op: 'stopped', id: command.id };
}

try {
  leave = joinTestNetns(data.netns);
  const cpu = data.cpu === null ? null : pinToCpu(data.cpu);
  prog = loadXdpTx();
  drop = kernelProgLoad(
    [
      { code: 0xb7, dst: 0, src: 0, off: 0, imm: 1 },
      { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 },
    ],
    { progType: 'xdp', name: 'live_drop', expectedAttachType: BPF_ATTACH_TYPE.xdp },
  );
  // one frame first: a kernel without live-frame mode (before 5.18) refuses here, before any case
  send(1, 0);
  reply({ op: 'ready', id: 0, cpu });
} catch (error) {
  reply({ op: 'error', id: 0, message: (error as Error).message });
}

port?.on('message', (command: GeneratorCommand) => {
  let answer: GeneratorReply;
  try {
    answer = run(command);
  } catch (error) {
    Atomics.store(ctrl, CTRL.error, 1);
    answer = { op: 'error', id: command.id, message: (error as Error).message };
  }
  if (command.op === 'send') Atomics.store(ctrl, CTRL.state, STATE.done);
  Atomics.notify(ctrl, CTRL.state);
  reply(answer);
  if (command.op === 'stop') port?.close();
});
