import type { BreakerState } from 'graphql-flight';

/** Where the server's operational lines go: `warn` for failures, `info` for recoveries. */
export type LogLine = (level: 'info' | 'warn', line: string) => void;

export interface StoreLogOptions {
  log: LogLine;
  /** At most one line per kind of error (and per kind of probe outcome) in this window. Default 10 000. */
  windowMs?: number;
}

/**
 * The cache's store errors and circuit-breaker changes as log lines (createCache's onStoreError
 * and onStoreStateChange), so a dead Redis is never silent and a flood of failures is a few lines:
 *
 * - An error of a kind (its `code`, else its name: ECONNREFUSED, StoreTimeoutError, ...) not seen
 *   in the last `windowMs` is logged at once. Further ones of that kind in the window are counted,
 *   and at its end one line says how many there were and the last message (a new window starts
 *   then, so a sustained failure gives one line per kind per window).
 * - The circuit opening (closed to open) and closing (to closed) are always logged. The probes of
 *   an open circuit (open to half-open, half-open back to open, once per cooldown while Redis
 *   stays down) are limited like errors.
 */
export interface StoreLog {
  error(error: unknown): void;
  /**
   * A background refresh failed (createCache's onRefreshError: its callers were answered stale,
   * so the log is where the error is seen), limited per kind like store errors.
   */
  refreshError(error: unknown): void;
  stateChange(change: { from: BreakerState; to: BreakerState }): void;
  /**
   * The kind of the last error, for /ready: its code (ECONNREFUSED), else its name, else its
   * message; short, and without the addresses a message may hold. Undefined before any.
   */
  readonly lastError: string | undefined;
  /** Clears the window timers (their pending counts are dropped). */
  close(): void;
}

interface Window {
  suppressed: number;
  last: string;
  timer: ReturnType<typeof setTimeout>;
}

export function createStoreLog(options: StoreLogOptions): StoreLog {
  const windowMs = options.windowMs ?? 10_000;
  const windows = new Map<string, Window>();
  let lastError: string | undefined;

  /**
   * Logs `first(detail)` unless `kind` was already logged in this window; then it is counted, and
   * the window's end logs `summary(count, the last detail)`.
   */
  const limited = (
    kind: string,
    level: 'info' | 'warn',
    detail: string,
    first: (detail: string) => string,
    summary: (count: number, detail: string) => string,
  ) => {
    const open = windows.get(kind);
    if (open !== undefined) {
      open.suppressed++;
      open.last = detail;
      return;
    }
    options.log(level, first(detail));
    const start = () => {
      const window: Window = {
        suppressed: 0,
        last: detail,
        timer: setTimeout(() => {
          windows.delete(kind);
          if (window.suppressed === 0) return;
          options.log(level, summary(window.suppressed, window.last));
          start();
        }, windowMs),
      };
      // A log window never keeps the process alive.
      window.timer.unref?.();
      windows.set(kind, window);
    };
    start();
  };

  const seconds = `${windowMs / 1_000} s`;
  return {
    error(error) {
      const message = oneLine(error instanceof Error ? error.message : String(error)) || 'failed';
      const label = errorLabel(error);
      // A plain Error without a code ("The client is offline") is a kind of its own by its message.
      const kind = label ?? message;
      lastError = kind;
      const head = label === undefined ? 'redis store error' : `redis store error (${label})`;
      limited(
        `error:${kind}`,
        'warn',
        message,
        (detail) => `${head}: ${detail}`,
        (count, detail) => `${head}: ${count} more in the last ${seconds}, the last: ${detail}`,
      );
    },
    refreshError(error) {
      const message = oneLine(error instanceof Error ? error.message : String(error)) || 'failed';
      const label = errorLabel(error);
      const head = label === undefined ? 'background refresh failed' : `background refresh failed (${label})`;
      limited(
        `refresh:${label ?? message}`,
        'warn',
        message,
        (detail) => `${head}, stale values served: ${detail}`,
        (count, detail) => `${head}: ${count} more in the last ${seconds}, the last: ${detail}`,
      );
    },
    stateChange({ from, to }) {
      if (to === 'open' && from === 'closed') {
        options.log(
          'warn',
          'redis circuit open: store calls failed in a row; calls skip Redis and values load from the database (this process only) until a probe answers',
        );
      } else if (to === 'closed') {
        options.log('info', 'redis circuit closed: Redis answers again');
      } else {
        const line =
          to === 'half-open'
            ? 'redis circuit half-open: one probe call to Redis'
            : 'redis circuit open again: the probe failed';
        limited(
          `state:${from}->${to}`,
          to === 'open' ? 'warn' : 'info',
          line,
          (detail) => detail,
          (count, detail) => `${detail} (${count} more times in the last ${seconds})`,
        );
      }
    },
    get lastError() {
      return lastError;
    },
    close() {
      for (const window of windows.values()) clearTimeout(window.timer);
      windows.clear();
    },
  };
}

/** An error's `code` (ECONNREFUSED), else its name unless plain `Error` (StoreTimeoutError). */
function errorLabel(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code !== '') return code;
  if (error instanceof Error && error.name !== '' && error.name !== 'Error') return error.name;
  return undefined;
}

function oneLine(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 300 ? `${line.slice(0, 300)}...` : line;
}
