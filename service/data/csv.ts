/**
 * Just enough CSV (RFC 4180) for the data packages: comma-separated fields, a field in double quotes
 * may hold commas, and a doubled quote inside it stands for one. Records never span lines in these
 * files, so lines are records.
 */

/** The fields of one CSV line. Throws on an unterminated or misplaced quote. */
export function parseCsvLine(line: string): string[] {
  const fields: string[] = []
  let at = 0
  for (;;) {
    if (line[at] === '"') {
      let value = ''
      let from = at + 1
      for (;;) {
        const quote = line.indexOf('"', from)
        if (quote === -1) throw new SyntaxError(`unterminated quoted field in CSV line: ${line}`)
        value += line.slice(from, quote)
        if (line[quote + 1] !== '"') {
          at = quote + 1
          break
        }
        value += '"'
        from = quote + 2
      }
      fields.push(value)
      if (at === line.length) return fields
      if (line[at] !== ',') throw new SyntaxError(`unexpected text after a quoted field in CSV line: ${line}`)
      at++
    } else {
      const comma = line.indexOf(',', at)
      const value = line.slice(at, comma === -1 ? undefined : comma)
      if (value.includes('"')) throw new SyntaxError(`stray quote in an unquoted CSV field: ${line}`)
      fields.push(value)
      if (comma === -1) return fields
      at = comma + 1
    }
  }
}

/** The lines of `text`, without their line breaks, skipping a final empty line. */
export function* lines(text: string): Generator<string> {
  let at = 0
  while (at < text.length) {
    let end = text.indexOf('\n', at)
    if (end === -1) end = text.length
    yield text.slice(at, text[end - 1] === '\r' ? end - 1 : end)
    at = end + 1
  }
}

/** How many lines {@link lines} yields for `text`. */
export function countLines(text: string): number {
  let count = 0
  for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) count++
  return text.length > 0 && !text.endsWith('\n') ? count + 1 : count
}
