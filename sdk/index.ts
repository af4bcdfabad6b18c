/**
 * `import { Sluice } from 'sluice'`: the SDK. See docs/migrating-from-kafkajs.md.
 */
export { Compression, type Partitioner } from '../core/records/index.js';
export type {
  FetchOffsetsPartition,
  GroupDescription,
  GroupOverview,
  ITopicConfig,
  ITopicMetadata,
  MemberDescription,
  PartitionLag,
  PartitionMetadata,
  SeekEntry,
  TopicDescription,
} from './admin.js';
export { Admin, type Subscription, type SubscriptionInput, type SubscriptionLag } from './admin.js';
export type { ClusterMetadata, FunctionName } from './api.js';
export { Consumer } from './consumer/consumer.js';
export {
  type Batch,
  type ConsumerConfig,
  type ConsumerEvent,
  type ConsumerEventName,
  ConsumerEvents,
  type ConsumerRunConfig,
  type ConsumerSubscribeTopics,
  type EachBatchHandler,
  type EachBatchPayload,
  type EachMessageHandler,
  type EachMessagePayload,
  type OffsetsByTopicPartition,
  type TopicPartitionOffset,
  type TopicPartitionOffsetAndMetadata,
  type TopicPartitions,
} from './consumer/types.js';
export {
  AuthorizationFailedError,
  FencedMemberEpochError,
  findCause,
  GroupIdNotFoundError,
  InvalidProducerEpochError,
  InvalidRequestError,
  InvalidTxnStateError,
  MessageTooLargeError,
  NonEmptyGroupError,
  OffsetOutOfRangeError,
  OutOfOrderSequenceNumberError,
  RecordTooLargeError,
  SluiceArgumentError,
  SluiceClientError,
  SluiceConnectionError,
  SluiceNumberOfRetriesExceededError,
  SluiceProtocolError,
  SubscriptionAlreadyExistsError,
  SubscriptionNotFoundError,
  TopicAlreadyExistsError,
  TransactionTooLargeError,
  UnknownMemberIdError,
  UnknownTopicIdError,
  UnknownTopicOrPartitionError,
} from './errors.js';
export { createLogger, type LogCreator, type LogEntry, type Logger, logLevel } from './logger.js';
export type { Bytes, IHeaders, KafkaMessage, Message } from './messages.js';
export { Producer } from './producer/producer.js';
export {
  type CommittedPartition,
  type GroupMetadataSource,
  Transaction,
  type TransactionOffsets,
} from './producer/transaction.js';
export {
  type CompressionOption,
  type CompressionType,
  CompressionTypes,
  type ICustomPartitioner,
  type ProducerBatch,
  type ProducerConfig,
  type ProducerRecord,
  type RecordMetadata,
  type TopicMessages,
} from './producer/types.js';
export { DEFAULT_RETRY, type RetryOptions } from './retry.js';
export {
  SluiceSchemaFormatError,
  SluiceSchemaRegistryError,
  SluiceSchemaValidationError,
} from './serdes/errors.js';
export type {
  ProtobufSerializerOptions,
  SchemaDeserializerOptions,
  SchemaSerializerOptions,
  SubjectNameStrategy,
} from './serdes/index.js';
export {
  type RegisteredSchema,
  type SchemaReference,
  SchemaRegistryClient,
  type SchemaRegistryClientOptions,
  type SchemaType,
} from './serdes/registry-client.js';
export { type Deserializer, Deserializers, type Serializer, Serializers } from './serializers.js';
export { Sluice, type SluiceConfig } from './sluice.js';
export { createHttpTransport, type HttpTransportOptions } from './transport/http.js';
export type { Credentials } from './transport/sigv4.js';
export type { Transport, TransportRequest, TransportResponse } from './transport/types.js';
