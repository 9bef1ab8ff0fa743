// The embedded database (PGlite in process) against the SQL contract, and what only it does.
import { embeddedDatabase } from 'weft/sql'
import { sqlContract } from './contract.ts'

sqlContract('the embedded database (PGlite)', {
  open: async (options) => embeddedDatabase(options?.statementTimeout === undefined ? {} : options),
  cleanup: async () => {},
})
