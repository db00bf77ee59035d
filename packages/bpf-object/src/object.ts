/**
 * `BpfObject`: a clang-compiled BPF object the way libbpf's object API handles it — open
 * (parse), inspect and adjust its programs and maps, load (create the maps in native
 * memory, relocate, verify, JIT), use, close.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Insn, type JitProgram, type VerifiedProgram, VerifierError, helperName, jit, verify } from '@bpf-dispatcher/ebpf';
import { type BpfMap, type BpfRuntime, type MapTypeName, RuntimeError, mapTypeOf, runtimeOf } from '@bpf-dispatcher/runtime';
import type { TextArena } from '@bpf-dispatcher/text-poke';
import { isTextArena } from '@bpf-dispatcher/text-poke';
import { BpfObjectError } from './errors.js';
import { parseObject } from './parse.js';
import type { BtfLayout, ParsedMap, ParsedObject, ParsedProgram, ParsedVariable } from './parsed.js';

/** Options of {@link openObject}. */
export interface OpenObjectOptions {
  /** A name for messages (default: the file name, or `object`). */
  readonly name?: string;
}

/** Options of {@link BpfObject.load}. */
export interface LoadObjectOptions {
  /** The runtime whose helpers and maps the programs use (default: `runtimeOf(arena)`). */
  readonly runtime?: BpfRuntime;
}

/** How long each step of opening and loading took (milliseconds). */
export interface ObjectTimings {
  /** Parsing the ELF object (open). */
  readonly parseMs: number;
  /** Creating the maps (load). */
  readonly mapsMs: number;
  /** Verifying every program (load). */
  readonly verifyMs: number;
  /** JIT-compiling every program (load). */
  readonly jitMs: number;
}

/** The program types this loader runs, from the section name (libbpf's `SEC()` conventions). */
function programType(section: string): 'xdp' | undefined {
  return section === 'xdp' || section.startsWith('xdp/') || section === 'xdp.frags' || section.startsWith('xdp.frags/') ? 'xdp' : undefined;
}

const now = () => performance.now();

function describe(v: unknown): string {
  return typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? `${v.length} bytes` : typeof v === 'object' ? (v === null ? 'null' : 'an object') : String(v);
}

/**
 * A map of the object: its definition (adjustable until load, as libbpf's
 * `bpf_map__set_max_entries` / `bpf_map__set_initial_value`), and once loaded the map in
 * native memory.
 */
export class ObjectMap {
  #maxEntries: number;
  #valueSize: number;
  #initial: Uint8Array | undefined;
  #map: BpfMap | undefined;

  /** @internal */
  constructor(
    private readonly object: BpfObject,
    private readonly parsed: ParsedMap,
  ) {
    this.#maxEntries = parsed.maxEntries;
    this.#valueSize = parsed.valueSize;
    this.#initial = parsed.initialValue?.slice();
  }

  get name(): string {
    return this.parsed.name;
  }
  /** Where it was defined: `btf` (`.maps`), `legacy` (`maps`), `data` (`.data`, `.rodata`, `.bss`, ...). */
  get origin(): ParsedMap['origin'] {
    return this.parsed.origin;
  }
  get section(): string {
    return this.parsed.section;
  }
  /** The map type's name (`hash`, `array`, ...; `unknown(N)` for a type number this runtime does not know). */
  get type(): string {
    return this.parsed.type.name;
  }
  get keySize(): number {
    return this.parsed.keySize;
  }
  get valueSize(): number {
    return this.#valueSize;
  }
  get maxEntries(): number {
    return this.#maxEntries;
  }
  get flags(): number {
    return this.parsed.flags;
  }
  /** `.rodata*`: frozen at load, programs may only read it. */
  get readonly(): boolean {
    return this.parsed.readonly;
  }
  /** Global data: the section's variables. */
  get variables(): readonly ParsedVariable[] {
    return this.parsed.variables ?? [];
  }
  /** BTF layouts of key and value, when the object carries them. */
  get keyLayout(): BtfLayout | undefined {
    return this.parsed.keyLayout;
  }
  get valueLayout(): BtfLayout | undefined {
    return this.parsed.valueLayout;
  }

  private beforeLoad(what: string): void {
    if (this.object.state !== 'opened') throw new BpfObjectError('STATE', `${this.name}.${what}: only before the object is loaded (it is ${this.object.state})`, { section: this.section });
  }

  /**
   * Change the capacity before load (libbpf's `bpf_map__set_max_entries`).
   * @throws BpfObjectError STATE after load; EINVAL for a bad count or a global data map.
   */
  setMaxEntries(count: number): void {
    this.beforeLoad('setMaxEntries');
    if (this.origin === 'data') throw new BpfObjectError('EINVAL', `${this.name}.setMaxEntries: a global data map has exactly one entry`, { section: this.section });
    if (!Number.isInteger(count) || count < 1 || count > 0xffff_ffff) throw new BpfObjectError('EINVAL', `${this.name}.setMaxEntries: expected an integer in 1..2^32-1, got ${describe(count)}`);
    this.#maxEntries = count;
  }

  /**
   * Change the value size before load (libbpf's `bpf_map__set_value_size`; not for global data).
   * @throws BpfObjectError STATE after load; EINVAL for a bad size or a global data map.
   */
  setValueSize(size: number): void {
    this.beforeLoad('setValueSize');
    if (this.origin === 'data') throw new BpfObjectError('EINVAL', `${this.name}.setValueSize: the size of global data is its section's`, { section: this.section });
    if (!Number.isInteger(size) || size < 1 || size > 1 << 16) throw new BpfObjectError('EINVAL', `${this.name}.setValueSize: expected an integer in 1..65536, got ${describe(size)}`);
    this.#valueSize = size;
  }

  /** Global data: a copy of the value the map will start with. @throws BpfObjectError EINVAL for other maps. */
  initialValue(): Uint8Array {
    if (this.#initial === undefined) throw new BpfObjectError('EINVAL', `${this.name}: only global data maps have an initial value`, { section: this.section });
    return this.#initial.slice();
  }

  /**
   * Global data: set a variable's initial value before load (how a program's
   * `const volatile` configuration in `.rodata` is set, as with a libbpf skeleton's
   * `rodata->name = value`). Numbers and bigints are written little-endian in the
   * variable's size; bytes must have exactly its size.
   * @throws BpfObjectError STATE after load; ENOENT for an unknown variable; EINVAL for a
   *   value that does not fit.
   */
  setVariable(name: string, value: number | bigint | Uint8Array): void {
    this.beforeLoad('setVariable');
    const v = this.variable(name);
    const bytes = this.#initial as Uint8Array;
    const view = new DataView(bytes.buffer, bytes.byteOffset + v.offset, v.size);
    if (value instanceof Uint8Array) {
      if (value.length !== v.size) throw new BpfObjectError('EINVAL', `${this.name}.setVariable(${name}): expected ${v.size} bytes, got ${value.length}`);
      bytes.set(value, v.offset);
      return;
    }
    const n = typeof value === 'number' && Number.isInteger(value) ? BigInt(value) : value;
    if (typeof n !== 'bigint' || ![1, 2, 4, 8].includes(v.size)) throw new BpfObjectError('EINVAL', `${this.name}.setVariable(${name}): a ${v.size}-byte variable takes ${v.size} bytes${[1, 2, 4, 8].includes(v.size) ? ' or an integer' : ''}, got ${describe(value)}`);
    const bits = BigInt(v.size * 8);
    if (n < -(1n << (bits - 1n)) || n >= 1n << bits) throw new BpfObjectError('EINVAL', `${this.name}.setVariable(${name}): ${n} does not fit ${v.size} bytes`);
    const u = BigInt.asUintN(v.size * 8, n);
    for (let i = 0; i < v.size; i++) view.setUint8(i, Number((u >> BigInt(8 * i)) & 0xffn));
  }

  /**
   * Global data: a variable's current bytes — the initial value before load, the live value
   * after (a copy).
   * @throws BpfObjectError ENOENT for an unknown variable; EINVAL for another kind of map;
   *   STATE after close.
   */
  getVariable(name: string): Uint8Array {
    if (this.object.state === 'closed') throw new BpfObjectError('STATE', `${this.name}.getVariable: the object is closed`, { section: this.section });
    const v = this.variable(name);
    if (this.#map !== undefined) return (this.#map.lookup(0) as Uint8Array).slice(v.offset, v.offset + v.size);
    return (this.#initial as Uint8Array).slice(v.offset, v.offset + v.size);
  }

  private variable(name: string): ParsedVariable {
    if (this.#initial === undefined) throw new BpfObjectError('EINVAL', `${this.name}: only global data maps have variables`, { section: this.section });
    const v = this.variables.find((x) => x.name === name);
    if (v === undefined) throw new BpfObjectError('ENOENT', `${this.name} has no variable ${describe(name)} (it has ${this.variables.map((x) => x.name).join(', ') || 'none'})`, { section: this.section, symbol: String(name) });
    return v;
  }

  /**
   * The map in native memory, once the object is loaded: lookups, updates, iteration and
   * typed views from TypeScript while programs run.
   * @throws BpfObjectError STATE before load or after close.
   */
  get map(): BpfMap {
    if (this.#map === undefined || this.object.state !== 'loaded') throw new BpfObjectError('STATE', `${this.name}: the map exists once the object is loaded (it is ${this.object.state})`, { section: this.section });
    return this.#map;
  }

  /** @internal The definition as it will be created. */
  definition(): { type: MapTypeName | undefined; keySize: number; valueSize: number; maxEntries: number; flags: number; initial: Uint8Array | undefined } {
    return { type: mapTypeOf(this.parsed.type.id), keySize: this.keySize, valueSize: this.#valueSize, maxEntries: this.#maxEntries, flags: this.flags, initial: this.#initial?.slice() };
  }

  /** @internal Set while loading; undefined if the load failed. */
  attach(map: BpfMap | undefined): void {
    this.#map = map;
  }

  /** @internal The native map while loading (before the object's state says so). */
  created(): BpfMap {
    if (this.#map === undefined) throw new BpfObjectError('STATE', `${this.name}: not created`, { section: this.section });
    return this.#map;
  }

  /** @internal The object closes: drop its reference to the native map (resolves once freed, if it was the last). */
  close(): Promise<void> {
    const map = this.#map;
    this.#map = undefined;
    return map === undefined ? Promise.resolve() : map.dispose();
  }
}

/** A program of the object: its instructions, and once loaded its JIT'd code. */
export class ObjectProgram {
  #jit: JitProgram | undefined;
  #verified: VerifiedProgram | undefined;
  #holds = 0;
  #orphaned = false;
  #autoload = true;
  #release: (() => Promise<void>) | undefined;

  /** @internal */
  constructor(
    private readonly object: BpfObject,
    private readonly parsed: ParsedProgram,
  ) {}

  get name(): string {
    return this.parsed.name;
  }
  get section(): string {
    return this.parsed.section;
  }
  /** The program type its section names (`xdp`), or undefined when this loader does not run it. */
  get type(): 'xdp' | undefined {
    return programType(this.parsed.section);
  }
  /** Whether {@link BpfObject.load} verifies and JITs this program (libbpf's `bpf_program__autoload`); default true. */
  get autoload(): boolean {
    return this.#autoload;
  }

  /**
   * Load this program with the object or not (libbpf's `bpf_program__set_autoload`): an
   * object with several programs can load just the one it needs.
   * @throws BpfObjectError STATE after load; EINVAL for a non-boolean.
   */
  setAutoload(autoload: boolean): void {
    if (this.object.state !== 'opened') throw new BpfObjectError('STATE', `${this.name}.setAutoload: only before the object is loaded`, { section: this.section, symbol: this.name });
    if (typeof autoload !== 'boolean') throw new BpfObjectError('EINVAL', `${this.name}.setAutoload: expected a boolean, got ${describe(autoload)}`);
    this.#autoload = autoload;
  }

  /** The instructions as parsed (subprograms appended; map references carry map indexes). */
  get insns(): readonly Insn[] {
    return this.parsed.insns;
  }

  /**
   * The JIT'd program, once the object is loaded: `bpfFunc` is what a dispatcher or an
   * xdp_call runs (context in rdi, verdict in rax).
   * @throws BpfObjectError STATE before load or after close.
   */
  get jit(): JitProgram {
    if (this.#jit === undefined || this.#jit.freed || this.object.state === 'closed') {
      const why = this.object.state === 'loaded' && !this.#autoload ? 'it was not loaded (autoload is off)' : `the program is JIT'd once the object is loaded (it is ${this.object.state})`;
      throw new BpfObjectError('STATE', `${this.name}: ${why}`, { section: this.section, symbol: this.name });
    }
    return this.#jit;
  }

  /** What the verifier proved (stack depth, helpers, maps, context loads), once loaded. @throws BpfObjectError STATE before load. */
  get verified(): VerifiedProgram {
    if (this.#verified === undefined) throw new BpfObjectError('STATE', `${this.name}: verified at load`, { section: this.section, symbol: this.name });
    return this.#verified;
  }

  /**
   * Keep the JIT'd code alive while something outside the object runs it (an xdp_call, a
   * driver's rings): {@link BpfObject.close} then leaves it allocated until every hold is
   * released. Returns the release function (idempotent; after the last release of a
   * closed object the code is freed after a grace period, and the promise it returns
   * resolves once that is done).
   * @throws BpfObjectError STATE unless loaded.
   */
  hold(): () => Promise<void> {
    const code = this.jit;
    this.#holds++;
    let released = false;
    return () => {
      if (released) return Promise.resolve();
      released = true;
      this.#holds--;
      return this.#holds === 0 && this.#orphaned ? this.free(code) : Promise.resolve();
    };
  }

  /** @internal */
  loaded(code: JitProgram, verified: VerifiedProgram, release: () => Promise<void>): void {
    this.#jit = code;
    this.#verified = verified;
    this.#release = release;
  }

  /** @internal The object is closing: free the code now (resolves once freed), or once the last hold goes. */
  close(): Promise<void> {
    const code = this.#jit;
    if (code === undefined) return Promise.resolve();
    if (this.#holds > 0) {
      this.#orphaned = true;
      return Promise.resolve();
    }
    return this.free(code);
  }

  private free(code: JitProgram): Promise<void> {
    const release = this.#release;
    this.#release = undefined;
    const arena = code.arena;
    if (arena.disposed) return Promise.resolve();
    // a reader thread may still be inside the code: free it after a grace period
    return arena.synchronize().then(
      async () => {
        code.free();
        await release?.();
      },
      () => {
        // a stalled reader: keep the code rather than free it under someone's feet
      },
    );
  }
}

/** Verifier map descriptors and JIT map info for the maps a program refers to. */
function relocate(program: ParsedProgram, maps: readonly ObjectMap[]): { insns: Insn[]; used: Set<ObjectMap> } {
  const insns = program.insns.map((i) => ({ ...i }));
  const used = new Set<ObjectMap>();
  for (const ref of program.mapReferences) {
    const map = maps[ref.map];
    const insn = insns[ref.insnIndex];
    if (map === undefined || insn === undefined) throw new BpfObjectError('MALFORMED', `program ${program.name}: map reference ${ref.map} at insn ${ref.insnIndex} is out of range`, { section: program.section, symbol: program.name });
    insn.imm = map.created().fd;
    used.add(map);
  }
  return { insns, used };
}

/**
 * A BPF object: programs and maps from a clang-compiled ELF file. `open` → adjust
 * (`maps`, `setVariable`, `setMaxEntries`) → `load` → use (`program(name).jit`,
 * `map(name).map`) → `close`.
 */
export class BpfObject {
  readonly name: string;
  readonly #parsed: ParsedObject;
  readonly programs: readonly ObjectProgram[];
  readonly maps: readonly ObjectMap[];
  #state: 'opened' | 'loaded' | 'closed' = 'opened';
  #timings: ObjectTimings;

  /** @internal use {@link openObject}. */
  constructor(parsed: ParsedObject, name: string, parseMs: number) {
    this.name = name;
    this.#parsed = parsed;
    this.programs = Object.freeze(parsed.programs.map((p) => new ObjectProgram(this, p)));
    this.maps = Object.freeze(parsed.maps.map((m) => new ObjectMap(this, m)));
    this.#timings = { parseMs, mapsMs: 0, verifyMs: 0, jitMs: 0 };
  }

  /** `opened` (adjustable), `loaded` (maps exist, programs JIT'd) or `closed`. */
  get state(): 'opened' | 'loaded' | 'closed' {
    return this.#state;
  }

  /** The `license` section's string. */
  get license(): string | undefined {
    return this.#parsed.license;
  }

  /** How long opening and loading took. */
  get timings(): ObjectTimings {
    return this.#timings;
  }

  /** The parsed object (instructions with map indexes, definitions), as a kernel loader needs it. */
  get parsed(): ParsedObject {
    return this.#parsed;
  }

  /** The program named `name` (libbpf's `bpf_object__find_program_by_name`). @throws BpfObjectError ENOENT. */
  program(name: string): ObjectProgram {
    const p = this.programs.find((x) => x.name === name);
    if (p === undefined) throw new BpfObjectError('ENOENT', `${this.name} has no program ${describe(name)} (it has ${this.programs.map((x) => x.name).join(', ') || 'none'})`);
    return p;
  }

  /** The map named `name` (libbpf's `bpf_object__find_map_by_name`; global data by section name, e.g. `.rodata`). @throws BpfObjectError ENOENT. */
  map(name: string): ObjectMap {
    const m = this.maps.find((x) => x.name === name);
    if (m === undefined) throw new BpfObjectError('ENOENT', `${this.name} has no map ${describe(name)} (it has ${this.maps.map((x) => x.name).join(', ') || 'none'})`);
    return m;
  }

  /**
   * Load the object into `arena` (libbpf's `bpf_object__load`): create every map in native
   * memory (global data with its initial value; `.rodata` frozen), point each program's map
   * references at them, verify each program for its type and JIT it against the runtime's
   * helpers, maps and XDP context. On failure nothing stays created.
   * @throws BpfObjectError STATE unless opened; EINVAL for a bad arena; UNSUPPORTED for a map
   *   type, program type or helper the runtime does not provide (naming it and its
   *   section); VERIFY when the verifier refuses a program (`cause`: the VerifierError);
   *   RuntimeError / TextPokeError when the arena is full.
   */
  load(arena: TextArena, options: LoadObjectOptions = {}): this {
    if (this.#state !== 'opened') throw new BpfObjectError('STATE', `${this.name}.load: the object is ${this.#state}`);
    if (!isTextArena(arena)) throw new BpfObjectError('EINVAL', `${this.name}.load: expected a TextArena, got ${describe(arena)}`);
    if (typeof options !== 'object' || options === null) throw new BpfObjectError('EINVAL', `${this.name}.load: options must be an object`);
    const runtime = options.runtime ?? runtimeOf(arena);
    if (runtime.arena !== arena) throw new BpfObjectError('EINVAL', `${this.name}.load: the runtime belongs to another arena`);
    const toLoad = this.programs.filter((p) => p.autoload);
    for (const p of toLoad) {
      if (p.type === undefined) throw new BpfObjectError('UNSUPPORTED', `${this.name}: program ${p.name} in section ${p.section}: this runtime runs XDP programs only (sections xdp, xdp/...)`, { section: p.section, symbol: p.name });
      for (const insn of p.insns) {
        if (insn.code === 0x85 && insn.src === 0 && !runtime.helpers.has(insn.imm)) {
          throw new BpfObjectError('UNSUPPORTED', `${this.name}: program ${p.name} in section ${p.section} calls helper ${helperName(insn.imm)}#${insn.imm}, which this runtime does not provide`, { section: p.section, symbol: p.name });
        }
      }
    }
    const created: BpfMap[] = [];
    const loaded: JitProgram[] = [];
    const compiled: { p: ObjectProgram; code: JitProgram; verified: VerifiedProgram; maps: BpfMap[] }[] = [];
    try {
      let t = now();
      for (const m of this.maps) {
        const d = m.definition();
        if (d.type === undefined) throw new BpfObjectError('UNSUPPORTED', `${this.name}: map ${m.name} in section ${m.section} has type ${m.type}, which this runtime does not provide (hash, array, percpu_hash, percpu_array)`, { section: m.section, symbol: m.name });
        let map: BpfMap;
        try {
          map = runtime.createMap({ type: d.type, keySize: d.keySize, valueSize: d.valueSize, maxEntries: d.maxEntries, flags: d.flags, name: m.name });
        } catch (error) {
          if (RuntimeError.isInstance(error) && (error.code === 'EINVAL' || error.code === 'UNSUPPORTED')) {
            throw new BpfObjectError(error.code, `${this.name}: map ${m.name} in section ${m.section}: ${error.message}`, { section: m.section, symbol: m.name }, { cause: error });
          }
          throw error;
        }
        created.push(map);
        if (d.initial !== undefined) map.update(0, d.initial);
        if (m.readonly) map.freeze();
        m.attach(map);
      }
      const mapsMs = now() - t;
      let verifyMs = 0;
      let jitMs = 0;
      for (const p of toLoad) {
        const parsed = this.#parsed.programs.find((x) => x.name === p.name && x.section === p.section) as ParsedProgram;
        const { insns, used } = relocate(parsed, this.maps);
        const maps = [...used].map((m) => m.created());
        t = now();
        let verified: VerifiedProgram;
        try {
          verified = verify(insns, { progType: 'xdp', ...runtime.verifyOptions(maps) });
        } catch (error) {
          if (VerifierError.isInstance(error) && error.code === 'VERIFY') {
            throw new BpfObjectError('VERIFY', `${this.name}: program ${p.name} in section ${p.section} refused by the verifier: ${error.message}`, { section: p.section, symbol: p.name }, { cause: error });
          }
          throw error;
        }
        verifyMs += now() - t;
        t = now();
        const code = jit(arena, verified, runtime.jitOptions(maps));
        jitMs += now() - t;
        loaded.push(code);
        compiled.push({ p, code, verified, maps });
      }
      // Every program is in: only now do they hold their maps (a failure above leaves no hold behind).
      for (const { p, code, verified, maps } of compiled) {
        const holds = maps.map((m) => m.hold());
        p.loaded(code, verified, async () => {
          await Promise.all(holds.map((release) => release()));
        });
      }
      this.#timings = { ...this.#timings, mapsMs, verifyMs, jitMs };
    } catch (error) {
      for (const code of loaded) code.free();
      for (const map of created) void map.dispose();
      for (const m of this.maps) m.attach(undefined);
      throw error;
    }
    this.#state = 'loaded';
    return this;
  }

  /**
   * Close the object (libbpf's `bpf_object__close`): each program's code is freed after a
   * grace period once nothing holds it ({@link ObjectProgram.hold}), and the maps are
   * disposed (freed once no program uses them). The object is unusable at once; the
   * promise resolves once the memory nothing else holds is freed. Idempotent.
   */
  close(): Promise<void> {
    if (this.#state === 'closed') return this.#closing;
    const wasLoaded = this.#state === 'loaded';
    this.#state = 'closed';
    if (!wasLoaded) return this.#closing;
    this.#closing = (async () => {
      await Promise.all(this.programs.map((p) => p.close()));
      await Promise.all(this.maps.map((m) => m.close()));
    })();
    return this.#closing;
  }

  #closing: Promise<void> = Promise.resolve();

  /** `await using obj = openObject(...)`: closes the object. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Open a BPF object from its bytes (libbpf's `bpf_object__open_mem`): parse it; nothing is
 * created until {@link BpfObject.load}.
 * @throws BpfObjectError NOT_ELF, NOT_BPF, MALFORMED, UNSUPPORTED (see `parseObject`), EINVAL.
 */
export function openObject(bytes: Uint8Array, options: OpenObjectOptions = {}): BpfObject {
  if (typeof options !== 'object' || options === null) throw new BpfObjectError('EINVAL', 'openObject: options must be an object');
  const name = options.name ?? 'object';
  if (typeof name !== 'string') throw new BpfObjectError('EINVAL', 'openObject: options.name must be a string');
  const t = now();
  const parsed = parseObject(bytes, { name });
  return new BpfObject(parsed, name, now() - t);
}

/**
 * Open a BPF object file (libbpf's `bpf_object__open_file`).
 * @throws BpfObjectError EINVAL if the file cannot be read; as {@link openObject}.
 */
export function openObjectFile(path: string | URL, options: OpenObjectOptions = {}): BpfObject {
  let bytes: Uint8Array;
  const display = path instanceof URL ? fileURLToPath(path) : String(path);
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new BpfObjectError('EINVAL', `openObjectFile: cannot read ${display}: ${(error as Error).message}`, {}, { cause: error });
  }
  return openObject(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), { name: options.name ?? display.split('/').pop() ?? display });
}
