/** `weft/testing`: deterministic time and fault injection for tests of code built on weft. */
export { VirtualClock, withVirtualClock } from './virtual-clock.ts'
