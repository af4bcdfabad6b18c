/**
 * Broker-side schema validation (topic config `value.schema.validation` / `key.schema.validation`)
 * against `sluice dev` on files + SQLite and on moto: produce refuses, with a 400 naming the
 * record, any record whose schema id is absent or not registered under the topic's
 * subject, and appends nothing of that request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Serializers, SluiceProtocolError } from '../../sdk/index.js';
import { api } from '../helpers/http.js';
import { type Harness, startHarness, topicName } from '../sdk/harness.js';

const schema = { type: 'record', name: 'V', fields: [{ name: 'n', type: 'int' }] };

describe.each(['sqlite', 'aws'] as const)('schema validation on produce (%s)', (kind) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(kind);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('accepts registered ids, refuses the rest by record, appends nothing refused', async () => {
    const topic = topicName('validated');
    const admin = h.sluice.admin();
    await admin.createTopics({
      topics: [{ topic, configEntries: [{ name: 'value.schema.validation', value: 'true' }] }],
    });
    const registry = h.sluice.schemaRegistry();
    const good = h.sluice.producer({ valueSerializer: Serializers.avro({ registry, schema }) });
    await good.connect();
    await good.send({ topic, messages: [{ value: { n: 1 } }, { key: 'k', value: null }] });
    await good.disconnect();

    const plain = h.sluice.producer();
    await plain.connect();
    const err = await plain
      .send({ topic, messages: [{ value: Buffer.from([0, 0, 0, 0, 1, 2]) }, { value: 'no schema id' }] })
      .catch((e) => e);
    expect(err).toBeInstanceOf(SluiceProtocolError);
    expect(err.code).toBe('INVALID_RECORD');
    expect(err.message).toMatch(/record 1: the value carries no schema id/);
    // An id that exists, but under another subject.
    const other = Serializers.avro({ registry, schema: { ...schema, name: 'W' } });
    await other.prepare?.({ topic: `${topic}-other` });
    const foreign = Buffer.from(other({ n: 2 }, { topic: `${topic}-other` }) as Uint8Array);
    const err2 = await plain.send({ topic, messages: [{ value: foreign }] }).catch((e) => e);
    expect(err2.code).toBe('INVALID_RECORD');
    expect(err2.message).toMatch(
      new RegExp(`schema id \\d+ is not registered under subject '${topic}-value'`),
    );
    await plain.disconnect();

    // The JSON produce path checks too, naming the record by its index.
    const http = api(h.url);
    const res = await http.post('/v1/produce', {
      topic,
      encoding: 'base64',
      records: [{ value: foreign.toString('base64') }],
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'INVALID_RECORD' });
    expect(res.body.error.message).toMatch(/^records\.0: /);

    const [p0] = await admin.fetchTopicOffsets(topic);
    expect(p0!.high).toBe('2'); // only the two accepted records
  });

  it('is off by default and refuses a config value that is not a boolean', async () => {
    const topic = topicName('unvalidated');
    const admin = h.sluice.admin();
    await admin.createTopics({ topics: [{ topic }] });
    const plain = h.sluice.producer();
    await plain.connect();
    await plain.send({ topic, messages: [{ value: 'anything' }] });
    await plain.disconnect();
    const http = api(h.url);
    const res = await http.post('/v1/topics', {
      name: topicName('bad'),
      config: { 'key.schema.validation': 'yes' },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('INVALID_CONFIG');
  });
});
