import { type AddressInfo, isIPv6 } from 'node:net';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import type { Config } from './config.js';
import { httpServerOptions } from './plugins/hardening.js';
import { METRICS_LISTENER } from './plugins/use-metrics.js';
import type { Server } from './server.js';

/** The listeners of one server: PORT, and METRICS_PORT when set. */
export interface Listeners {
  http: HttpServer;
  metrics: HttpServer | undefined;
  /** Where each one is bound, as the start lines say it: `127.0.0.1:4000`, `[::]:4000`. */
  httpAddress: string;
  metricsAddress: string | undefined;
  /** The URL to open for GraphQL: the bound address, or localhost when bound to every interface. */
  graphqlUrl: string;
  metricsUrl: string | undefined;
  /**
   * Stops accepting connections and closes idle keep-alive ones; resolves when every busy one has
   * finished its request.
   */
  close(): Promise<void>;
}

/** A listener that could not be bound; its message is the one line main.ts prints. */
export class ListenError extends Error {
  readonly code = 'E_LISTEN';
  constructor(variable: string, port: number, host: string | undefined, cause: unknown) {
    const reason = (cause as { code?: unknown })?.code;
    const detail =
      reason === 'EADDRINUSE'
        ? 'the address is already in use (EADDRINUSE)'
        : reason === 'EADDRNOTAVAIL'
          ? 'no interface of this machine has that address (EADDRNOTAVAIL)'
          : reason === 'EACCES'
            ? 'permission denied (EACCES; ports below 1024 need privileges)'
            : cause instanceof Error
              ? cause.message
              : String(cause);
    super(`cannot listen on ${variable} ${port} (${host ?? 'every interface'}): ${detail}`, { cause });
    this.name = 'ListenError';
  }
}

/**
 * Binds `app` on PORT (at HOST, or every interface) and, with METRICS_PORT, the metrics-only
 * listener at METRICS_HOST (loopback unless set). Rejects with ListenError, having closed whatever
 * it bound, when either cannot be bound.
 */
export async function listen(
  app: Pick<Server, 'handler' | 'yoga'>,
  config: Pick<Config, 'port' | 'host' | 'metricsPort' | 'metricsHost' | 'limits'>,
): Promise<Listeners> {
  // A client must send its headers within HEADERS_TIMEOUT_MS and its whole request within
  // REQUEST_TIMEOUT_MS, or Node answers 408 and closes the connection (slow clients hold no socket).
  const http = createHttpServer(httpServerOptions(config.limits), app.handler);
  await bind(http, config.port, config.host).catch((error: unknown) => {
    throw new ListenError('PORT', config.port, config.host, error);
  });
  // With METRICS_PORT, /metrics is served there only, without a token: METRICS_HOST keeps it on
  // loopback unless the operator says otherwise. The same handler marks these requests, and
  // answers nothing else on this port.
  let metrics: HttpServer | undefined;
  if (config.metricsPort !== undefined) {
    const server = createHttpServer(httpServerOptions(config.limits), (request, response) =>
      app.yoga(request, response, { [METRICS_LISTENER]: true }),
    );
    try {
      await bind(server, config.metricsPort, config.metricsHost);
    } catch (error) {
      await stop(http);
      throw new ListenError('METRICS_PORT', config.metricsPort, config.metricsHost, error);
    }
    metrics = server;
  }
  const httpBound = http.address() as AddressInfo;
  const metricsBound = metrics?.address() as AddressInfo | undefined;
  return {
    http,
    metrics,
    httpAddress: hostPort(httpBound),
    metricsAddress: metricsBound === undefined ? undefined : hostPort(metricsBound),
    graphqlUrl: `${origin(httpBound)}/graphql`,
    metricsUrl: metricsBound === undefined ? undefined : `${origin(metricsBound)}/metrics`,
    close: async () => {
      await Promise.all([http, metrics].map((server) => server && stop(server)));
    },
  };
}

function bind(server: HttpServer, port: number, host: string | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    if (host === undefined) server.listen(port, onListening);
    else server.listen(port, host, onListening);
  });
}

/** Stops accepting; idle keep-alive sockets are closed, busy ones finish their request. */
function stop(server: HttpServer): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}

function hostPort({ address, port }: AddressInfo): string {
  return `${isIPv6(address) ? `[${address}]` : address}:${port}`;
}

/** http://address:port, with localhost for an unspecified address (every interface). */
function origin(bound: AddressInfo): string {
  const everywhere = bound.address === '::' || bound.address === '0.0.0.0';
  return `http://${everywhere ? `localhost:${bound.port}` : hostPort(bound)}`;
}
