/** The docs must stay true: every variable config.ts reads is in .env.example and the README's table. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const read = (f: string): string => fs.readFileSync(path.join(root, f), 'utf8');

describe('configuration docs', () => {
  const source = read('src/config.ts');
  const names = [...new Set([...source.matchAll(/\(env, '([A-Z0-9_]+)'/g), ...source.matchAll(/env\['([A-Z0-9_]+)'\]/g)].map((m) => m[1]!))];

  it('finds the variables config.ts reads', () => {
    expect(names).toEqual(expect.arrayContaining(['PORT', 'DATABASE_URL', 'REDIS_URL', 'PRICE_IMAGE', 'ADMIN_PASSWORD']));
  });

  it('lists every one in .env.example', () => {
    const example = read('.env.example');
    for (const n of names) expect(example, n).toMatch(new RegExp(`^${n}=`, 'm'));
  });

  it('documents every one in the README', () => {
    const readme = read('README.md');
    for (const n of names) expect(readme, n).toContain(`\`${n}\``);
  });

  it('the README holds the setup-and-start and the test commands that CI runs', () => {
    const readme = read('README.md');
    const ci = read('.ci/run');
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toContain('npm test');
    expect(ci).toContain('npm ci');
    expect(ci).toMatch(/step "tests \(embedded PostgreSQL\)" env -u DATABASE_URL npm test/);
  });
});
