// Quoting for values the installer's POSIX sh reads. Everything the plan hands to
// the script goes through here, so a hostile name can never become shell syntax.

/** Wraps a value in single quotes, escaping embedded single quotes ('\''). */
export function shQuote(value: string): string {
  if (value.includes("\0")) throw new Error("shell value contains a NUL byte");
  return "'" + value.replace(/'/g, "'\\''") + "'";
}

/** Characters allowed in a word the script expands unquoted (command lines it word-splits). */
const SAFE_WORD = /^[A-Za-z0-9_.,:=/+@%-]+$/;

/** True when `word` survives unquoted word splitting and globbing unchanged. */
export function isSafeWord(word: string): boolean {
  return SAFE_WORD.test(word);
}

/**
 * Joins argv into a single line the script expands unquoted. Refuses any word that
 * would need quoting: such a word would come from a bad config, not from us.
 */
export function safeCommandLine(argv: readonly string[]): string {
  for (const w of argv) {
    if (!isSafeWord(w)) throw new Error(`unsafe word in installer command: ${JSON.stringify(w)}`);
  }
  return argv.join(" ");
}
