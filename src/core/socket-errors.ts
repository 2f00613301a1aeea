/**
 * Node socket error codes that mean the backend could not be reached (nothing
 * was answered); both adapters answer them as unavailable, each adding its driver's own codes.
 */
export const SOCKET_ERROR_CODES: readonly string[] = [
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'EAI_AGAIN',
];
