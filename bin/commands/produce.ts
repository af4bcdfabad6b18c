/** `sluice produce <topic>`: stdin lines to records, many per request. */
import { createInterface } from 'node:readline';
import type { IHeaders, Message } from '../../sdk/index.js';
import {
  client,
  ENDPOINT_HELP,
  EXIT,
  EXIT_HELP,
  endpointOf,
  intFlag,
  out,
  parse,
  plural,
  UsageError,
} from './common.js';

export const produceHelp = `Usage: sluice produce <topic> [options] < lines

Reads stdin line by line and appends one record per line (empty lines are skipped),
batching many lines per request.

Options:
  --format <raw|json>      raw: the line is the value (default); json: each line is
                           {"key": ..., "value": ..., "headers": {...}, "partition": n}
  --key-separator <sep>    raw format: the text before the first <sep> is the key
  --partition <n>          write every record to this partition
  --compression <codec>    none (default), gzip, snappy, lz4 or zstd
  --acks <all|1|0>         all (default): acknowledged once in the log, with offsets;
                           1: once the cluster's durable inbox holds them (the batcher
                           appends them within seconds); 0: sent in the background,
                           waited for before exit (docs/api.md, "acks=1: the inbox")
  --quiet                  no progress or summary on stderr
${ENDPOINT_HELP}

Examples:
  seq 1 1000 | sluice produce numbers
  printf 'user-1:clicked\\nuser-2:left\\n' | sluice produce events --key-separator :
  echo '{"key":"o-1","value":{"total":42}}' | sluice produce orders --format json

${EXIT_HELP}
`;

/** Lines per send: sends overlap, the producer packs them into ~1 MiB requests. */
const LINES_PER_SEND = 500;
const MAX_PENDING_SENDS = 16;

export async function produceCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    format: { type: 'string' },
    'key-separator': { type: 'string' },
    partition: { type: 'string' },
    compression: { type: 'string' },
    acks: { type: 'string' },
    quiet: { type: 'boolean' },
  });
  if (values.help) {
    out(produceHelp);
    return EXIT.ok;
  }
  const [topic, ...extra] = positionals;
  if (!topic) throw new UsageError('name the topic to produce to: sluice produce <topic>');
  if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
  const format = values.format ?? 'raw';
  if (format !== 'raw' && format !== 'json')
    throw new UsageError(`--format must be raw or json, got '${format}'`);
  const separator = values['key-separator'];
  if (separator !== undefined && format === 'json')
    throw new UsageError('--key-separator applies to --format raw only');
  if (separator === '') throw new UsageError('--key-separator must not be empty');
  const partition = intFlag(values.partition, 'partition');
  const compression = values.compression ?? 'none';
  if (!['none', 'gzip', 'snappy', 'lz4', 'zstd'].includes(compression)) {
    throw new UsageError(`--compression must be none, gzip, snappy, lz4 or zstd, got '${compression}'`);
  }

  const acksFlag = values.acks ?? 'all';
  const acks = ({ all: -1, '-1': -1, '1': 1, '0': 0 } as Record<string, -1 | 0 | 1 | undefined>)[acksFlag];
  if (acks === undefined) throw new UsageError(`--acks must be all, 1 or 0, got '${acksFlag}'`);

  const sluice = client(endpointOf(values));
  const producer = sluice.producer({ compression: compression as 'none', lingerMs: 20, acks });
  await producer.connect();
  // Fail before reading stdin when the topic does not exist.
  await sluice.admin().fetchTopicMetadata({ topics: [topic] });

  const started = Date.now();
  let sent = 0;
  let bytes = 0;
  const progress = !values.quiet && process.stderr.isTTY;
  const ticker = progress
    ? setInterval(() => {
        const secs = (Date.now() - started) / 1000;
        process.stderr.write(
          `\r${plural(sent, 'record')} (${mib(bytes)}) in ${secs.toFixed(0)} s, ${rate(sent, secs)} records/s   `,
        );
      }, 1000)
    : undefined;

  const pending = new Set<Promise<void>>();
  let failure: unknown;
  let batch: Message[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const messages = batch;
    batch = [];
    const p = producer.send({ topic, messages }).then(
      () => {
        sent += messages.length;
      },
      (err) => {
        failure ??= err;
      },
    );
    const tracked = p.finally(() => pending.delete(tracked));
    pending.add(tracked);
    if (pending.size >= MAX_PENDING_SENDS) await Promise.race(pending);
  };

  let lineNo = 0;
  let badLine: Error | undefined;
  try {
    for await (const line of createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY })) {
      lineNo++;
      if (failure) break;
      if (line.length === 0) continue;
      let message: Message;
      try {
        message = format === 'json' ? fromJson(line, lineNo) : fromRaw(line, separator);
      } catch (err) {
        badLine = err as Error;
        break;
      }
      if (partition !== undefined) message.partition = partition;
      bytes += line.length;
      batch.push(message);
      if (batch.length >= LINES_PER_SEND) await flush();
    }
    await flush();
    await Promise.all(pending);
    // acks=0 sends resolve at once: wait for them, and fail if any was lost.
    if (acks === 0) {
      await producer.flush();
      if (producer.backgroundFailures > 0)
        failure ??= new Error(
          `${plural(producer.backgroundFailures, 'record')} of acks=0 sends could not be delivered (logged above)`,
        );
    }
    await producer.disconnect();
  } finally {
    if (ticker) clearInterval(ticker);
    if (progress) process.stderr.write('\r\u001b[K');
  }
  if (failure) throw failure;
  if (badLine)
    throw new Error(
      `${badLine.message}; the ${plural(sent, 'record')} before it ${sent === 1 ? 'was' : 'were'} produced`,
    );
  if (!values.quiet) {
    const secs = (Date.now() - started) / 1000;
    const where = acks === -1 ? '' : ' (into the inbox: the batcher appends them within seconds)';
    process.stderr.write(
      `produced ${plural(sent, 'record')} (${mib(bytes)}) to ${topic} in ${secs.toFixed(1)} s${where}\n`,
    );
  }
  return EXIT.ok;
}

function fromRaw(line: string, separator: string | undefined): Message {
  if (separator === undefined) return { value: line };
  const at = line.indexOf(separator);
  if (at < 0) return { key: null, value: line };
  return { key: line.slice(0, at), value: line.slice(at + separator.length) };
}

function fromJson(line: string, lineNo: number): Message {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    throw new Error(
      `line ${lineNo} is not valid JSON (with --format json each line is {"key","value","headers"})`,
    );
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed) || !('value' in parsed)) {
    throw new Error(`line ${lineNo}: expected an object with a "value" field, like {"key":"k","value":"v"}`);
  }
  const o = parsed as {
    key?: unknown;
    value: unknown;
    headers?: unknown;
    partition?: unknown;
    timestamp?: unknown;
  };
  const text = (v: unknown) =>
    v === null || v === undefined ? null : typeof v === 'string' ? v : JSON.stringify(v);
  const message: Message = { key: text(o.key), value: text(o.value) };
  if (o.headers !== undefined) {
    if (!o.headers || typeof o.headers !== 'object' || Array.isArray(o.headers)) {
      throw new Error(
        `line ${lineNo}: "headers" must be an object of strings, nulls or arrays of them (a repeated header)`,
      );
    }
    const headers: IHeaders = {};
    for (const [k, v] of Object.entries(o.headers)) headers[k] = Array.isArray(v) ? v.map(text) : text(v);
    message.headers = headers;
  }
  if (o.partition !== undefined) {
    if (!Number.isInteger(o.partition) || (o.partition as number) < 0) {
      throw new Error(`line ${lineNo}: "partition" must be a non-negative integer`);
    }
    message.partition = o.partition as number;
  }
  if (o.timestamp !== undefined) message.timestamp = String(o.timestamp);
  return message;
}

function mib(bytes: number): string {
  return bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function rate(n: number, secs: number): string {
  return secs > 0 ? Math.round(n / secs).toString() : '-';
}
