import { pino, type Logger } from 'pino';
import { PinoPretty } from 'pino-pretty';

export type { Logger };

/**
 * Structured JSON logs on stdout. Credentials never reach a log line: the redact paths cover every
 * place a key or token travels, and upstream error text is passed through `Redactor` first.
 * `pretty` (LOG_FORMAT=pretty) formats the same lines for a terminal, in process: for development,
 * not for log shippers.
 */
export function createLogger(level: string, destination?: pino.DestinationStream, options: { pretty?: boolean } = {}): Logger {
  const target =
    destination ??
    (options.pretty ? PinoPretty({ colorize: process.stdout.isTTY, sync: true, ignore: 'pid,hostname,service' }) : undefined);
  return pino(
    {
      level,
      base: { service: 'chatql' },
      redact: {
        paths: [
          'apiKey',
          '*.apiKey',
          'authorization',
          '*.authorization',
          'headers.authorization',
          '*.headers.authorization',
          'headers.cookie',
          '*.headers.cookie',
        ],
        censor: '[redacted]',
      },
    },
    target,
  );
}
