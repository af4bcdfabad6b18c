/**
 * The entry point of the SDK: one object per cluster, holding the transport, the retry
 * policy and cached metadata; it makes producers, consumers and admins (as kafkajs'
 * `new Kafka(...)` does).
 */
import { Admin } from './admin.js';
import { SluiceApi } from './api.js';
import { Consumer } from './consumer/consumer.js';
import type { ConsumerConfig } from './consumer/types.js';
import { SluiceArgumentError } from './errors.js';
import { createLogger, type LogCreator, logLevel } from './logger.js';
import type { Bytes } from './messages.js';
import type { InboxConfig } from './producer/inbox.js';
import { Producer } from './producer/producer.js';
import type { ProducerConfig } from './producer/types.js';
import type { RetryOptions } from './retry.js';
import { SchemaRegistryClient } from './serdes/registry-client.js';
import { createHttpTransport } from './transport/http.js';
import type { Credentials } from './transport/sigv4.js';
import type { Transport } from './transport/types.js';

export interface SluiceConfig {
  /**
   * One URL of the cluster (any function's Function URL, or `sluice dev`'s
   * `http://127.0.0.1:8092`); the others are read from `GET /v1/metadata`.
   */
  endpoint: string;
  /** AWS region for signing; by default taken from the Function URL, then AWS_REGION. */
  region?: string;
  /**
   * AWS credentials (or a provider). Requests to Function URLs are SigV4-signed with the
   * credentials of the environment (AWS_ACCESS_KEY_ID, …) when omitted, else the AWS SDK's
   * chain if `@aws-sdk/credential-provider-node` is installed; giving credentials signs any endpoint.
   */
  credentials?: Credentials;
  /** @default logLevel.INFO */
  logLevel?: logLevel;
  logCreator?: LogCreator;
  /** Default retry policy of every client (kafkajs' options and defaults). */
  retry?: RetryOptions;
  /** Per-request timeout in ms (long polls included). @default 30000 */
  requestTimeout?: number;
  /** Replace the transport (tests, tracing, fault injection): see `createHttpTransport`. */
  transport?: Transport;
  /** Topic metadata older than this is re-read (ms). @default 300000 */
  metadataMaxAge?: number;
  /** kafkajs: accepted and ignored (requests are not tagged with a client id). */
  clientId?: string;
  /**
   * How acks=1 and acks=0 sends reach the inbox: by default straight to the SQS queue that
   * `GET /v1/metadata` names (signed with `credentials`, else the environment's; no Sluice
   * function invoked per send), else through `POST /v1/inbox`.
   */
  inbox?: InboxConfig;
}

/**
 * A Sluice cluster.
 *
 * @example
 * import { Sluice } from 'sluice';
 *
 * const sluice = new Sluice({ endpoint: 'http://127.0.0.1:8092' });
 * const producer = sluice.producer();
 * await producer.connect();
 * await producer.send({ topic: 'orders', messages: [{ key: 'o-1', value: 'hello' }] });
 */
export class Sluice {
  private readonly api: SluiceApi;
  private readonly config: SluiceConfig;

  constructor(config: SluiceConfig) {
    if (!config || typeof config.endpoint !== 'string') {
      throw new SluiceArgumentError(
        "new Sluice({ endpoint }) needs the cluster's URL, e.g. http://127.0.0.1:8092",
      );
    }
    let url: URL;
    try {
      url = new URL(config.endpoint);
    } catch (cause) {
      throw new SluiceArgumentError(
        `endpoint '${config.endpoint}' is not a URL (e.g. http://127.0.0.1:8092)`,
        { cause },
      );
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new SluiceArgumentError(`endpoint '${config.endpoint}' must be an http(s) URL`);
    }
    this.config = config;
    const logger = createLogger(config.logLevel ?? logLevel.INFO, config.logCreator);
    this.api = new SluiceApi({
      endpoint: url.origin,
      transport:
        config.transport ??
        createHttpTransport({
          endpoint: config.endpoint,
          region: config.region,
          credentials: config.credentials,
          requestTimeout: config.requestTimeout,
        }),
      retry: config.retry,
      logger,
      metadataMaxAge: config.metadataMaxAge,
      inbox: {
        credentials: config.credentials,
        region: config.region,
        requestTimeout: config.requestTimeout,
        ...config.inbox,
      },
    });
  }

  /**
   * The cluster's schema registry (Confluent-compatible, served under `/schemas`), through
   * this client's transport — signed like every other request — for the schema serdes.
   *
   * @example
   * const registry = sluice.schemaRegistry();
   * const producer = sluice.producer({ valueSerializer: Serializers.avro({ registry, schema }) });
   */
  schemaRegistry(): SchemaRegistryClient {
    const decoder = new TextDecoder();
    return new SchemaRegistryClient({
      requester: async (method, path, body) => {
        const res = await this.api.exchange('schemas', {
          method,
          path: `/schemas${path}`,
          json: body,
          headers: { accept: 'application/vnd.schemaregistry.v1+json' },
        });
        const text = decoder.decode(res.body);
        let parsed: unknown;
        try {
          parsed = text ? JSON.parse(text) : undefined;
        } catch {
          parsed = { message: text.slice(0, 300) };
        }
        return { status: res.status, body: parsed };
      },
    });
  }

  /**
   * @example
   * const producer = sluice.producer({ lingerMs: 10, compression: 'zstd' });
   */
  producer<K = Bytes, V = Bytes>(config: ProducerConfig<K, V> = {}): Producer<K, V> {
    return new Producer<K, V>(this.api, this.logger(), { retry: this.config.retry, ...config });
  }

  /**
   * @example
   * const consumer = sluice.consumer({ groupId: 'billing' });
   */
  consumer<K = Buffer, V = Buffer>(config: ConsumerConfig<K, V> = {}): Consumer<K, V> {
    return new Consumer<K, V>(this.api, this.logger(), { retry: this.config.retry, ...config });
  }

  /**
   * @example
   * const admin = sluice.admin();
   * await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 6 }] });
   */
  admin(): Admin {
    return new Admin(this.api);
  }

  private logger() {
    return this.api.logger;
  }
}
