// The queue on the machine's Redis, under a key prefix of its own deleted afterwards.
import { after } from 'node:test'
import { type QueueOptions, redisQueue } from 'weft/queue'
import { queueContract } from './contract.ts'
import { deleteKeys, REDIS_URL, uniquePrefix } from './support.ts'

const prefix = uniquePrefix()
after(() => deleteKeys(prefix))

queueContract('Redis (BullMQ)', {
  open: (options?: QueueOptions) => redisQueue({ url: REDIS_URL, prefix, ...options }),
  childEnv: () => ({ QUEUE_BACKEND: 'redis', REDIS_URL, QUEUE_PREFIX: prefix }),
})
