/** rabbitmqctl's exit codes (the BSD sysexits it uses) and the error that carries one. */

export const EX_OK = 0;
/** Bad command line: unknown command or option, wrong number of arguments. */
export const EX_USAGE = 64;
/** The arguments are well formed but wrong: bad JSON, unknown column, invalid value. */
export const EX_DATAERR = 65;
/** The input file cannot be read (import_definitions). */
export const EX_NOINPUT = 66;
/** No such user. */
export const EX_NOUSER = 67;
/** The broker cannot be reached. */
export const EX_UNAVAILABLE = 69;
/** Anything else that failed (rabbitmqctl's "Error:" answers for unknown objects use it too). */
export const EX_SOFTWARE = 70;
/** warrenctl only: the management API refused the credentials (rabbitmqctl authenticates by Erlang cookie). */
export const EX_NOPERM = 77;

/** A failure with the exit code and the text rabbitmqctl would print on stderr. */
export class CtlError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

/** An argument validation failure: printed with the command's usage, exit 64 (or 65 for a bad file argument). */
export class UsageError extends CtlError {
  constructor(message: string, code = EX_USAGE) {
    super(code, message);
  }
}
