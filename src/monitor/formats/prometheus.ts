// Prometheus text exposition format 0.0.4: HELP and TYPE once per family, label values
// escaped (backslash, double quote, newline), one sample per line. Measured values go into one
// family per unit, named with the unit in base units (Prometheus naming practice): percentages
// become ratios, bytes per hour bytes per second.
import { PGWARDEN_VERSION } from '../../core/version.ts';
import type { Level, ServerResult, Unit } from '../types.ts';

const STATUS: Record<Level, number> = { skipped: -1, ok: 0, warning: 1, critical: 2, unknown: 3 };

/** Family and scale of each unit. */
export const VALUE_FAMILIES: Record<Unit, { family: string; scale: number; help: string }> = {
  boolean: { family: 'pgwarden_check_boolean', scale: 1, help: 'Value of a check measuring a yes/no condition (1 yes, 0 no).' },
  // Unitless counts get no suffix ("_count" belongs to histograms and summaries).
  count: { family: 'pgwarden_check_value', scale: 1, help: 'Value of a check counting things (sessions, findings, files, ...).' },
  percent: { family: 'pgwarden_check_ratio', scale: 0.01, help: 'Value of a check measuring a proportion, as a ratio from 0 to 1.' },
  seconds: { family: 'pgwarden_check_seconds', scale: 1, help: 'Value of a check measuring a duration or an age, in seconds.' },
  bytes: { family: 'pgwarden_check_bytes', scale: 1, help: 'Value of a check measuring a size, in bytes.' },
  bytes_per_hour: { family: 'pgwarden_check_bytes_per_second', scale: 1 / 3600, help: 'Value of a check measuring growth, in bytes per second.' },
  per_second: { family: 'pgwarden_check_per_second', scale: 1, help: 'Value of a check measuring a rate, in events per second.' },
};

function labelValue(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labels(pairs: Record<string, string>): string {
  const entries = Object.entries(pairs);
  return entries.length === 0 ? '' : '{' + entries.map(([k, v]) => `${k}="${labelValue(v)}"`).join(',') + '}';
}

function sample(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

interface Family { help: string; samples: string[] }

function exposition(families: Record<string, Family>): string {
  const out: string[] = [];
  for (const [name, family] of Object.entries(families)) {
    if (family.samples.length === 0) continue;
    out.push(`# HELP ${name} ${family.help}`, `# TYPE ${name} gauge`, ...family.samples);
  }
  return out.join('\n') + '\n';
}

export function renderPrometheus(results: readonly ServerResult[]): string {
  const families: Record<string, Family> = {
    pgwarden_up: { help: 'Whether pgwarden could run checks on the server (1) or not (0).', samples: [] },
    pgwarden_status: { help: 'Level of each check: -1 skipped, 0 ok, 1 warning, 2 critical, 3 unknown.', samples: [] },
    pgwarden_item_status: { help: 'Level of each result row of a check: 0 ok, 1 warning, 2 critical.', samples: [] },
  };
  for (const { family, help } of Object.values(VALUE_FAMILIES)) families[family] = { help, samples: [] };
  families.pgwarden_duration_seconds = { help: 'Wall time each check took.', samples: [] };
  for (const server of results) {
    families.pgwarden_up!.samples.push(`pgwarden_up${labels({ server: server.server })} ${server.error ? 0 : 1}`);
    for (const check of server.checks) {
      const base = { server: server.server, check: check.name, category: check.category };
      families.pgwarden_status!.samples.push(`pgwarden_status${labels(base)} ${STATUS[check.level]}`);
      families.pgwarden_duration_seconds!.samples.push(`pgwarden_duration_seconds${labels(base)} ${sample(check.duration_ms / 1000)}`);
      const { family, scale } = VALUE_FAMILIES[check.unit];
      for (const row of check.rows) {
        const rowLabels = { server: server.server, check: check.name, item: row.item };
        families.pgwarden_item_status!.samples.push(`pgwarden_item_status${labels(rowLabels)} ${STATUS[row.level]}`);
        if (row.value !== null) families[family]!.samples.push(`${family}${labels(rowLabels)} ${sample(row.value * scale)}`);
      }
    }
  }
  return exposition(families);
}

/**
 * Anything that stopped the run, as a scrape Prometheus still reads: pgwarden_up 0 (alert on
 * it as on any exporter's up) and the reason in pgwarden_error_info.
 */
export function renderPrometheusError(message: string): string {
  return exposition({
    pgwarden_up: { help: 'Whether pgwarden could run checks on the server (1) or not (0).', samples: ['pgwarden_up 0'] },
    pgwarden_error_info: {
      help: `Why pgwarden ${PGWARDEN_VERSION} could not run the checks (always 1, the reason in the message label).`,
      samples: [`pgwarden_error_info${labels({ message: message.replace(/[\r\n]+/g, ' ') })} 1`],
    },
  });
}
