import { KefuError, isKefuError } from '../errors.ts';

/** An error as it crosses between threads: a KefuError's JSON, or another error's name, message and code. */
export interface ThreadError {
  kefu?: unknown;
  message: string;
  name?: string;
  code?: string;
}

/** The error in a form structured clone keeps (a thrown class instance loses its fields on the way). */
export function encodeThreadError(err: unknown): ThreadError {
  if (isKefuError(err)) return { kefu: err.toJSON(), message: err.message };
  const e = err as { name?: unknown; message?: unknown; code?: unknown } | null;
  return {
    message: typeof e?.message === 'string' ? e.message : String(err),
    name: typeof e?.name === 'string' ? e.name : 'Error',
    code: typeof e?.code === 'string' ? e.code : undefined,
  };
}

/** The error again on this side: a KefuError with its code, or an Error with the other's name and code. */
export function decodeThreadError(e: ThreadError): Error {
  const kefu = e.kefu === undefined ? null : KefuError.fromJSON(e.kefu);
  if (kefu) return kefu;
  return Object.assign(new Error(e.message), { name: e.name ?? 'Error', ...(e.code ? { code: e.code } : {}) });
}
