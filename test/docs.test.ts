// Every ```ts example in the public API's doc comments (`@example`) and in README.md is run here as a
// module of its own: documentation that does not run is documentation that lies.

import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { after, describe, test } from 'node:test'
import { pathToFileURL } from 'node:url'

const root = join(import.meta.dirname, '..')
// Inside the package, so that `import ... from 'weft'` resolves; one folder per run, so runs can overlap.
const outDir = mkdtempSync(join(root, '.doctest-'))

interface Example {
  source: string
  line: number
  code: string
}

function fencedBlocks(text: string): { line: number; code: string }[] {
  const blocks: { line: number; code: string }[] = []
  const pattern = /```ts\n([\s\S]*?)```/g
  for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
    blocks.push({ line: text.slice(0, match.index).split('\n').length, code: match[1] ?? '' })
  }
  return blocks
}

function examplesInSource(file: string): Example[] {
  const text = readFileSync(file, 'utf8')
  const examples: Example[] = []
  for (const comment of text.matchAll(/\/\*\*[\s\S]*?\*\//g)) {
    if (!comment[0].includes('@example')) continue
    const uncommented = comment[0]
      .split('\n')
      .map((line) => line.replace(/^\s*\/?\*+\/?\s?/, ''))
      .join('\n')
    const commentLine = text.slice(0, comment.index).split('\n').length
    for (const block of fencedBlocks(uncommented)) {
      examples.push({ source: relative(root, file), line: commentLine + block.line - 1, code: block.code })
    }
  }
  return examples
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort()
}

const examples = [
  ...sourceFiles(join(root, 'src')).flatMap(examplesInSource),
  ...fencedBlocks(readFileSync(join(root, 'README.md'), 'utf8')).map((block) => ({
    source: 'README.md',
    ...block,
  })),
]

after(() => rmSync(outDir, { recursive: true, force: true }))

describe('documentation examples', () => {
  test('there are examples to run', () => {
    assert.ok(examples.length > 0)
  })
  examples.forEach((example, index) => {
    test(`${example.source}:${example.line} runs and its assertions hold`, async () => {
      const file = join(outDir, `example-${index}.ts`)
      writeFileSync(file, example.code)
      await import(pathToFileURL(file).href)
    })
  })
})
