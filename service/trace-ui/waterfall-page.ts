/**
 * `GET /_weft/traces/:id` for a browser: one request as a waterfall. A time axis with ticks; one row
 * per span, indented by nesting, its bar placed by its start and end, so spans that ran in parallel
 * are rows whose bars overlap in time (each row also names its lane among its siblings); the
 * critical path in red (class `critical`, `data-critical="true"`), with a legend; each span's slack
 * as a dotted tail after its bar and as a number; and per span the backend, shard, batch, cache
 * hits, cancellation and error, in a column and in the row's tooltip (every attribute).
 *
 * The layout is weft's `waterfallLayout`, the one the terminal waterfall draws: the two views agree.
 */
import { formatDuration, type SpanData, type WaterfallRow, waterfallLayout } from 'weft'
import { decodeQuery } from '../traces.ts'
import { escapeHtml, htmlDocument, type PageFrame } from './html.ts'
import { spanDetails, spanTooltip } from './span-details.ts'

/** The page of one trace's spans (every part of it: the request's, the geocoder's, the worker's). */
export function waterfallPage(traceId: string, spans: readonly SpanData[], frame: PageFrame): string {
  const layout = waterfallLayout(spans)
  if (layout === undefined) throw new TypeError(`waterfallPage(): trace ${traceId} has no spans`)
  const { duration, rows, path } = layout
  const step = tickStep(duration)
  const ticks: number[] = []
  for (let at = 0; at <= duration + 1e-9 && step > 0; at += step) ticks.push(at)
  const percent = (ms: number): string => `${duration === 0 ? 0 : +((ms / duration) * 100).toFixed(4)}%`
  const root = rows[0] as WaterfallRow
  const critical = rows.filter((row) => row.critical).length
  const query = root.span.attributes['url.query']

  const axis = ticks
    .map(
      (at) =>
        `<span class="tick${at > duration * 0.92 ? ' end' : ''}" style="left:${percent(at)}">${at === 0 ? '0' : escapeHtml(formatDuration(at))}</span>`,
    )
    .join('')
  const body = `<nav><a href="/_weft/traces">← recent traces</a> · <a href="/_weft/traces/${escapeHtml(traceId)}?format=json">JSON</a> · <a href="/">search</a></nav>
<h1>${escapeHtml(layout.name)}${typeof query === 'string' && query !== '' ? ` <span class="query">?${escapeHtml(decodeQuery(query))}</span>` : ''}</h1>
<p class="meta"><span>${escapeHtml(formatDuration(duration))}</span><span>${rows.length} spans</span><span class="status-${escapeHtml(root.span.status)}">${escapeHtml(root.span.status)}</span><span>started ${escapeHtml(new Date(layout.start).toISOString())}</span><span>trace <code>${escapeHtml(traceId)}</code></span></p>
<p class="legend"><span class="swatch critical"></span> critical path (${critical} spans: what set the request's ${escapeHtml(formatDuration(duration))}) <span class="swatch other"></span> off the path <span class="swatch slack"></span> slack: how much later a span could have ended without delaying the request <span class="swatch failed"></span> error <span class="swatch cut"></span> cancelled
<label><input type="checkbox" id="critical-only"> only the critical path</label></p>
<p class="path">critical path: ${path.map((span) => `<span>${escapeHtml(span.name)}</span>`).join(' › ')}</p>
<table class="waterfall" style="--tick:${step > 0 && duration > 0 ? percent(step) : '100%'}">
<colgroup><col class="name"><col class="took"><col class="slack-column"><col class="timeline"><col class="details"></colgroup>
<thead><tr><th>span</th><th class="num">took</th><th class="num">slack</th><th class="timeline"><div class="axis">${axis}</div></th><th>backend · shard · batch · cache · outcome</th></tr></thead>
<tbody>
${rows.map((row) => spanRow(row, rows, percent)).join('\n')}
</tbody>
</table>`
  return htmlDocument(frame, {
    title: `${layout.name} · ${formatDuration(duration)} · weft trace`,
    style,
    body,
    script,
  })
}

function spanRow(row: WaterfallRow, rows: readonly WaterfallRow[], percent: (ms: number) => string): string {
  const { span, depth, start, end, critical, slack, lane, lanes } = row
  const details = spanDetails(span)
  if (lanes > 1) details.push({ kind: 'keys', text: `lane ${lane + 1} of ${lanes}` })
  const classes = ['span', critical ? 'critical' : 'other', `outcome-${span.status}`, `kind-${span.kind}`]
  const hasChildren = rows.some((other) => other.span.parentId === span.spanId)
  const toggle = hasChildren
    ? '<button class="fold" title="fold or unfold the spans under this one">▾</button>'
    : '<span class="leaf"></span>'
  const slackBar =
    slack > 0 ? `<div class="slack-tail" style="left:${percent(end)};width:${percent(slack)}"></div>` : ''
  return `<tr class="${classes.join(' ')}" data-span-id="${escapeHtml(span.spanId)}" data-parent-id="${escapeHtml(span.parentId ?? '')}" data-span-name="${escapeHtml(span.name)}" data-depth="${depth}" data-start="${start}" data-end="${end}" data-lane="${lane}" data-critical="${critical}" data-slack="${slack}" title="${escapeHtml(spanTooltip(span))}">
<td class="name" style="padding-left:${(depth * 1.1 + 0.3).toFixed(1)}em">${toggle}${escapeHtml(span.name)} <small>${escapeHtml(span.kind)}</small></td>
<td class="num">${escapeHtml(formatDuration(row.duration))}</td>
<td class="num">${critical ? '<span class="zero">0</span>' : escapeHtml(formatDuration(slack))}</td>
<td class="timeline"><div class="track"><div class="bar" style="left:${percent(start)};width:${percent(end - start)}"></div>${slackBar}</div></td>
<td class="details">${details.map((detail) => `<span class="detail ${detail.kind}">${escapeHtml(detail.text)}</span>`).join(' ')}</td>
</tr>`
}

/** A round step (1, 2 or 5 times a power of ten) giving 5 to 10 ticks over `duration` ms. */
export function tickStep(duration: number): number {
  if (!(duration > 0)) return 0
  const rough = duration / 8
  const power = 10 ** Math.floor(Math.log10(rough))
  const step = [1, 2, 5, 10].map((m) => m * power).find((candidate) => candidate >= rough) as number
  return step
}

const style = `
  .legend { display: flex; flex-wrap: wrap; gap: .3rem .9rem; align-items: center; color: #444 }
  .legend label { margin-left: auto }
  .swatch { display: inline-block; width: 1.6em; height: .8em; vertical-align: middle; border-radius: 2px }
  .swatch.critical { background: #d62f2f } .swatch.other { background: #4f8fd6 }
  .swatch.slack { height: 3px; background: repeating-linear-gradient(to right, #777 0 3px, transparent 3px 6px) }
  .swatch.failed { background: #4f8fd6; outline: 2px solid #b00020 } .swatch.cut { background: #4f8fd6; opacity: .45 }
  h1 .query { font-weight: 400; color: #444 }
  .path { color: #444; margin: .3rem 0 .8rem } .path span { color: #b3261e; font-weight: 600 }
  table.waterfall { width: 100%; table-layout: fixed }
  col.name { width: 24em } col.took, col.slack-column { width: 6em } col.details { width: 32em }
  .waterfall th, .waterfall td { padding: 1px 6px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis }
  .waterfall thead th { position: sticky; top: 0; background: #fff; border-bottom: 1px solid #ccc; z-index: 1 }
  .waterfall tbody tr:hover { background: #f3f6fb }
  .axis { position: relative; height: 1.2em }
  .tick { position: absolute; transform: translateX(-50%); font-weight: 400; color: #666; font-size: 11px }
  .tick:first-child { transform: none } .tick.end { transform: translateX(-100%) }
  .track { position: relative; height: 14px;
    background: repeating-linear-gradient(to right, #e4e4e4 0 1px, transparent 1px var(--tick)) }
  .bar { position: absolute; top: 2px; bottom: 2px; min-width: 2px; border-radius: 2px; background: #4f8fd6 }
  tr.critical .bar { background: #d62f2f }
  tr.critical td.name { font-weight: 600; color: #b3261e }
  tr.outcome-error .bar { outline: 2px solid #b00020; outline-offset: -1px }
  tr.outcome-cancelled .bar { opacity: .45 }
  .slack-tail { position: absolute; top: 6px; height: 2px; background: repeating-linear-gradient(to right, #777 0 3px, transparent 3px 6px) }
  td.name small { color: #888; font-weight: 400 }
  .zero { color: #b3261e }
  .fold, .leaf { display: inline-block; width: 1.2em; border: 0; padding: 0; background: none; cursor: pointer; color: #666 }
  tr.folded .fold { transform: rotate(-90deg) }
  .detail { display: inline-block; padding: 0 .3em; border-radius: 3px; background: #eef1f5; color: #333 }
  .detail.cache { background: #e6f4ea } .detail.error { background: #fde7e9; color: #b00020 }
  .detail.cancelled { background: #fff4d6; color: #8a6d00 }
  table.critical-only tr.other, tr.hidden { display: none }
`

// Folding hides the rows after a span that are deeper than it: rows are in depth-first order.
const script = `
const table = document.querySelector('table.waterfall')
document.querySelector('#critical-only').addEventListener('change', (event) => {
  table.classList.toggle('critical-only', event.target.checked)
})
table.addEventListener('click', (event) => {
  const button = event.target.closest('button.fold')
  if (!button) return
  const row = button.closest('tr')
  const folded = row.classList.toggle('folded')
  const depth = Number(row.dataset.depth)
  let hiddenUnder = Infinity
  for (let next = row.nextElementSibling; next && Number(next.dataset.depth) > depth; next = next.nextElementSibling) {
    const level = Number(next.dataset.depth)
    // Unfolding keeps what is folded further down folded.
    if (level <= hiddenUnder) hiddenUnder = Infinity
    next.classList.toggle('hidden', folded || level > hiddenUnder)
    if (!folded && next.classList.contains('folded') && hiddenUnder === Infinity) hiddenUnder = level
  }
})
`
