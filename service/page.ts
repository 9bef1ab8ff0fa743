/**
 * `GET /`: a one-file search page. It calls `GET /search` as the visitor types and shows the results
 * with their reasons, where the service thinks the visitor is, their session's recent searches, and
 * a link to the request's trace (its waterfall: where the time went), failed requests' too. No build
 * step, no framework, no external resource.
 */
export const searchPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>weft search</title>
<style>
  body { font: 16px/1.4 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #222 }
  input { font: inherit; width: 100%; padding: .5rem; box-sizing: border-box }
  li { margin: .6rem 0 } small, #meta, footer { color: #666 } footer { margin-top: 2rem; font-size: .9em } .error { color: #b00 }
</style>
</head>
<body>
<h1>Places</h1>
<input id="q" type="search" maxlength="200" placeholder="Search 135,000 places: lisb, são p, tok…" autofocus>
<p id="meta"></p>
<ol id="results"></ol>
<footer><a href="/_weft/traces">recent requests, slowest first</a></footer>
<script type="module">
const input = document.querySelector('#q')
const meta = document.querySelector('#meta')
const list = document.querySelector('#results')
const text = (tag, content) => Object.assign(document.createElement(tag), { textContent: content })
// Every answer links to its trace: the waterfall of where its time went.
const traceLink = (id) => Object.assign(text('a', 'where the time went'), { id: 'trace-link', href: '/_weft/traces/' + id })
let latest = 0
async function search() {
  const q = input.value.trim()
  const ticket = ++latest
  if (q === '') return list.replaceChildren()
  const response = await fetch('/search?' + new URLSearchParams({ q, limit: '10' }))
  const body = await response.json()
  if (ticket !== latest) return
  if (!response.ok) {
    meta.className = 'error'
    meta.textContent = body.message + ' '
    const traceId = response.headers.get('x-trace-id')
    if (traceId) meta.append(traceLink(traceId))
    return list.replaceChildren()
  }
  meta.className = ''
  const where = body.location ? [body.location.city, body.location.country].filter(Boolean).join(', ') : 'somewhere'
  meta.textContent = 'You are near ' + where + '. Recent searches: ' + body.session.recent.join(', ') +
    (body.degraded.length ? '. Degraded: ' + body.degraded.map((d) => d.backend).join(', ') : '') + '. '
  // A search over TRACE_RECORD_PER_SECOND has no trace (null).
  if (body.traceId) meta.append(traceLink(body.traceId))
  list.replaceChildren(...body.results.map((place) => {
    const item = text('li', place.name + ', ' + place.country + ' ')
    item.append(text('small', '(' + place.score + ': ' + place.why.join('; ') + ')'))
    return item
  }))
}
let timer
input.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(search, 150) })
</script>
</body>
</html>
`
