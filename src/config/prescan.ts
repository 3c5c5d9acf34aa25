// The pre-scan: one linear pass over a configuration file's text before the YAML
// parser sees it (the parser recurses per nesting level and copies quoted strings
// character by character), refusing what would make parsing slow or deep.

/** What the pre-scan refuses, and where. */
export interface ScanProblem {
  offset: number;
  code: "yaml-too-deep" | "string-too-long";
}

/** Characters after which a value may start: line start, ":", "-", "?", "[", "{", ",". */
const VALUE_START = new Set([10, 58, 45, 63, 91, 123, 44]);

const BLOCK_SCALAR_HEADER = /(?:^|\s)[|>][1-9+-]{0,2}[ \t]*(?:#.*)?$/;

const isSpace = (c: number) => c === 32 || c === 9 || c === 10 || c === 13;

/**
 * Refuses collections nested deeper than `maxDepth` (flow brackets, block
 * indentation and "- - -" sequences) and quoted strings longer than `maxString`.
 * It is an estimate on the safe side: block scalar text and multi-line plain
 * scalars are not collections, and are skipped or counted at most once.
 */
export function prescan(text: string, maxDepth: number, maxString: number): ScanProblem | undefined {
  return new Prescan(text, { maxDepth, maxString }).run();
}

class Prescan {
  private flow = 0;
  private quote = 0; // char code of the open quote, or 0
  private quoteStart = 0;
  private comment = false;
  private readonly indents: number[] = []; // columns of the block collections open at this line
  private blockScalarIndent = -1; // inside a `|` or `>` scalar: lines deeper than this are text
  private lastSig = 10; // last non-blank character on this line outside quotes (10: none yet)
  private readonly maxDepth: number;
  private readonly maxString: number;

  constructor(
    private readonly text: string,
    limits: { maxDepth: number; maxString: number },
  ) {
    this.maxDepth = limits.maxDepth;
    this.maxString = limits.maxString;
  }

  run(): ScanProblem | undefined {
    const text = this.text;
    const n = text.length;
    for (let i = 0; i < n; i++) {
      if ((i === 0 || text.charCodeAt(i - 1) === 10) && !this.quote && this.flow === 0) {
        const next = this.lineStart(i);
        if (typeof next !== "number") return next;
        if (next !== i) {
          i = next; // a block scalar's text line, skipped to its newline
          continue;
        }
      }
      const next = this.char(i);
      if (typeof next !== "number") return next;
      i = next;
    }
    return undefined;
  }

  /**
   * A line's indentation opens or closes block collections. Returns where to go
   * on: `i`, or the line's end when the line is a block scalar's text.
   */
  private lineStart(i: number): number | ScanProblem {
    const text = this.text;
    const n = text.length;
    let j = i;
    while (j < n && text.charCodeAt(j) === 32) j++;
    const c = text.charCodeAt(j);
    if (j >= n || c === 10 || c === 13 || c === 35 /* # */) return i;
    const indent = j - i;
    if (this.blockScalarIndent >= 0 && indent > this.blockScalarIndent) {
      const eol = text.indexOf("\n", j);
      return eol < 0 ? n : eol;
    }
    this.blockScalarIndent = -1;
    const indents = this.indents;
    while (indents.length && indents[indents.length - 1]! >= indent) indents.pop();
    indents.push(indent);
    j = this.sequenceMarkers(i, j);
    if (indents.length > this.maxDepth) return { offset: j, code: "yaml-too-deep" };
    let eol = text.indexOf("\n", j);
    if (eol < 0) eol = n;
    if (eol - j < 4096 && BLOCK_SCALAR_HEADER.test(text.slice(j, eol).replace(/\r$/, ""))) this.blockScalarIndent = indent;
    return i;
  }

  /**
   * "- - x" and "? ? x" open one collection per marker on the same line. Returns
   * the offset after the markers, or after the one that nests too deep.
   */
  private sequenceMarkers(lineStart: number, j: number): number {
    const text = this.text;
    const n = text.length;
    for (;;) {
      const m = text.charCodeAt(j);
      const next = text.charCodeAt(j + 1);
      if (!((m === 45 || m === 63) && (j + 1 >= n || next === 32 || next === 10 || next === 13))) return j;
      j++;
      while (j < n && text.charCodeAt(j) === 32) j++;
      this.indents.push(j - lineStart);
      if (this.indents.length > this.maxDepth) return j;
    }
  }

  /** One character: comments, quotes and flow brackets. Returns the offset of the last character consumed. */
  private char(i: number): number | ScanProblem {
    const text = this.text;
    const c = text.charCodeAt(i);
    if (c === 10) {
      this.comment = false;
      this.lastSig = 10;
      return i;
    }
    if (this.comment) return i;
    if (this.quote) return this.inQuote(i, c);
    const prev = i === 0 ? 10 : text.charCodeAt(i - 1);
    // Quotes and brackets open something only where a value starts (after "key: ",
    // "- ", "[", "{" or ","), not inside a plain scalar such as node[001-128] or it's.
    const valueStart = (isSpace(prev) || prev === 91 || prev === 123 || prev === 44) && VALUE_START.has(this.lastSig);
    if (c === 35 && (i === 0 || isSpace(prev))) this.comment = true;
    else if ((c === 34 || c === 39) && valueStart) {
      this.quote = c;
      this.quoteStart = i;
    } else if ((c === 91 || c === 123) && valueStart) {
      if (++this.flow + this.indents.length > this.maxDepth) return { offset: i, code: "yaml-too-deep" };
    } else if ((c === 93 || c === 125) && this.flow > 0) this.flow--;
    if (!isSpace(c)) this.lastSig = c;
    return i;
  }

  private inQuote(i: number, c: number): number | ScanProblem {
    if (i - this.quoteStart > this.maxString) return { offset: this.quoteStart, code: "string-too-long" };
    if (this.quote === 34 && c === 92) return i + 1; // backslash escape in "..."
    if (c === this.quote) {
      this.quote = 0;
      this.lastSig = c;
    }
    return i;
  }
}
