// The dashboard's one stylesheet, served as /static/style.css (kept in code so the build needs no copy step).
export const STYLESHEET = `
:root { --ink: #1d232b; --muted: #5c6670; --line: #d8dde3; --bg: #f6f7f9; --accent: #1f5d99; --bad: #b3261e; --warn: #a15c00; --ok: #2e7d32; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--bg); }
header { display: flex; align-items: center; gap: 1.5rem; padding: .5rem 1.25rem; background: #16324f; color: #fff; flex-wrap: wrap; }
header a { color: #dfe9f5; text-decoration: none; }
header .brand { font-weight: 700; font-size: 1.1rem; color: #fff; }
header nav { display: flex; gap: .9rem; flex-wrap: wrap; }
header nav a[aria-current] { color: #fff; border-bottom: 2px solid #7fb3e6; }
header .who { margin-left: auto; display: flex; gap: .6rem; align-items: center; color: #dfe9f5; }
header form { margin: 0; }
header button { background: transparent; color: #fff; border: 1px solid #7fa4c9; border-radius: 4px; padding: .15rem .6rem; cursor: pointer; }
main { padding: 1rem 1.25rem 3rem; max-width: 1760px; }
h1 { font-size: 1.35rem; margin: .3rem 0 1rem; }
h2 { font-size: 1.05rem; margin: 1.6rem 0 .5rem; }
a { color: var(--accent); }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: .75rem; margin-bottom: 1rem; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .75rem 1rem; }
a.card { text-decoration: none; color: inherit; }
a.card:hover { border-color: var(--accent); }
.card .n { font-size: 1.6rem; font-weight: 650; }
.card .what { color: var(--muted); }
.card.bad .n { color: var(--bad); } .card.warn .n { color: var(--warn); }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
/* a word too long for its cell breaks; columns of long tokens (applications, addresses,
   statements) may break anywhere, so that a table fits the page instead of pushing it sideways */
td { overflow-wrap: break-word; }
td.wrap, td.wrap code { overflow-wrap: anywhere; }
td[class^="level-"] { white-space: nowrap; }
th { background: #eef1f4; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { white-space: nowrap; overflow-wrap: normal; }
td.time { white-space: nowrap; overflow-wrap: normal; font-variant-numeric: tabular-nums; }
td.record { white-space: nowrap; overflow-wrap: normal; font-size: 12px; }
table.list td.statement { min-width: 16rem; }
/* break-spaces, not pre-wrap: a space at the end of a line would hang past the cell */
td code, .statement { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; white-space: break-spaces; }
td.statement { overflow-wrap: anywhere; }
details.long > summary { cursor: pointer; list-style: none; }
details.long > summary::-webkit-details-marker { display: none; }
details.long > summary::after { content: " show all"; color: var(--accent); font-family: system-ui, sans-serif; font-size: 12px; white-space: nowrap; }
details.long[open] > summary .start { display: none; }
details.long[open] > summary::after { content: "show less"; }
details.long .whole { margin-top: .2rem; }
.level-ok { color: var(--ok); } .level-warning { color: var(--warn); font-weight: 600; } .level-critical { color: var(--bad); font-weight: 700; }
.level-unknown { color: var(--bad); } .level-skipped { color: var(--muted); }
.severity-critical, .severity-high { color: var(--bad); font-weight: 700; } .severity-medium { color: var(--warn); font-weight: 600; }
.state-open, .grew { color: var(--bad); font-weight: 600; } .state-acknowledged { color: var(--warn); } .state-resolved { color: var(--ok); }
form.filters { display: flex; flex-wrap: wrap; gap: .5rem .75rem; align-items: flex-end; background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .75rem; margin-bottom: 1rem; }
form.filters label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); }
input, select { font: inherit; padding: .25rem .4rem; border: 1px solid #b7c0ca; border-radius: 4px; min-width: 9rem; }
button { font: inherit; padding: .3rem .9rem; border: 1px solid var(--accent); background: var(--accent); color: #fff; border-radius: 4px; cursor: pointer; }
form.range { display: flex; flex-wrap: wrap; gap: .5rem .75rem; align-items: center; margin-bottom: .9rem; }
form.range .presets { display: flex; gap: .4rem; }
form.range .presets a { padding: .15rem .6rem; border: 1px solid var(--line); border-radius: 4px; background: #fff; text-decoration: none; }
form.range .presets a[aria-current] { background: var(--accent); color: #fff; border-color: var(--accent); }
form.range label { display: flex; gap: .35rem; align-items: center; color: var(--muted); font-size: 12px; }
form.range input { min-width: 0; }
.pager { display: flex; gap: 1rem; align-items: center; margin: .75rem 0; color: var(--muted); }
.exports { margin: .25rem 0 .75rem; color: var(--muted); }
.chart { margin: 0 0 1rem; background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .5rem; }
.chart > svg { width: 100%; height: auto; display: block; }
.key svg { display: inline; vertical-align: -1px; }
.chart .axis { font-size: 11px; fill: var(--muted); }
.chart figcaption { color: var(--muted); font-size: 12px; }
.key { margin-left: .6rem; white-space: nowrap; }
.breakdowns, .columns { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 520px), 1fr)); gap: 0 1.25rem; align-items: start; }
.breakdowns > section, .columns > section { min-width: 0; }
table.breakdown th.bars, table.breakdown td.bars { width: 132px; }
table.breakdown td.bars svg { display: block; margin: 1px 0; }
.badge { display: inline-block; padding: 0 .4rem; border-radius: 3px; border: 1px solid currentColor; font-size: 12px; }
td.history svg.strip { display: block; }
table.checks td:nth-child(4) { min-width: 14rem; }
article.doc { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .5rem 1.25rem 1rem; max-width: 60rem; }
article.doc table { width: auto; }
article.doc thead th:empty { display: none; }
article.doc .align-right { text-align: right; } article.doc .align-center { text-align: center; }
article.doc code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; overflow-wrap: anywhere; }
article.doc pre { white-space: pre-wrap; overflow-wrap: anywhere; background: var(--bg); padding: .5rem; }
.error { color: var(--bad); font-weight: 600; }
.note { color: var(--muted); }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .75rem 1rem; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
body.login main { max-width: 360px; margin: 12vh auto; }
body.login form { display: flex; flex-direction: column; gap: .75rem; }
body.login label { display: flex; flex-direction: column; gap: .2rem; }
`;
