/**
 * Pieces for building SQL text at run time. Values never go into the text: `SqlParams.add` returns a `$n::type`
 * placeholder and keeps the value for the statement's parameter list. Conditions are SQL boolean expressions whose
 * constants TRUE and FALSE fold away as they are combined.
 */
import { jsonbText } from './twin-statements.js';

export type SqlType = 'text' | 'int' | 'jsonb' | 'jsonpath';

export class SqlParams {
  readonly values: unknown[] = [];
  readonly #numbers = new Map<string, number>();

  /** The placeholder for the value, typed; one value and type given twice share one parameter. */
  add(value: string | number, type: SqlType): string {
    const key = `${type}:${typeof value}:${value}`;
    let n = this.#numbers.get(key);
    if (n === undefined) {
      this.values.push(value);
      n = this.values.length;
      this.#numbers.set(key, n);
    }
    return `$${n}::${type}`;
  }

  /**
   * The statement: placeholders renumbered to those the text uses, since PostgreSQL cannot type a parameter that
   * appears nowhere (conditions that fold to TRUE or FALSE drop theirs). The text holds no literal with a `$` in it.
   */
  statement(text: string): { text: string; values: unknown[] } {
    const renumbered = new Map<number, number>();
    const values: unknown[] = [];
    const bound = text.replace(/\$(\d+)::/g, (_, n: string) => {
      let m = renumbered.get(Number(n));
      if (m === undefined) {
        values.push(this.values[Number(n) - 1]);
        m = values.length;
        renumbered.set(Number(n), m);
      }
      return `$${m}::`;
    });
    return { text: bound, values };
  }

  /** A JSON value as jsonb, with what jsonb refuses ("\u0000", lone surrogates) made U+FFFD as in the *_query columns. */
  json(json: string): string {
    return this.add(jsonbText(json), 'jsonb');
  }
}

export const TRUE = 'TRUE';
export const FALSE = 'FALSE';

export function and(...conditions: string[]): string {
  if (conditions.includes(FALSE)) return FALSE;
  const rest = [...new Set(conditions.filter((c) => c !== TRUE))];
  if (rest.length === 0) return TRUE;
  return rest.length === 1 ? rest[0]! : `(${rest.join(' AND ')})`;
}

export function or(...conditions: string[]): string {
  if (conditions.includes(TRUE)) return TRUE;
  const rest = [...new Set(conditions.filter((c) => c !== FALSE))];
  if (rest.length === 0) return FALSE;
  return rest.length === 1 ? rest[0]! : `(${rest.join(' OR ')})`;
}

/** TRUE or FALSE. */
export function constant(value: boolean): string {
  return value ? TRUE : FALSE;
}
