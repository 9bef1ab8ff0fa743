/**
 * What the trace pages share: escaping, the page shell with its Content-Security-Policy, and how
 * times read. The pages are built as strings on the server, with no framework and no external
 * resource (they must work on a machine with no network); everything that came from a request
 * (span names, attributes, error messages hold user input) goes through {@link escapeHtml}.
 */
import { randomBytes } from 'node:crypto'

const entities: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
}

/** `text` safe inside an element and inside a quoted attribute. */
export function escapeHtml(text: string | number | boolean): string {
  return String(text).replace(/[&<>"']/g, (character) => entities[character] as string)
}

/** A page: its nonce (for its inline style and script), and the Content-Security-Policy that allows only them. */
export interface PageFrame {
  nonce: string
  /** The header value: nothing loads but the page's own inline style and script, and links to this site. */
  csp: string
}

/** A fresh nonce and its policy, one per response: markup injected past the escaping still cannot run. */
export function pageFrame(): PageFrame {
  const nonce = randomBytes(16).toString('base64')
  return {
    nonce,
    // Style attributes place the bars: CSS, which cannot run code.
    csp: `default-src 'none'; style-src 'nonce-${nonce}'; style-src-attr 'unsafe-inline'; script-src 'nonce-${nonce}'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`,
  }
}

/** A whole document: `title` (escaped here), `style` and `script` (trusted, inline), `body` (already HTML). */
export function htmlDocument(
  frame: PageFrame,
  parts: { title: string; style: string; body: string; script?: string },
): string {
  const script = parts.script === undefined ? '' : `<script nonce="${frame.nonce}">${parts.script}</script>\n`
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(parts.title)}</title>
<style nonce="${frame.nonce}">${baseStyle}${parts.style}</style>
</head>
<body>
${parts.body}
${script}</body>
</html>
`
}

const baseStyle = `
  body { font: 13px/1.35 system-ui, sans-serif; margin: 1rem 1.25rem; color: #222 }
  h1 { font-size: 1.2rem; margin: 0 0 .4rem } a { color: #0645ad }
  nav, .meta { color: #555; margin: .3rem 0 } .meta span + span::before { content: " · " }
  table { border-collapse: collapse } th { text-align: left; font-weight: 600; color: #444 }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap }
  .status-error { color: #b00020 } .status-cancelled { color: #8a6d00 }
`
