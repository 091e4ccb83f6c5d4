// The real consumers of `pgwarden check`, run on its output: promtool (Debian `prometheus`),
// Monitoring::Plugin (Debian `libmonitoring-plugin-perl`, the parser Nagios plugins and many
// perfdata tools use), and Zabbix's rule for substituting LLD macros into item keys.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

/** `promtool check metrics` on an exposition: the exit code and every complaint. */
export function promtool(exposition: string): { code: number; problems: string } {
  const result = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
  assert.ok(!result.error, `promtool is not installed (apt-get install prometheus): ${result.error?.message}`);
  return { code: result.status ?? -1, problems: (result.stdout + result.stderr).trim() };
}

export interface PluginPerf { label: string; value: number; uom: string; warning: string; critical: string; status: number }

// Parses the perfdata with Monitoring::Plugin::Performance (label, value, UOM as it reads them)
// and judges each value by the warn/crit ranges of its item with Monitoring::Plugin::Threshold
// (the plugin guidelines' range rules: "@" inside, "~" minus infinity, "N:" at least N).
// Performance's own parser does not take "@" ranges, so the range strings are cut from the
// item by the guidelines' grammar (fields separated by ";") and handed to Threshold.
const PERL = String.raw`
use strict; use warnings;
use Monitoring::Plugin::Performance use_die => 1;
use Monitoring::Plugin::Threshold;
my $perf = do { local $/; <STDIN> };
my @items = ($perf =~ /('[^']*'=\S*)/g);
my @parsed = Monitoring::Plugin::Performance->parse_perfstring($perf);
die "Monitoring::Plugin parsed " . scalar(@parsed) . " of " . scalar(@items) . " items\n" unless @parsed == @items;
for my $i (0 .. $#items) {
  my ($fields) = $items[$i] =~ /^'[^']*'=(.*)$/;
  my (undef, $warn, $crit) = split /;/, $fields, 4;
  my $p = $parsed[$i];
  my $t = Monitoring::Plugin::Threshold->set_thresholds(warning => (defined $warn && $warn ne '' ? $warn : undef), critical => (defined $crit && $crit ne '' ? $crit : undef));
  print join("\t", $p->label, $p->value, $p->uom // '', $warn // '', $crit // '', $t->get_status($p->value)), "\n";
}
`;

export function monitoringPlugin(perfdata: string): PluginPerf[] {
  const result = spawnSync('perl', ['-e', PERL], { input: perfdata, encoding: 'utf8' });
  assert.equal(result.status, 0, `Monitoring::Plugin (apt-get install libmonitoring-plugin-perl): ${result.stderr}`);
  return result.stdout.split('\n').filter(Boolean).map((line) => {
    const [label, value, uom, warning, critical, status] = line.split('\t') as [string, string, string, string, string, string];
    return { label, value: Number(value), uom, warning, critical, status: Number(status) };
  });
}

/**
 * The item key Zabbix (6.0, quote_key_param after substitute_lld_macros) creates from a
 * prototype whose parameters are unquoted LLD macros: each macro value goes in as it is, and is
 * put in double quotes (inner " as \") only when it starts with ", a space or [, or contains a
 * comma or ]. Such a value ending in a backslash cannot be quoted: no item is created (null).
 * Written from Zabbix's documentation and source, independently of pgwarden's implementation.
 */
export function zabbixPrototypeKey(prototype: string, macros: Record<string, string>): string | null {
  const m = /^([0-9A-Za-z_.-]+)\[(.*)\]$/.exec(prototype);
  assert.ok(m);
  const params: string[] = [];
  for (const raw of m[2]!.split(',')) {
    const value = raw.replace(/\{#[A-Z0-9_.]+\}/g, (macro) => macros[macro] ?? macro);
    const quote = value.startsWith('"') || value.startsWith(' ') || value.startsWith('[') || value.includes(',') || value.includes(']');
    if (!quote) { params.push(value); continue; }
    if (value.endsWith('\\')) return null;
    params.push(`"${value.replaceAll('"', '\\"')}"`);
  }
  return `${m[1]}[${params.join(',')}]`;
}

/** What Nagios Core stores as the status text of a plugin's first line (base/checks.c). */
export function nagiosStatusText(stdout: string): string {
  return stdout.split('\n')[0]!.split('|')[0]!.trim().replaceAll(';', ':');
}
