/**
 * What the Keyv store hands the port and back. Keyv normally gives the store
 * a string it has already serialized; with `serialize` disabled it gives the
 * raw `{ value, expires }` object. The content type stored with each value
 * records which of three forms it was written in, so a read returns it the
 * way it came:
 *   - a string → its UTF-8 bytes, `text/plain; charset=utf-8`;
 *   - bytes (Buffer / Uint8Array) → as they are, `application/octet-stream`,
 *     read back as a Buffer;
 *   - anything else, and a string UTF-8 cannot carry (a lone surrogate) →
 *     JSON under KEYV_JSON_TYPE, read back with JSON.parse.
 */
import { ValidationError } from '../core/errors.js';

export const TEXT_TYPE = 'text/plain; charset=utf-8';
export const BYTES_TYPE = 'application/octet-stream';
/** Only values this store JSON-encoded itself carry it, so only they are parsed on read. */
export const KEYV_JSON_TYPE = 'application/vnd.cacheport.keyv+json';

export interface EncodedValue {
  value: string | Uint8Array;
  contentType: string;
}

function toJson(value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    // A bigint or a cycle: Keyv's own serializer (the default) handles what JSON cannot.
    throw new ValidationError({ name: 'value', reason: `cannot be stored as JSON (${(error as Error).message})` });
  }
  if (text === undefined)
    throw new ValidationError({ name: 'value', reason: 'cannot be stored as JSON (undefined, a function or a symbol)' });
  return text;
}

export function encodeValue(value: unknown): EncodedValue {
  if (typeof value === 'string') {
    // JSON.stringify escapes lone surrogates (\ud800), so such a string still round-trips exactly.
    return value.isWellFormed() ? { value, contentType: TEXT_TYPE } : { value: toJson(value), contentType: KEYV_JSON_TYPE };
  }
  if (value instanceof Uint8Array) return { value, contentType: BYTES_TYPE };
  return { value: toJson(value), contentType: KEYV_JSON_TYPE };
}

/**
 * The stored bytes in the form they were written. Entries written by other
 * clients into the same namespace: text and JSON types come back as strings
 * (what Keyv deserializes), every other type as a Buffer.
 */
export function decodeValue(bytes: Buffer, contentType: string): unknown {
  const baseType = (contentType.split(';', 1)[0] ?? '').trim().toLowerCase();
  if (baseType === KEYV_JSON_TYPE) return JSON.parse(bytes.toString('utf8')) as unknown;
  if (baseType.startsWith('text/') || baseType === 'application/json' || baseType.endsWith('+json')) return bytes.toString('utf8');
  return bytes;
}
