/**
 * Values ↔ stored bytes. The content type stored with each value says how it
 * was written (JSON, raw bytes, or a custom serializer), and carries the
 * logical fresh-until time of values written with grace:
 *   application/json; cp-fresh=1764640000000
 * so a reader of any process knows whether a value is fresh or stale.
 */
import { ValidationError } from '../core/errors.js';
import type { SerializerOption } from './types.js';

export const JSON_TYPE = 'application/json';
export const RAW_TYPE = 'application/octet-stream';
export const CUSTOM_TYPE = 'application/x-cacheport-custom';

export interface Serializer {
  contentType: string;
  serialize(value: unknown): Uint8Array | string;
  /** Decodes by the stored content type; throws for a type this cache cannot read. */
  deserialize(bytes: Buffer, storedType: string): unknown;
}

function fail(name: string, reason: string): never {
  throw new ValidationError({ name, reason });
}

function serializeJson(value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    // bigint and cycles end here.
    fail('value', `cannot be serialized as JSON (${(error as Error).message}); use a custom serializer`);
  }
  if (text === undefined) fail('value', 'cannot be serialized as JSON (undefined, a function or a symbol)');
  return text;
}

function toRawBytes(value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) fail('value', 'must be a Buffer or Uint8Array with the raw serializer');
  return value;
}

/** Decoders every cache knows, whatever it writes with. */
function decodeKnown(bytes: Buffer, baseType: string): { ok: true; value: unknown } | { ok: false } {
  if (baseType === JSON_TYPE) return { ok: true, value: JSON.parse(bytes.toString('utf8')) as unknown };
  if (baseType === RAW_TYPE) return { ok: true, value: bytes };
  return { ok: false };
}

export function resolveSerializer(option: SerializerOption | undefined): Serializer {
  if (option === undefined || option === 'json') {
    return { contentType: JSON_TYPE, serialize: serializeJson, deserialize: (bytes, type) => decode(bytes, type, undefined) };
  }
  if (option === 'raw') {
    return { contentType: RAW_TYPE, serialize: toRawBytes, deserialize: (bytes, type) => decode(bytes, type, undefined) };
  }
  if (typeof option !== 'object' || option === null || typeof option.serialize !== 'function' || typeof option.deserialize !== 'function') {
    fail('serializer', "must be 'json', 'raw' or { serialize, deserialize, contentType? }");
  }
  const contentType = option.contentType ?? CUSTOM_TYPE;
  if (typeof contentType !== 'string' || !/^[\x21-\x7e]{1,200}$/.test(contentType) || contentType.includes(';')) {
    fail('serializer.contentType', 'must be a media type of printable ASCII without parameters, at most 200 characters');
  }
  return {
    contentType,
    serialize: (value) => option.serialize(value),
    deserialize: (bytes, type) => decode(bytes, type, { contentType, deserialize: (b) => option.deserialize(b) }),
  };
}

function decode(
  bytes: Buffer,
  storedType: string,
  custom: { contentType: string; deserialize(bytes: Buffer): unknown } | undefined,
): unknown {
  const { baseType } = parseContentType(storedType);
  if (custom !== undefined && baseType === custom.contentType) return custom.deserialize(bytes);
  const known = decodeKnown(bytes, baseType);
  if (known.ok) return known.value;
  throw new TypeError(`the stored value has content type ${JSON.stringify(baseType)}, which this cache cannot decode`);
}

/** The media type with the cacheport freshness parameter. */
export function formatContentType(baseType: string, freshUntil: number | null): string {
  return freshUntil === null ? baseType : `${baseType}; cp-fresh=${freshUntil}`;
}

export function parseContentType(stored: string): { baseType: string; freshUntil: number | null } {
  const [base = '', ...params] = stored.split(';');
  let freshUntil: number | null = null;
  for (const param of params) {
    const match = /^\s*cp-fresh=(\d{1,16})\s*$/.exec(param);
    if (match) freshUntil = Number(match[1]);
  }
  return { baseType: base.trim(), freshUntil };
}
