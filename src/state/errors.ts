// Errors of the state layer. Each message says what is wrong and what to do.

export type StateErrorCode = "corrupt" | "newer-format" | "conflict" | "lock-held" | "lock-mismatch" | "not-locked" | "missing" | "io";

export class StateError extends Error {
  constructor(
    readonly code: StateErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "StateError";
  }
}
