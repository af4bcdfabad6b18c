/** A small leveled logger with kafkajs' levels; `logCreator` lets an application route entries. */

/** kafkajs' log levels. */
export enum logLevel {
  NOTHING = 0,
  ERROR = 1,
  WARN = 2,
  INFO = 4,
  DEBUG = 5,
}

export interface LogEntry {
  namespace: string;
  level: logLevel;
  label: string;
  log: { message: string; timestamp: string; [key: string]: unknown };
}

/** As kafkajs: `(level) => (entry) => void`. */
export type LogCreator = (level: logLevel) => (entry: LogEntry) => void;

export interface Logger {
  error(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  info(message: string, extra?: Record<string, unknown>): void;
  debug(message: string, extra?: Record<string, unknown>): void;
  namespace(ns: string): Logger;
}

const LABELS: Record<number, string> = { 1: 'ERROR', 2: 'WARN', 4: 'INFO', 5: 'DEBUG' };

/** Writes JSON lines to stderr, as kafkajs' default logger does to the console. */
export const consoleLogCreator: LogCreator = () => (entry) => {
  process.stderr.write(
    `${JSON.stringify({ level: entry.label, ...entry.log, logger: 'sluice', namespace: entry.namespace })}\n`,
  );
};

/**
 * @example
 * const logger = createLogger(logLevel.INFO).namespace('Producer');
 * logger.warn('retrying', { attempt: 2 });
 */
export function createLogger(
  level: logLevel,
  creator: LogCreator = consoleLogCreator,
  ns = 'Sluice',
): Logger {
  const sink = creator(level);
  const at =
    (l: logLevel) =>
    (message: string, extra: Record<string, unknown> = {}) => {
      if (l > level || level === logLevel.NOTHING) return;
      sink({
        namespace: ns,
        level: l,
        label: LABELS[l]!,
        log: { timestamp: new Date().toISOString(), message, ...extra },
      });
    };
  return {
    error: at(logLevel.ERROR),
    warn: at(logLevel.WARN),
    info: at(logLevel.INFO),
    debug: at(logLevel.DEBUG),
    namespace: (child) => createLogger(level, creator, child),
  };
}
