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
import { InvalidRequestError } from '../core/errors.js';
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
    const file = join(this.dir, `${destination.replace(/[^a-zA-Z0-9._-]/g, '_')}.jsonl`);
    await appendFile(file, `${JSON.stringify(record)}\n`);
  }
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
  const dispatcher = contextDispatcher(ctx, store, {
    invoker: options.invoker ?? new ModuleInvokeTarget(options.baseDir),
    failures: options.failures ?? new FileFailureDestination(options.failuresDir),
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
  const unsubscribe = notifying.onChange((changed) => void scheduler.changed(changed).catch(warn));
  for (const def of options.definitions ?? []) {
    const existing = await store.find(String(def.name));
    // A definition given again at start wins over its stored settings (those it names).
    if (existing)
      await store.update(
        existing.name,
        Object.fromEntries(MUTABLE_FIELDS.filter((f) => def[f] !== undefined).map((f) => [f, def[f]])),
      );
    else await store.create(def);
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
