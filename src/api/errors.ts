/**
 * A configuration or environment problem the user can fix. Apps print the
 * message as one line (no stack trace) and exit with code 2.
 */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

export const EXIT_CONFIG = 2;
