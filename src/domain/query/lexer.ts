/**
 * Tokens of the IoT Hub query language, and a cursor for parsing them. Words are not split into keywords and
 * identifiers here: keywords are case-insensitive and only the parser knows where a word is a keyword and where it
 * is a property name.
 */

/** Azure's documented limit on the length of a query expression. */
export const MAX_QUERY_LENGTH = 8192;

export type TokenKind = 'word' | 'number' | 'string' | 'symbol' | 'end';

export interface Token {
  kind: TokenKind;
  /** The source text of the token (with quotes for strings); empty for `end`. */
  text: string;
  /** For `number`, the numeric value; for `string`, the unescaped value. */
  value?: string | number;
  /** 1-based. */
  line: number;
  /** 1-based, in UTF-16 code units. */
  column: number;
}

export class QuerySyntaxError extends Error {
  override name = 'QuerySyntaxError';
  readonly line: number;
  readonly column: number;
  /** The offending token's text; empty at the end of the query. */
  readonly near: string;
  /** True when the construct is valid IoT Hub syntax that this hub does not implement (JOIN, ORDER BY, ...). */
  readonly unsupported: boolean;

  constructor(at: { line: number; column: number; text: string }, detail: string, unsupported = false) {
    const near = at.text === '' ? 'end of query' : `'${at.text.length > 40 ? `${at.text.slice(0, 40)}...` : at.text}'`;
    super(`Syntax error at line ${at.line}, column ${at.column} near ${near}: ${detail}`);
    this.line = at.line;
    this.column = at.column;
    this.near = at.text;
    this.unsupported = unsupported;
  }
}

const SYMBOLS = ['<=', '>=', '<>', '!=', '=', '<', '>', '+', '-', '*', '/', '%', '(', ')', '[', ']', ',', '.'];
const WORD_START = /[\p{L}_$]/u;
const WORD_PART = /[\p{L}\p{N}_$]/u;
const SIMPLE_ESCAPES: Record<string, string> = { "'": "'", '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let offset = 0;
  let line = 1;
  let lineStart = 0;

  const here = (tokenText: string) => ({ line, column: offset - lineStart + 1, text: tokenText });

  while (offset < text.length) {
    const ch = text[offset]!;
    if (ch === '\n') {
      offset++;
      line++;
      lineStart = offset;
      continue;
    }
    if (ch === ' ' || ch === '\t' || ch === '\r') {
      offset++;
      continue;
    }
    const start = here('');
    if (WORD_START.test(ch)) {
      let end = offset + 1;
      while (end < text.length && WORD_PART.test(text[end]!)) end++;
      tokens.push({ kind: 'word', ...start, text: text.slice(offset, end) });
      offset = end;
    } else if (ch >= '0' && ch <= '9') {
      const raw = readNumber(text, offset);
      const value = Number(raw);
      if (!Number.isFinite(value) || WORD_PART.test(text[offset + raw.length] ?? ' ')) {
        let end = offset + raw.length;
        while (end < text.length && WORD_PART.test(text[end]!)) end++;
        throw new QuerySyntaxError({ ...start, text: text.slice(offset, end) }, 'malformed number');
      }
      tokens.push({ kind: 'number', ...start, text: raw, value });
      offset += raw.length;
    } else if (ch === "'" || ch === '"') {
      const { value, end } = readString(text, offset, (at) => ({ ...start, column: start.column + (at - offset), text: text.slice(at, at + 2) }));
      tokens.push({ kind: 'string', ...start, text: text.slice(offset, end), value });
      offset = end;
    } else {
      const symbol = SYMBOLS.find((s) => text.startsWith(s, offset));
      if (symbol === undefined) throw new QuerySyntaxError({ ...start, text: ch }, 'unexpected character');
      tokens.push({ kind: 'symbol', ...start, text: symbol });
      offset += symbol.length;
    }
  }
  tokens.push({ kind: 'end', ...here('') });
  return tokens;
}

function readNumber(text: string, offset: number): string {
  const hex = /^0[xX][0-9a-fA-F]+/.exec(text.slice(offset, offset + 64));
  if (hex) return hex[0];
  const decimal = /^[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/.exec(text.slice(offset, offset + 400));
  return decimal![0];
}

/** Reads a quoted string starting at `offset`; `positionOf(i)` locates an error at source offset `i`. */
function readString(
  text: string,
  offset: number,
  positionOf: (at: number) => { line: number; column: number; text: string },
): { value: string; end: number } {
  const quote = text[offset]!;
  let value = '';
  let i = offset + 1;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === quote) return { value, end: i + 1 };
    if (ch === '\n') break;
    if (ch !== '\\') {
      value += ch;
      i++;
      continue;
    }
    const escape = text[i + 1] ?? '';
    const simple = SIMPLE_ESCAPES[escape];
    if (simple !== undefined) {
      value += simple;
      i += 2;
    } else if (escape === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
      value += String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16));
      i += 6;
    } else {
      throw new QuerySyntaxError(positionOf(i), 'invalid escape sequence in string');
    }
  }
  throw new QuerySyntaxError({ ...positionOf(offset), text: text.slice(offset, i) }, 'unterminated string');
}

/** A position in a token list with the look-ahead and matching steps a recursive-descent parser needs. */
export class TokenCursor {
  protected position = 0;

  constructor(protected readonly tokens: Token[]) {}

  protected peek(ahead = 0): Token {
    return this.tokens[Math.min(this.position + ahead, this.tokens.length - 1)]!;
  }

  protected next(): Token {
    const token = this.peek();
    if (token.kind !== 'end') this.position++;
    return token;
  }

  /** Keywords match case-insensitively; `keyword` is given in upper case. */
  protected isKeyword(keyword: string, ahead = 0): boolean {
    const token = this.peek(ahead);
    return token.kind === 'word' && token.text.toUpperCase() === keyword;
  }

  protected acceptKeyword(keyword: string): boolean {
    if (!this.isKeyword(keyword)) return false;
    this.position++;
    return true;
  }

  protected expectKeyword(keyword: string, detail: string): void {
    if (!this.acceptKeyword(keyword)) this.fail(this.peek(), detail);
  }

  protected acceptSymbol(symbol: string): boolean {
    const token = this.peek();
    if (token.kind !== 'symbol' || token.text !== symbol) return false;
    this.position++;
    return true;
  }

  protected expectSymbol(symbol: string, detail: string): void {
    if (!this.acceptSymbol(symbol)) this.fail(this.peek(), detail);
  }

  protected fail(token: Token, detail: string, unsupported = false): never {
    throw new QuerySyntaxError(token, detail, unsupported);
  }
}
