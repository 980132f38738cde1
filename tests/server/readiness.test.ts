import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReadiness } from '../../src/plugins/readiness.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** The readiness check's own rules, on the suite's real data source, its `ping` counted. */
describe('the readiness check', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  }, 90_000);
  afterAll(async () => {
    await t?.close();
  });

  function counted() {
    const data = t.server.data;
    const counter = {
      pings: 0,
      data: {
        kind: data.kind,
        ping: () => {
          counter.pings++;
          return data.ping();
        },
      },
    };
    return counter;
  }

  it('answers a flood of probes with one SELECT 1, and checks again once the report is maxAgeMs old', async () => {
    const counter = counted();
    let now = 0;
    const readiness = createReadiness({ data: counter.data, cache: t.server.cache, now: () => now });
    const reports = await Promise.all(Array.from({ length: 100 }, () => readiness.check()));
    expect(counter.pings).toBe(1);
    for (const report of reports) expect(report).toBe(reports[0]);
    now += 999;
    await readiness.check();
    expect(counter.pings).toBe(1);
    now += 1;
    expect((await readiness.check()).ready).toBe(true);
    expect(counter.pings).toBe(2);
  });
});
