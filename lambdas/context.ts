/**
 * What every handler runs on: the stores, the engine objects built over them, the clock
 * and randomness, configuration from the environment. Built once per Lambda instance
 * (module scope survives between invocations), so topic metadata and partition heads stay
 * cached while the instance is warm. `sluice dev` builds one and serves every handler
 * from it.
 */
import { Appender } from '../core/append.js';
import { ByteLru } from '../core/cache.js';
import type { Clock, Random } from '../core/clock.js';
import { Reader } from '../core/fetch.js';
import type { GroupConfig, TopicView } from '../core/groups/index.js';
import type { InboxAddress, InboxSender } from '../core/inbox/queue.js';
import type { MetaStore, ObjectStore } from '../core/ports.js';
import { SchemaRegistry } from '../core/schemas/registry.js';
import { SchemaValidator } from '../core/schemas/validation.js';
import { Topics } from '../core/topics.js';
import { TransactionCoordinator } from '../core/transactions/index.js';
import { regionOfQueueUrl, regionOfStreamArn } from '../storage/inbox-address.js';
import { groupConfigFromEnv } from './group-config.js';
import type { HandlerHooks } from './http.js';
import { createTelemetry, type Telemetry } from './telemetry.js';

export interface Endpoints {
  produce: string;
  fetch: string;
  admin: string;
  groups: string;
  /** The schema registry function (its API is under `/schemas`); absent in older deployments. */
  schemas?: string;
}

export interface SluiceContext {
  meta: MetaStore;
  objects: ObjectStore;
  clock: Clock;
  random: Random;
  topics: Topics;
  appender: Appender;
  reader: Reader;
  /** Transactional producers (exactly-once). */
  transactions: TransactionCoordinator;
  telemetry: Telemetry;
  /** The Confluent-compatible schema registry over the same MetaStore. */
  schemas: SchemaRegistry;
  /** Checks records of topics with `value.schema.validation` / `key.schema.validation` on. */
  schemaValidator: SchemaValidator;
  clusterId: string;
  /** The function URLs; `origin` is the URL this request came to (used when unset). */
  endpoints(origin: string): Promise<Endpoints>;
  /** Consumer-group settings (assignor, heartbeat interval) from the environment. */
  groupConfig: Partial<GroupConfig>;
  /** The acks=1 inbox (`storage/inbox-config.ts`), opened on first use; `undefined` when there is none. */
  inbox(): Promise<InboxSender | undefined>;
  /**
   * Where the batcher sends the messages of a Kinesis inbox it can never commit (a stream
   * cannot drop one record): the SQS queue at SLUICE_INBOX_DLQ_URL; `undefined` when unset.
   */
  inboxDeadLetters(): Promise<InboxSender | undefined>;
  /**
   * How clients reach the inbox (`GET /v1/metadata`): an SQS queue or Kinesis stream they
   * may send to themselves, `'http'` when only `POST /v1/inbox` can (the embedded queue),
   * `undefined` without an inbox. Read from SLUICE_INBOX_URL / SLUICE_INBOX_STREAM when set,
   * so a function that never sends to the inbox (fetch, admin, groups: no SQS or Kinesis
   * client in their bundles) can answer it.
   */
  inboxAddress(): Promise<InboxAddress | 'http' | undefined>;
  /** A view of topics for the group coordinator: partition counts and high watermarks. */
  topicView: TopicView;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms))),
};

export interface ContextOptions {
  clock?: Clock;
  random?: Random;
  clusterId?: string;
  /** Fixed endpoints; otherwise from SLUICE_ENDPOINTS / SLUICE_ENDPOINTS_PARAMETER / the request. */
  endpoints?: Endpoints;
  env?: NodeJS.ProcessEnv;
  /** Consumer-group settings; the groups handler reads SLUICE_GROUP_* from the environment. */
  groupConfig?: Partial<GroupConfig>;
  /** Topic metadata cache lifetime (ms). */
  topicCacheTtlMs?: number;
  /** The acks=1 inbox; otherwise chosen from the environment on first use. */
  inbox?: InboxSender;
  /** The Kinesis inbox's dead-letter queue; otherwise SLUICE_INBOX_DLQ_URL's, on first use. */
  inboxDeadLetters?: InboxSender;
  /**
   * Cross-instance combining of contended commits (core/intents.ts); otherwise
   * `SLUICE_COMBINE` (`0`/`false` off, `1`/`true` on), otherwise the Appender's default.
   */
  combine?: boolean;
}

/** Builds a context over given stores (tests, `sluice dev`, the in-process SDK transport). */
export function createContext(
  stores: { meta: MetaStore; objects: ObjectStore },
  options: ContextOptions = {},
): SluiceContext {
  const env = options.env ?? process.env;
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  // Each engine object is built on first use: a function builds only what its routes touch
  // (the produce function never builds the Reader's cache, the schema registry or the
  // group view; fetch never builds the Appender), and builds it once per instance.
  const topics = once(() => new Topics(stores.meta, { clock, random, cacheTtlMs: options.topicCacheTtlMs }));
  const appender = once(
    () =>
      new Appender({
        ...stores,
        topics: topics(),
        clock,
        random,
        combine: options.combine ?? flagFromEnv(env.SLUICE_COMBINE),
      }),
  );
  const reader = once(() => {
    const cacheMb = Number(env.SLUICE_FETCH_CACHE_MB ?? 64);
    const cache = new ByteLru<Uint8Array>(
      (Number.isFinite(cacheMb) && cacheMb >= 0 ? cacheMb : 64) * 1024 * 1024,
    );
    // SLUICE_READ_ONLY: the fetch function's role cannot write (lib/data-access.ts).
    return new Reader({ ...stores, topics: topics(), clock, cache, readOnly: env.SLUICE_READ_ONLY === '1' });
  });
  const endpoints = endpointResolver(env, options.endpoints);
  let inbox: Promise<InboxSender | undefined> | undefined = options.inbox && Promise.resolve(options.inbox);
  let deadLetters: Promise<InboxSender | undefined> | undefined =
    options.inboxDeadLetters && Promise.resolve(options.inboxDeadLetters);
  const schemas = once(() => new SchemaRegistry({ meta: stores.meta, clock, random }));
  const schemaValidator = once(() => new SchemaValidator(schemas(), clock));
  const topicView = once(
    (): TopicView => ({
      async partitionCount(topic: string) {
        try {
          return (await topics().get(topic)).partitions;
        } catch {
          return undefined;
        }
      },
      highWatermarks: (topic: string, partitions: readonly number[]) =>
        reader().highWatermarks(topic, partitions),
      // From the catalog unless `cached` (see TopicView.topicId).
      topicId: async (topic: string, cached?: boolean) =>
        cached
          ? (
              await topics()
                .get(topic)
                .catch(() => undefined)
            )?.id
          : (await topics().load(topic))?.id,
    }),
  );
  const transactions = once(
    () =>
      new TransactionCoordinator({
        meta: stores.meta,
        appender: appender(),
        topicView: topicView(),
        clock,
        random,
      }),
  );
  const telemetry = once(() => createTelemetry(env));
  const groupConfig = once(() => options.groupConfig ?? groupConfigFromEnv(env));
  const openInbox = () => {
    inbox ??= import('../storage/inbox-config.js')
      .then(({ inboxFromEnv }) => inboxFromEnv(env))
      .then((i) => i?.queue)
      .catch((err) => {
        inbox = undefined;
        throw err;
      });
    return inbox;
  };
  return {
    inbox: openInbox,
    inboxDeadLetters() {
      deadLetters ??= import('../storage/inbox-config.js')
        .then(({ inboxDeadLettersFromEnv }) => inboxDeadLettersFromEnv(env))
        .catch((err) => {
          deadLetters = undefined;
          throw err;
        });
      return deadLetters;
    },
    async inboxAddress() {
      if (!options.inbox && env.SLUICE_INBOX_STREAM) {
        const streamArn = env.SLUICE_INBOX_STREAM;
        return { type: 'kinesis', streamArn, region: regionOfStreamArn(streamArn, env) };
      }
      if (!options.inbox && env.SLUICE_INBOX_URL) {
        const queueUrl = env.SLUICE_INBOX_URL;
        return { type: 'sqs', queueUrl, region: regionOfQueueUrl(queueUrl, env) };
      }
      const queue = await openInbox();
      return queue && (queue.address ?? 'http');
    },
    ...stores,
    clock,
    random,
    get topics() {
      return topics();
    },
    get appender() {
      return appender();
    },
    get reader() {
      return reader();
    },
    get transactions() {
      return transactions();
    },
    get schemas() {
      return schemas();
    },
    get schemaValidator() {
      return schemaValidator();
    },
    get telemetry() {
      return telemetry();
    },
    get groupConfig() {
      return groupConfig();
    },
    clusterId: options.clusterId ?? env.SLUICE_CLUSTER_ID ?? 'sluice-local',
    endpoints,
    get topicView() {
      return topicView();
    },
  };
}

/** `make` called on the first call only; its value returned ever after. */
function once<T>(make: () => T): () => T {
  let made = false;
  let value: T;
  return () => {
    if (!made) {
      value = make();
      made = true;
    }
    return value;
  };
}

function endpointResolver(env: NodeJS.ProcessEnv, fixed?: Endpoints): (origin: string) => Promise<Endpoints> {
  if (fixed) return async () => fixed;
  if (env.SLUICE_ENDPOINTS) {
    const parsed = JSON.parse(env.SLUICE_ENDPOINTS) as Endpoints;
    return async () => parsed;
  }
  const parameter = env.SLUICE_ENDPOINTS_PARAMETER;
  if (parameter) {
    let cached: Promise<Endpoints> | undefined;
    return (origin) => {
      cached ??= (async () => {
        const { SSMClient, GetParameterCommand } = await import('@aws-sdk/client-ssm');
        const out = await new SSMClient({}).send(new GetParameterCommand({ Name: parameter }));
        return JSON.parse(out.Parameter?.Value ?? '{}') as Endpoints;
      })().catch((err) => {
        cached = undefined;
        throw err;
      });
      return cached.then((e) => ({
        produce: e.produce ?? origin,
        fetch: e.fetch ?? origin,
        admin: e.admin ?? origin,
        groups: e.groups ?? origin,
        // Absent in deployments without the schema registry function.
        ...(e.schemas ? { schemas: e.schemas } : {}),
      }));
    };
  }
  return async (origin) => ({
    produce: origin,
    fetch: origin,
    admin: origin,
    groups: origin,
    schemas: origin,
  });
}

let defaultContext: Promise<SluiceContext> | undefined;

/** The instance-wide context, built from the environment on first use. */
export function getContext(): Promise<SluiceContext> {
  defaultContext ??= (async () => {
    const { storesFromEnv } = await import('../storage/config.js');
    const stores = await storesFromEnv(process.env);
    return createContext(stores);
  })().catch((err) => {
    defaultContext = undefined;
    throw err;
  });
  return defaultContext;
}

/** Handler hooks over the instance context: errors to the structured log, metrics flushed per invocation. */
export const contextHooks: HandlerHooks = {
  onError(err, req) {
    void getContext()
      .then((ctx) => ctx.telemetry.logger.error('unhandled error', { path: req.path, error: err as Error }))
      .catch(() => console.error(err));
  },
  async after() {
    if (defaultContext) (await defaultContext.catch(() => undefined))?.telemetry.flush();
  },
};

/** `1`/`true`/`on` → true, `0`/`false`/`off` → false, unset or anything else → undefined (the default). */
function flagFromEnv(value: string | undefined): boolean | undefined {
  const v = value?.trim().toLowerCase();
  if (v === '1' || v === 'true' || v === 'on') return true;
  if (v === '0' || v === 'false' || v === 'off') return false;
  return undefined;
}
