/**
 * Transpile `src` (a package's src folder), run `probe` (an ES module beside the
 * transpiled `index.js`) with plain Node, and return the JSON it printed on its last line.
 */
export declare function probeFreshImport(src: string, probe: string, options?: { timeoutMs?: number }): unknown;
/** Source of a probe helper: `loaded(name)` is true once a module of package `name` was required. */
export declare const LOADED_HELPER: string;
