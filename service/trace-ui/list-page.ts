/**
 * `GET /_weft/traces` for a browser: the recent requests this process kept, slowest first, each
 * linking to its waterfall, with links to filter by outcome.
 */
import { formatDuration } from 'weft'
import type { TraceOutcome, TraceSummary } from '../traces.ts'
import { escapeHtml, htmlDocument, type PageFrame } from './html.ts'

/** What the list shows besides the traces: the filter in force, and the store's settings. */
export interface ListContext {
  status: TraceOutcome | undefined
  outcomes: readonly TraceOutcome[]
  /** A sentence on what the store keeps (capacity, sampling), under the title. */
  keeping: string
}

/** The page listing `traces` (already filtered and sorted). */
export function traceListPage(
  traces: readonly TraceSummary[],
  context: ListContext,
  frame: PageFrame,
): string {
  const filter = (status: TraceOutcome | undefined, label: string): string => {
    const href = status === undefined ? '/_weft/traces' : `/_weft/traces?status=${status}`
    return status === context.status ? `<strong>${label}</strong>` : `<a href="${href}">${label}</a>`
  }
  const json = context.status === undefined ? '?format=json' : `?status=${context.status}&format=json`
  const rows = traces.map(
    (trace) => `<tr data-trace-id="${escapeHtml(trace.traceId)}" data-status="${escapeHtml(trace.status)}">
<td class="num">${escapeHtml(formatDuration(trace.duration))}</td>
<td><a href="/_weft/traces/${escapeHtml(trace.traceId)}">${escapeHtml(trace.name)}</a>${trace.query === undefined ? '' : ` <span class="query">?${escapeHtml(trace.query)}</span>`}</td>
<td class="status-${escapeHtml(trace.status)}">${escapeHtml(trace.status)}</td>
<td>${escapeHtml(new Date(trace.start).toISOString().replace('T', ' ').replace('Z', ''))}</td>
<td class="num">${trace.spans}</td>
<td>${escapeHtml(trace.kept)}</td>
<td><code>${escapeHtml(trace.traceId)}</code></td>
</tr>`,
  )
  const body = `<nav><a href="/">search</a> · <a href="/_weft/traces${escapeHtml(json)}">JSON</a></nav>
<h1>Recent requests, slowest first</h1>
<p class="meta">${escapeHtml(context.keeping)}</p>
<p class="filters">show: ${filter(undefined, 'all')} · ${context.outcomes.map((status) => filter(status, status)).join(' · ')}</p>
${
  traces.length === 0
    ? '<p class="empty">No traces kept yet: run a search.</p>'
    : `<table class="traces">
<thead><tr><th class="num">took</th><th>request</th><th>outcome</th><th>started (UTC)</th><th class="num">spans</th><th>kept because</th><th>trace id</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>`
}`
  return htmlDocument(frame, { title: 'recent traces · weft', style, body })
}

const style = `
  table.traces td, table.traces th { padding: 2px 10px 2px 0 }
  table.traces tbody tr:hover { background: #f3f6fb }
  code { color: #666 } .query { color: #333 }
`
