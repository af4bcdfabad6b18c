/**
 * Structured logs (Powertools Logger) and EMF metrics (Powertools Metrics) per topic:
 * BytesIn, RecordsIn, BytesOut, RecordsOut. Metrics are emitted only inside Lambda (or
 * with SLUICE_METRICS=1), so `sluice dev` keeps a quiet terminal.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

export type MetricName = 'BytesIn' | 'RecordsIn' | 'BytesOut' | 'RecordsOut';
export type GaugeName = 'ConsumerLag' | 'InboxAge';

export interface Telemetry {
  logger: Logger;
  /** Adds to a per-topic metric; flushed once per invocation. */
  count(topic: string, name: MetricName, value: number): void;
  /** Records a per-topic level; the largest value of the invocation is published. */
  gauge(topic: string, name: GaugeName, value: number): void;
  flush(): void;
}

export function createTelemetry(env: NodeJS.ProcessEnv = process.env): Telemetry {
  const inLambda = env.AWS_LAMBDA_FUNCTION_NAME !== undefined || env.SLUICE_METRICS === '1';
  const logger = new Logger({
    serviceName: env.POWERTOOLS_SERVICE_NAME ?? 'sluice',
    logLevel: (env.POWERTOOLS_LOG_LEVEL ?? (inLambda ? 'INFO' : 'WARN')) as 'INFO',
  });
  const namespace = env.POWERTOOLS_METRICS_NAMESPACE ?? 'Sluice';
  const pending = new Map<string, number>();
  const gauges = new Map<string, number>();
  const publish = (key: string, value: number) => {
    const [topic, name] = key.split('\u0000') as [string, MetricName | GaugeName];
    const m = new Metrics({ namespace, serviceName: env.POWERTOOLS_SERVICE_NAME ?? 'sluice' });
    m.addDimension('topic', topic);
    m.addMetric(
      name,
      name.startsWith('Bytes')
        ? MetricUnit.Bytes
        : name === 'InboxAge'
          ? MetricUnit.Milliseconds
          : MetricUnit.Count,
      value,
    );
    m.publishStoredMetrics();
  };
  return {
    logger,
    count(topic, name, value) {
      if (!inLambda || value === 0) return;
      const key = `${topic}\u0000${name}`;
      pending.set(key, (pending.get(key) ?? 0) + value);
    },
    gauge(topic, name, value) {
      if (!inLambda) return;
      const key = `${topic}\u0000${name}`;
      gauges.set(key, Math.max(gauges.get(key) ?? 0, value));
    },
    flush() {
      for (const [key, value] of gauges) publish(key, value);
      gauges.clear();
      for (const [key, value] of pending) publish(key, value);
      pending.clear();
    },
  };
}
