// Every built-in rule is one unit: a file in src/detect/rules, an entry in the registry, a doc
// page (what it catches, false positives, tuning, ATT&CK, compliance — the same ids and controls as
// the code), and a case in the recorded attack fixture. A missing piece fails here.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { BUILTIN_RULES } from '../../src/detect/index.ts';
import { ATTACK_ALERTS } from './expected.ts';

const rulesDir = new URL('../../src/detect/rules/', import.meta.url);
const docsDir = new URL('../../docs/detect/', import.meta.url);
const HELPERS = ['index.ts', 'rule.ts'];

describe('built-in detection rules', () => {
  it('lists every rule file exactly once, with unique snake_case ids', () => {
    const files = readdirSync(rulesDir).filter((f) => f.endsWith('.ts') && !HELPERS.includes(f));
    const index = readFileSync(new URL('index.ts', rulesDir), 'utf8');
    for (const file of files) assert.match(index, new RegExp(`from '\\./${file.replace('.', '\\.')}'`), `${file} is not registered`);
    assert.equal(BUILTIN_RULES.length, files.length);
    assert.equal(new Set(BUILTIN_RULES.map((r) => r.id)).size, BUILTIN_RULES.length);
    for (const rule of BUILTIN_RULES) {
      assert.match(rule.id, /^[a-z][a-z0-9_]*$/);
      assert.ok(files.includes(`${rule.id.replaceAll('_', '-')}.ts`), `${rule.id} lives in ${rule.id.replaceAll('_', '-')}.ts`);
      assert.ok(rule.mitre.length > 0 && rule.mitre.every((t) => /^T\d{4}(\.\d{3})?$/.test(t)), `${rule.id}: ATT&CK technique ids`);
      for (const framework of ['pci_dss', 'hipaa', 'gdpr', 'nist_800_53'] as const) assert.ok(rule.compliance[framework].length > 0, `${rule.id}: ${framework} controls`);
    }
    assert.deepEqual(BUILTIN_RULES.map((r) => r.id).sort(), ['audit_tampering', 'brute_force', 'dormant_role_login', 'guard_refusal_burst', 'mass_change',
      'new_client_for_privileged_role', 'off_hours_ddl', 'off_hours_privileged_login', 'password_spray', 'privilege_escalation', 'sensitive_read',
      'sensitive_write', 'server_program_execution', 'unknown_role_probe'], 'the ids issue 18 names');
  });

  it('has a doc page per rule, with the sections and the same ATT&CK ids and controls as the code, and no page without a rule', () => {
    const pages = readdirSync(docsDir).filter((f) => f.endsWith('.md') && f !== 'README.md');
    assert.deepEqual(pages.sort(), BUILTIN_RULES.map((r) => `${r.id}.md`).sort());
    const index = readFileSync(new URL('README.md', docsDir), 'utf8');
    const overview = readFileSync(new URL('../detect.md', docsDir), 'utf8');
    for (const rule of BUILTIN_RULES) {
      const page = readFileSync(new URL(`${rule.id}.md`, docsDir), 'utf8');
      assert.match(page, new RegExp(`^# ${rule.id}\\n`), `${rule.id}.md title`);
      for (const section of ['## What it catches', '## False positives', '## Tuning', '## MITRE ATT&CK', '## Compliance']) {
        assert.ok(page.includes(section), `${rule.id}.md lacks "${section}"`);
      }
      for (const technique of rule.mitre) assert.ok(page.includes(`[${technique} `), `${rule.id}.md names ${technique}`);
      for (const control of Object.values(rule.compliance).flat()) assert.ok(page.includes(`${control} (`), `${rule.id}.md names ${control}`);
      for (const setting of Object.keys(rule.params)) assert.ok(page.includes(`\`${setting}\``), `${rule.id}.md documents ${setting}`);
      assert.ok(index.includes(`[${rule.id}](${rule.id}.md)`), `docs/detect/README.md links ${rule.id}`);
      assert.ok(overview.includes(`[${rule.id}](detect/${rule.id}.md)`), `docs/detect.md links ${rule.id}`);
    }
  });

  it('has a case in the recorded attack fixture for every rule', () => {
    for (const rule of BUILTIN_RULES) assert.ok(ATTACK_ALERTS.some((a) => a.rule === rule.id), `${rule.id} has no case in test/detect/expected.ts`);
  });
});
