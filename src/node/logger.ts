import { pino, type Logger } from "pino";

/**
 * The node's logger: JSON lines, with credentials and bodies redacted wherever they might
 * appear. Nothing in carechain logs resource contents; the redaction is a second line of defence.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { svc: "carechain" },
      redact: {
        paths: [
          "password",
          "privateKey",
          "token",
          "authorization",
          "*.password",
          "*.privateKey",
          "*.token",
          "*.authorization",
          "req.headers.authorization",
          "headers.authorization",
          "body",
          "*.body",
        ],
        censor: "[redacted]",
      },
    },
    destination ?? process.stdout,
  );
}
