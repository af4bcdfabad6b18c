/** Transactional producers: exactly-once writes across partitions and group offsets. */
export * from './coordinator.js';
export * from './expire.js';
export * from './large-commit.js';
export * from './state.js';
