#!/usr/bin/env node
// Gather every benchmark's JSON (packages/*/bench/results, apps/*/bench/results) into
// bench/results.json.
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const results = {};
for (const group of ['packages', 'apps']) {
  for (const name of readdirSync(join(root, group))) {
    const dir = join(root, group, name, 'bench', 'results');
    if (!existsSync(dir)) continue;
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
      results[relative(root, join(dir, file))] = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    }
  }
}
mkdirSync(join(root, 'bench'), { recursive: true });
writeFileSync(join(root, 'bench', 'results.json'), `${JSON.stringify({ date: new Date().toISOString(), results }, null, 2)}\n`);
console.log(`bench/results.json: ${Object.keys(results).length} result files`);
