// Prometheus text exposition format 0.0.4: HELP and TYPE once per family, label values
// escaped (backslash, double quote, newline), one sample per line.
import type { Level, ServerResult } from '../types.ts';

const STATUS: Record<Level, number> = { skipped: -1, ok: 0, warning: 1, critical: 2, unknown: 3 };

function labelValue(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labels(pairs: Record<string, string>): string {
  return '{' + Object.entries(pairs).map(([k, v]) => `${k}="${labelValue(v)}"`).join(',') + '}';
}

function sample(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

export function renderPrometheus(results: readonly ServerResult[]): string {
  const families = {
    up: { help: 'Whether pgwarden could run checks on the server (1) or not (0).', samples: [] as string[] },
    status: { help: 'Level of each check: -1 skipped, 0 ok, 1 warning, 2 critical, 3 unknown.', samples: [] as string[] },
    item_status: { help: 'Level of each result row of a check: 0 ok, 1 warning, 2 critical.', samples: [] as string[] },
    value: { help: 'Value a check measured for an item, in the unit named by the unit label.', samples: [] as string[] },
    duration_seconds: { help: 'Wall time each check took.', samples: [] as string[] },
  };
  for (const server of results) {
    families.up.samples.push(`pgwarden_up${labels({ server: server.server })} ${server.error ? 0 : 1}`);
    for (const check of server.checks) {
      const base = { server: server.server, check: check.name, category: check.category };
      families.status.samples.push(`pgwarden_status${labels(base)} ${STATUS[check.level]}`);
      families.duration_seconds.samples.push(`pgwarden_duration_seconds${labels(base)} ${sample(check.duration_ms / 1000)}`);
      for (const row of check.rows) {
        const rowLabels = { server: server.server, check: check.name, item: row.item };
        families.item_status.samples.push(`pgwarden_item_status${labels(rowLabels)} ${STATUS[row.level]}`);
        if (row.value !== null) families.value.samples.push(`pgwarden_value${labels({ ...rowLabels, unit: check.unit })} ${sample(row.value)}`);
      }
    }
  }
  const out: string[] = [];
  for (const [name, family] of Object.entries(families)) {
    out.push(`# HELP pgwarden_${name} ${family.help}`, `# TYPE pgwarden_${name} gauge`, ...family.samples);
  }
  return out.join('\n') + '\n';
}
