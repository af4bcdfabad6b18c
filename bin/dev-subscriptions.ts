/**
 * Subscriptions in `sluice dev`: the same dispatcher and scheduler as in AWS, triggered by
 * the notifying MetaStore (a produce's head write, a definition's write) instead of a
 * DynamoDB stream, invoking a local module (`./handler.ts#main`) instead of a Lambda
 * function, and appending failure records to `<data-dir>/failures/<destination>.jsonl`
 * instead of an SQS queue.
 */
import { randomUUID } from 'node:crypto';
import { appendFile, mkdir } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InvalidRequestError, SluiceError } from '../core/errors.js';
import { MUTABLE_FIELDS } from '../core/subscriptions/config.js';
import {
  type Dispatcher,
  type FailureDestination,
  type FailureRecord,
  type InvokeOutcome,
  type InvokeTarget,
  type SubscriptionEvent,
  SubscriptionScheduler,
} from '../core/subscriptions/index.js';
import type { SluiceContext } from '../lambdas/context.js';
import { contextDispatcher, subscriptionStore } from '../lambdas/subscriptions-api.js';
import type { NotifyingMetaStore } from '../storage/notifying.js';

type Handler = (event: SubscriptionEvent, context: unknown) => unknown;

/**
 * Invokes `<module path>#<export>` (default export name `handler`), imported once, resolved
 * against `baseDir`. A throw or a rejected promise is a function error, as in Lambda.
 */
export class ModuleInvokeTarget implements InvokeTarget {
  private readonly loaded = new Map<string, Promise<Handler>>();

  constructor(private readonly baseDir = process.cwd()) {}

  private load(target: string): Promise<Handler> {
    let found = this.loaded.get(target);
    if (!found) {
      const hash = target.lastIndexOf('#');
      const file = hash > 0 ? target.slice(0, hash) : target;
      const name = hash > 0 ? target.slice(hash + 1) : 'handler';
      const path = isAbsolute(file) ? file : resolve(this.baseDir, file);
      found = import(pathToFileURL(path).href).then((m: Record<string, unknown>) => {
        const fn = m[name] ?? (m.default as Record<string, unknown> | undefined)?.[name];
        if (typeof fn !== 'function') throw new Error(`${path} exports no function '${name}'`);
        return fn as Handler;
      });
      found.catch(() => this.loaded.delete(target));
      this.loaded.set(target, found);
    }
    return found;
  }

  async invoke(target: string, event: SubscriptionEvent): Promise<InvokeOutcome> {
    try {
      const fn = await this.load(target);
      const response = await fn(structuredClone(event), {
        awsRequestId: randomUUID(),
        functionName: target,
        getRemainingTimeInMillis: () => 60_000,
      });
      return { ok: true, response: response === undefined ? null : JSON.parse(JSON.stringify(response)) };
    } catch (error) {
      return { ok: false, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
    }
  }
}

/** Appends each failure record as one JSON line to `<dir>/<destination>.jsonl`. */
export class FileFailureDestination implements FailureDestination {
  constructor(private readonly dir: string) {}

  async send(destination: string, record: FailureRecord): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await appendFile(failureFile(this.dir, destination), `${JSON.stringify(record)}\n`);
  }
}

/** `<dir>/<destination>.jsonl`, the destination's unsafe characters as `_`. */
function failureFile(dir: string, destination: string): string {
  return join(dir, `${destination.replace(/[^a-zA-Z0-9._-]/g, '_')}.jsonl`);
}

/** A `--subscription topic=orders,handler=./handler.ts#main[,name=…][,key=value…]` flag. */
export function parseSubscriptionFlag(flag: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const part of flag.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new InvalidRequestError(`--subscription: '${part}' is not key=value`, 'subscription');
    const key = part.slice(0, eq).trim();
    const raw = part.slice(eq + 1).trim();
    const value = /^-?\d+$/.test(raw) ? Number(raw) : raw === 'true' ? true : raw === 'false' ? false : raw;
    out[key === 'handler' ? 'target' : key] = value;
  }
  if (typeof out.topic !== 'string' || typeof out.target !== 'string')
    throw new InvalidRequestError(
      '--subscription needs topic=<topic> and handler=<module>#<export>',
      'subscription',
    );
  if (out.name === undefined) out.name = defaultName(out.topic, out.target);
  return out;
}

/**
 * A `--subscriptions-file`: JSON, either an array of definitions or `{"subscriptions": [...]}`,
 * each as the body of `POST /v1/subscriptions` with `handler` (or `target`) naming
 * `<module>#<export>`; `name` defaults as for `--subscription`. Settings the flag cannot
 * spell (`filters`, a `startingPosition` timestamp) go here.
 * @throws InvalidRequestError naming the file and the entry.
 */
export function parseSubscriptionsFile(text: string, path: string): Record<string, unknown>[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new InvalidRequestError(`${path}: not JSON (${(error as Error).message})`, 'subscriptions');
  }
  const list =
    raw && typeof raw === 'object' && !Array.isArray(raw)
      ? (raw as { subscriptions?: unknown }).subscriptions
      : raw;
  if (!Array.isArray(list))
    throw new InvalidRequestError(
      `${path}: expected an array of subscriptions or {"subscriptions": [...]}`,
      'subscriptions',
    );
  return list.map((entry, i) => {
    if (!entry || typeof entry !== 'object' || Array.isArray(entry))
      throw new InvalidRequestError(`${path}: subscriptions[${i}] is not an object`, 'subscriptions');
    const { handler, ...rest } = entry as Record<string, unknown>;
    const def: Record<string, unknown> = { ...rest, ...(handler !== undefined && { target: handler }) };
    if (typeof def.topic !== 'string' || typeof def.target !== 'string')
      throw new InvalidRequestError(
        `${path}: subscriptions[${i}] needs "topic" and "handler": "<module>#<export>"`,
        'subscriptions',
      );
    def.name ??= defaultName(def.topic, def.target);
    return def;
  });
}

function defaultName(topic: string, target: string): string {
  return `${topic}-${target.replace(/^.*[\\/]/, '').replace(/[^a-zA-Z0-9._-]/g, '-')}`;
}

export interface DevSubscriptions {
  scheduler: SubscriptionScheduler;
  dispatcher: Dispatcher;
  stop(): Promise<void>;
}

export interface DevSubscriptionOptions {
  /** `--subscription` definitions to create (or whose target to update) at start. */
  definitions?: Record<string, unknown>[];
  /** Where module paths are resolved. @default process.cwd() */
  baseDir?: string;
  /** Where failure records go. @default `<data-dir>/failures` */
  failuresDir: string;
  invoker?: InvokeTarget;
  failures?: FailureDestination;
}

/** Starts dispatching subscriptions on every change `notifying` reports. */
export async function startDevSubscriptions(
  ctx: SluiceContext,
  notifying: NotifyingMetaStore,
  options: DevSubscriptionOptions,
): Promise<DevSubscriptions> {
  const store = subscriptionStore(ctx);
  const logger = ctx.telemetry.logger;
  const invoker = options.invoker ?? new ModuleInvokeTarget(options.baseDir);
  const failures = options.failures ?? new FileFailureDestination(options.failuresDir);
  const dispatcher = contextDispatcher(ctx, store, {
    // What Lambda shows in CloudWatch, on the terminal: a handler's error (the batch is retried
    // from its first failed record) and records given up on (their failure record's place).
    invoker: {
      async invoke(target, event) {
        const outcome = await invoker.invoke(target, event);
        if (!outcome.ok) {
          const [partition, records = []] = Object.entries(event.records)[0] ?? [];
          logger.warn(
            'subscription handler failed: the batch is retried up to maxRetryAttempts, then given up to onFailure',
            {
              handler: target,
              partition,
              offsets: records.length ? `${records[0]!.offset}-${records.at(-1)!.offset}` : undefined,
              error: outcome.error,
            },
          );
        }
        return outcome;
      },
    },
    failures: {
      async send(destination, record) {
        await failures.send(destination, record);
        logger.error('subscription gave up on records: failure record sent to its onFailure destination', {
          destination: options.failures ? destination : failureFile(options.failuresDir, destination),
          ...record,
        });
      },
    },
    owner: `dev-${randomUUID()}`,
    leaseTtlMs: 60_000,
  });
  const scheduler = new SubscriptionScheduler({
    dispatcher,
    topics: ctx.topics,
    listSubscriptions: () => store.list(),
    clock: ctx.clock,
    onError: (error, subscription, partition) =>
      ctx.telemetry.logger.warn('subscription dispatch failed', {
        subscription,
        partition,
        error: error as Error,
      }),
  });
  const warn = (error: unknown) => ctx.telemetry.logger.warn('subscription trigger failed', error as Error);
  // Definitions given at start whose topic does not exist yet: created once it does (as a
  // Lambda event source mapping waits for its topic), retried on the next write to the store.
  let waiting: Record<string, unknown>[] = [];
  let retrying: Promise<void> | undefined;
  const createWaiting = async () => {
    const still: Record<string, unknown>[] = [];
    for (const def of waiting) if (!(await apply(def))) still.push(def);
    waiting = still;
  };
  const unsubscribe = notifying.onChange((changed) => {
    if (waiting.length > 0 && !retrying)
      retrying = createWaiting()
        .catch(warn)
        .finally(() => {
          retrying = undefined;
        });
    void scheduler.changed(changed).catch(warn);
  });
  /** Creates or updates one definition; false when its topic does not exist yet. */
  const apply = async (def: Record<string, unknown>): Promise<boolean> => {
    const existing = await store.find(String(def.name));
    // A definition given again at start wins over its stored settings (those it names).
    if (existing) {
      await store.update(
        existing.name,
        Object.fromEntries(MUTABLE_FIELDS.filter((f) => def[f] !== undefined).map((f) => [f, def[f]])),
      );
      return true;
    }
    try {
      const created = await store.create(def);
      if (waiting.includes(def)) {
        logger.info('subscription created: its topic exists now', { subscription: created.name });
        void scheduler.kick(created.name).catch(warn);
      }
      return true;
    } catch (error) {
      if (!(error instanceof SluiceError && error.code === 'UNKNOWN_TOPIC_OR_PARTITION')) throw error;
      return false;
    }
  };
  for (const def of options.definitions ?? []) {
    if (await apply(def)) continue;
    waiting.push(def);
    logger.warn(
      `subscription '${String(def.name)}' waits for topic '${String(def.topic)}': it starts once the topic is created (sluice topics create ${String(def.topic)})`,
    );
  }
  // Deliver what arrived while the server was down.
  for (const sub of await store.list()) void scheduler.kick(sub.name).catch(warn);
  return {
    scheduler,
    dispatcher,
    async stop() {
      unsubscribe();
      await scheduler.idle();
    },
  };
}
