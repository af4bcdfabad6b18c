import { afterEach, describe, expect, it, vi } from 'vitest';
import { createTelemetry } from './telemetry.js';

function captureStdout(): { lines: () => string[]; restore: () => void } {
  const out: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  });
  return { lines: () => out.join('').split('\n').filter(Boolean), restore: () => spy.mockRestore() };
}

describe('telemetry', () => {
  afterEach(() => vi.restoreAllMocks());

  it('publishes per-topic sums and the largest gauge value as EMF, once per flush', () => {
    const t = createTelemetry({ SLUICE_METRICS: '1', POWERTOOLS_SERVICE_NAME: 'sluice-test' });
    const cap = captureStdout();
    t.count('orders', 'BytesIn', 100);
    t.count('orders', 'BytesIn', 50);
    t.gauge('orders', 'ConsumerLag', 7);
    t.gauge('orders', 'ConsumerLag', 3);
    t.flush();
    t.flush(); // nothing left
    cap.restore();
    const emf = cap.lines().map((l) => JSON.parse(l));
    const byName = Object.fromEntries(emf.map((e) => [e._aws.CloudWatchMetrics[0].Metrics[0].Name, e]));
    expect(emf).toHaveLength(2);
    expect(byName.BytesIn).toMatchObject({ topic: 'orders', BytesIn: 150 });
    expect(byName.ConsumerLag).toMatchObject({ topic: 'orders', ConsumerLag: 7, service: 'sluice-test' });
  });

  it('stays quiet outside Lambda', () => {
    const t = createTelemetry({});
    const cap = captureStdout();
    t.count('orders', 'RecordsIn', 5);
    t.gauge('orders', 'ConsumerLag', 1);
    t.flush();
    cap.restore();
    expect(cap.lines()).toEqual([]);
  });
});
