/** Folders searched for `*.bpf.c`, relative to the workspace root (`*` is one package). */
export declare const BPF_SOURCE_DIRS: readonly string[];
/** The include directory every program compiles against (`packages/bpf-object/include`). */
export declare const BPF_INCLUDE_DIR: string;
/** The manifest's file name (`objects.json`), one per folder of sources. */
export declare const MANIFEST_NAME: string;
/** Flags given to clang besides the prefix map, `-c SRC`, `-o OBJ` and dependency output. */
export declare const BPF_CFLAGS: readonly string[];
/** What to tell a user without clang: `install clang (Debian: apt-get install clang)`. */
export declare const INSTALL_CLANG_HINT: string;

/** Errors of the BPF build. */
export declare class BpfBuildError extends Error {
  readonly code: 'ENOCLANG' | 'ECOMPILE' | 'EINVAL';
  constructor(code: 'ENOCLANG' | 'ECOMPILE' | 'EINVAL', message: string);
  /** True for a BpfBuildError from any copy of the module (a `Symbol.for` marker). */
  static isInstance(value: unknown): value is BpfBuildError;
}

/** Options shared by the functions below. */
export interface BpfBuildOptions {
  /** The compiler (default: `$BPF_DISPATCHER_CLANG`, else `clang`). */
  readonly clang?: string;
  /** Folders to search instead of {@link BPF_SOURCE_DIRS} (same pattern syntax). */
  readonly dirs?: readonly string[];
}

/** One manifest entry (`objects.json` → `objects[name]`). */
export interface BpfManifestEntry {
  readonly source: string;
  readonly sourceSha256: string;
  /** Workspace-relative header path → sha256, every header clang read. */
  readonly headers: Readonly<Record<string, string>>;
  /** First line of `clang --version`. */
  readonly clang: string;
  /** {@link BPF_CFLAGS} joined by spaces. */
  readonly flags: string;
  readonly objectSha256: string;
}

/** A stale or missing object, as {@link checkBpfObjects} reports it. */
export interface BpfStaleness {
  readonly kind:
    | 'manifest-missing'
    | 'entry-missing'
    | 'orphan-entry'
    | 'source-changed'
    | 'header-changed'
    | 'header-missing'
    | 'flags-changed'
    | 'object-missing'
    | 'object-changed'
    | 'rebuild-differs';
  /** Workspace-relative path of the file concerned. */
  readonly path: string;
  readonly detail: string;
}

/** What {@link checkBpfObjects} found. */
export interface BpfCheckResult {
  /** True when there are no problems. */
  readonly ok: boolean;
  /** The sources checked, workspace-relative. */
  readonly sources: readonly string[];
  readonly problems: readonly BpfStaleness[];
  readonly rebuild: {
    /** The installed clang's version, when a rebuild was wanted and clang runs. */
    readonly clang: string | undefined;
    /** Objects rebuilt into a temporary folder and compared byte for byte. */
    readonly rebuilt: readonly string[];
    /** Why an object was not rebuilt (no clang, or another clang version than recorded). */
    readonly skipped: readonly string[];
  };
}

/** The first line of `clang --version`, or undefined when that clang cannot be run. */
export declare function clangVersion(clang?: string): string | undefined;

/** Every `*.bpf.c` under the source folders, recursively, as sorted workspace-relative POSIX paths. */
export declare function findBpfSources(root: string, options?: BpfBuildOptions): string[];

/** `x.bpf.c` → `x.bpf.o`. */
export declare function objectPathOf(source: string): string;

/**
 * Compile one source from the workspace root: `clang -O2 -g -target bpf -I
 * packages/bpf-object/include -ffile-prefix-map=<root>=. -c SRC -o OUT` (paths relative,
 * so the bytes do not depend on where the checkout lives).
 * @returns the headers clang read, workspace-relative
 * @throws BpfBuildError ENOCLANG without clang, ECOMPILE when clang fails
 */
export declare function compileBpf(root: string, source: string, out: string, options?: BpfBuildOptions): { headers: string[] };

/**
 * Compile every source into the object beside it and write each folder's `objects.json`.
 * @throws BpfBuildError ENOCLANG (`install clang (Debian: apt-get install clang)`), ECOMPILE
 */
export declare function buildBpfObjects(
  root: string,
  options?: BpfBuildOptions & { readonly log?: (line: string) => void },
): { clang: string; objects: { source: string; object: string; changed: boolean }[] };

/**
 * Check the committed objects against their sources by content hashes (never modification
 * times), and rebuild byte for byte when the installed clang has the recorded version and
 * `rebuild` is not false. Needs no clang for the hash checks.
 */
export declare function checkBpfObjects(root: string, options?: BpfBuildOptions & { readonly rebuild?: boolean }): BpfCheckResult;

/** The nearest folder at or above `from` holding pnpm-workspace.yaml. @throws BpfBuildError EINVAL */
export declare function findWorkspaceRoot(from: string): string;
