import { createServer as createNetServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { type Listeners, listen } from '../../src/listen.js';
import { freePort } from '../../packages/graphql-flight/tests/helpers/redis.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** HOST and METRICS_HOST, as main.ts binds them (src/listen.ts), read by loadConfig as main.ts does. */
describe('binding PORT at HOST and METRICS_PORT at METRICS_HOST', () => {
  let t: TestServer;
  const open: Listeners[] = [];
  const bind = async (env: Record<string, string>) => {
    const listeners = await listen(t.server, loadConfig(env));
    open.push(listeners);
    return listeners;
  };
  beforeAll(async () => {
    t = await startTestServer();
  }, 90_000);
  afterAll(async () => {
    await Promise.all(open.map((listeners) => listeners.close()));
    await t.close();
  });

  it('binds the metrics port to loopback unless METRICS_HOST says otherwise, and PORT to every interface unless HOST does', async () => {
    const [port, metricsPort] = [await freePort(), await freePort()];
    const listeners = await bind({ PORT: String(port), METRICS_PORT: String(metricsPort) });
    expect(listeners.metrics?.address()).toMatchObject({ address: '127.0.0.1', port: metricsPort });
    expect(['::', '0.0.0.0']).toContain((listeners.http.address() as AddressInfo).address);
    expect(listeners.metricsAddress).toBe(`127.0.0.1:${metricsPort}`);
    expect(listeners.metricsUrl).toBe(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(listeners.graphqlUrl).toBe(`http://localhost:${port}/graphql`);
    expect(listeners.httpAddress).toMatch(new RegExp(`^(\\[::\\]|0\\.0\\.0\\.0):${port}$`));
    // The metrics listener serves /metrics without a token, and nothing else.
    const scrape = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(scrape.status).toBe(200);
    expect(await scrape.text()).toContain('graphql_flight_cache_hits_total');
    expect((await fetch(`http://127.0.0.1:${metricsPort}/ready`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${port}/ready`)).status).toBe(200);
  });

  it('binds PORT to HOST, and METRICS_PORT to METRICS_HOST, and says so in the URLs', async () => {
    const [port, metricsPort] = [await freePort(), await freePort()];
    const listeners = await bind({
      PORT: String(port),
      HOST: '127.0.0.1',
      METRICS_PORT: String(metricsPort),
      METRICS_HOST: '::1',
    });
    expect(listeners.http.address()).toMatchObject({ address: '127.0.0.1', port });
    expect(listeners.metrics?.address()).toMatchObject({ address: '::1', port: metricsPort });
    expect(listeners.graphqlUrl).toBe(`http://127.0.0.1:${port}/graphql`);
    expect(listeners.metricsUrl).toBe(`http://[::1]:${metricsPort}/metrics`);
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
  });

  it('refuses a port in use with one line naming the variable, and releases PORT when METRICS_PORT fails', async () => {
    const taken = createNetServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const busy = (taken.address() as AddressInfo).port;
    try {
      await expect(bind({ PORT: String(busy), HOST: '127.0.0.1' })).rejects.toThrow(
        `cannot listen on PORT ${busy} (127.0.0.1): the address is already in use (EADDRINUSE)`,
      );
      const port = await freePort();
      await expect(
        bind({ PORT: String(port), HOST: '127.0.0.1', METRICS_PORT: String(busy) }),
      ).rejects.toThrow(`cannot listen on METRICS_PORT ${busy} (127.0.0.1): the address is already in use`);
      // PORT was bound first, then closed when METRICS_PORT failed: it is free again.
      const again = await bind({ PORT: String(port), HOST: '127.0.0.1' });
      expect(again.http.address()).toMatchObject({ port });
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });
});
