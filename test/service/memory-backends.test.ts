// The in-memory backends' queue: what tests and the benchmark read of it.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { memoryBackends } from '../../service/memory-backends.ts'
import { memoryData } from './fixtures.ts'

test("the in-memory queue drops a repeated dedupe key, keeps another task's, and forget() starts afresh", async () => {
  await using memory = memoryBackends(await memoryData())
  const session = { id: 's1', createdAt: 1, updatedAt: 1, searches: 1, recent: ['lis'] }
  const { enqueue } = memory.backends.queue
  await enqueue('save-session', { session }, 'save s1')
  await enqueue('save-session', { session: { ...session, updatedAt: 2 } }, 'save s1')
  await enqueue('update-session', { session }, 'save s1')
  assert.deepEqual(
    memory.tasks.map((task) => [task.name, task.dedupeKey]),
    [
      ['save-session', 'save s1'],
      ['update-session', 'save s1'],
    ],
  )
  assert.equal(memory.sessions.get('s1')?.updatedAt, 1, 'the repeat was not applied')
  memory.forget()
  assert.equal(memory.tasks.length, 0)
  assert.equal(memory.sessions.size, 0)
  await enqueue('save-session', { session }, 'save s1')
  assert.equal(memory.tasks.length, 1, 'a forgotten dedupe key is accepted again')
})
