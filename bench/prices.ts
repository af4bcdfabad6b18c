/**
 * One price table for the cost benchmark: AWS list prices, us-east-1, as published on the
 * services' pricing pages in 2025 (DynamoDB on-demand after the November 2024 reduction).
 * Check them before quoting a figure: `PRICES_AS_OF` is the date they were taken.
 */
export const PRICES_AS_OF = '2025-06-01';

export const PRICES = {
  s3: { putPerThousand: 0.005, getPerThousand: 0.0004, storageGbMonth: 0.023 },
  dynamodb: { perMillionWriteUnits: 0.625, perMillionReadUnits: 0.125 },
  sqs: { standardPerMillionRequests: 0.4, fifoPerMillionRequests: 0.5 },
  lambda: { perMillionRequests: 0.2, arm64GbSecond: 0.0000133334 },
  kinesisOnDemand: {
    streamHour: 0.04,
    /** Per GB written; each record rounded up to 1 KB. */
    ingestGb: 0.08,
    /** Per GB read (shared-throughput consumers). */
    retrievalGb: 0.04,
    /** Retention beyond 24 h, up to 7 days, per GB-month. */
    extendedRetentionGbMonth: 0.1,
  },
  kinesisProvisioned: {
    shardHour: 0.015,
    /** PUT payload units of 25 KB, per million. */
    putUnitsPerMillion: 0.014,
    /** Retention beyond 24 h, up to 7 days, per shard-hour. */
    extendedRetentionShardHour: 0.02,
  },
  /** KMS requests Kinesis makes for SSE with `aws/kinesis` (the key itself is free). */
  kms: { perTenThousandRequests: 0.03 },
  mskServerless: {
    clusterHour: 0.75,
    partitionHour: 0.0015,
    inGb: 0.1,
    outGb: 0.05,
    storageGbMonth: 0.1,
  },
} as const;

export const HOURS_PER_MONTH = 730;
export const SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600;
export const GB = 1e9;
