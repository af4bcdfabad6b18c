/**
 * Structured logs (Powertools Logger) and EMF metrics (Powertools Metrics) per topic:
 * BytesIn, RecordsIn, BytesOut, RecordsOut. Metrics are emitted only inside Lambda (or
 * with SLUICE_METRICS=1), so `sluice dev` keeps a quiet terminal.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

export type MetricName = 'BytesIn' | 'RecordsIn' | 'BytesOut' | 'RecordsOut';

export interface Telemetry {
  logger: Logger;
  /** Adds to a per-topic metric; flushed once per invocation. */
  count(topic: string, name: MetricName, value: number): void;
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
  return {
    logger,
    count(topic, name, value) {
      if (!inLambda || value === 0) return;
      const key = `${topic}\u0000${name}`;
      pending.set(key, (pending.get(key) ?? 0) + value);
    },
    flush() {
      if (pending.size === 0) return;
      for (const [key, value] of pending) {
        const [topic, name] = key.split('\u0000') as [string, MetricName];
        const m = new Metrics({ namespace, serviceName: env.POWERTOOLS_SERVICE_NAME ?? 'sluice' });
        m.addDimension('topic', topic);
        m.addMetric(name, name.startsWith('Bytes') ? MetricUnit.Bytes : MetricUnit.Count, value);
        m.publishStoredMetrics();
      }
      pending.clear();
    },
  };
}
