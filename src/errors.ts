/**
 * Every error a caller can cause, in one table: a stable code, an HTTP status, a message template.
 * Callers match on `code`; a bug in kefu throws a plain `Error` instead.
 */
export const ERRORS = {
  KEFU_CONFIG_INVALID: { status: 500, message: 'Invalid configuration: %s' },
  KEFU_PACK_NOT_FOUND: { status: 500, message: 'Knowledge pack not found: %s' },
  KEFU_PACK_INVALID: { status: 500, message: 'Invalid knowledge pack: %s' },
  KEFU_MODEL_NOT_FOUND: { status: 500, message: 'No trained model: %s' },
  KEFU_MODEL_INVALID: { status: 500, message: 'Trained model cannot be used: %s' },
  KEFU_DATASET_INVALID: { status: 400, message: 'Invalid dataset: %s' },
  KEFU_CLI_USAGE: { status: 400, message: '%s' },
  KEFU_TEXT_EMPTY: { status: 400, message: 'Text is empty after normalisation' },
  KEFU_TEXT_TOO_LONG: { status: 400, message: 'Text is longer than %s characters' },
  KEFU_CONVERSATION_NOT_FOUND: { status: 404, message: 'Conversation %s not found' },
  KEFU_MESSAGE_NOT_FOUND: { status: 404, message: 'Message %s not found' },
  KEFU_CONVERSATION_CLOSED: { status: 409, message: 'Conversation %s is closed' },
  KEFU_MESSAGE_ID_REUSED: { status: 409, message: 'clientMessageId %s was already used in this conversation for another text: a retry sends the same text, a new message a new id' },
  KEFU_CONVERSATION_EXPIRED: { status: 410, message: 'Conversation %s closed more than %s minutes ago: the customer can no longer read or rate it' },
  KEFU_NOT_A_BOT_MESSAGE: { status: 400, message: 'Message %s is not a bot answer' },
  KEFU_VALIDATION: { status: 400, message: '%s' },
  KEFU_RATE_LIMITED: { status: 429, message: 'Too many requests: %s' },
  KEFU_STORE_FAILED: { status: 500, message: 'Storage failed: %s' },
  KEFU_UNAUTHORIZED: { status: 401, message: 'Missing or malformed conversation token: %s' },
  KEFU_FORBIDDEN: { status: 403, message: 'The token does not grant access to conversation %s' },
  KEFU_IDENTITY_INVALID: { status: 401, message: 'The identity token is not accepted: %s' },
  KEFU_NOT_READY: { status: 503, message: 'Not ready: %s' },
  KEFU_ROUTE_NOT_FOUND: { status: 404, message: 'No route %s' },
  KEFU_BAD_REQUEST: { status: 400, message: 'Bad request: %s' },
  KEFU_BODY_TOO_LARGE: { status: 413, message: 'Request body is too large: %s' },
  KEFU_UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Unsupported content type: %s' },
  KEFU_INTERNAL: { status: 500, message: 'Internal error (request %s)' },
  KEFU_SESSION_REQUIRED: { status: 401, message: 'Sign in required: %s' },
  KEFU_LOGIN_FAILED: { status: 401, message: 'Wrong username or password' },
  KEFU_ROLE_FORBIDDEN: { status: 403, message: 'The %s role cannot %s' },
  KEFU_GROUP_FORBIDDEN: { status: 403, message: 'Conversation %s waits for group %s, which you do not serve' },
  KEFU_CONVERSATION_FORBIDDEN: { status: 403, message: 'Conversation %s belongs to group %s, which you do not serve' },
  KEFU_NOT_CONVERSATION_OWNER: { status: 403, message: 'Conversation %s is not yours: %s' },
  KEFU_ALREADY_CLAIMED: { status: 409, message: 'Conversation %s is already taken by %s' },
  KEFU_CONVERSATION_STATE: { status: 409, message: 'Conversation %s is %s: %s' },
  KEFU_AGENT_NOT_FOUND: { status: 404, message: 'Agent %s not found' },
  KEFU_AGENT_EXISTS: { status: 409, message: 'Username %s is taken' },
  KEFU_PASSWORD_WEAK: { status: 400, message: 'Password too weak: %s' },
} as const;

export type KefuErrorCode = keyof typeof ERRORS;

/** Named facts about a refusal that a client acts on (who holds the conversation), rather than problems to list. */
export type ErrorFacts = Readonly<Record<string, string | null>>;

/** An error the caller caused, carrying a stable code and an HTTP status. */
export class KefuError extends Error {
  readonly code: KefuErrorCode;
  readonly status: number;
  /** Problems, one a line (each invalid field, each broken pack entry). */
  readonly details: readonly string[];
  /**
   * Facts a client matches on instead of parsing the message: sent as the JSON error's `details` object in place of
   * the list. Kept apart from `details` so that code listing problems never has to ask which of the two it holds.
   */
  readonly facts: ErrorFacts | null;

  constructor(code: KefuErrorCode, args: readonly string[] = [], options: { cause?: unknown; details?: readonly string[]; facts?: ErrorFacts } = {}) {
    const def = ERRORS[code];
    let i = 0;
    const message = def.message.replace(/%s/g, () => args[i++] ?? '');
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KefuError';
    this.code = code;
    this.status = def.status;
    this.details = options.details ?? [];
    this.facts = options.facts ?? null;
  }

  toJSON(): { code: KefuErrorCode; message: string; details: readonly string[] | ErrorFacts } {
    return { code: this.code, message: this.message, details: this.facts ?? this.details };
  }

  /**
   * The error again from its toJSON(), after crossing a thread or process boundary (code, message, details or facts;
   * not the stack or cause); null when it is not one.
   */
  static fromJSON(json: unknown): KefuError | null {
    const j = json as { code?: unknown; message?: unknown; details?: unknown } | null;
    if (!j || typeof j.code !== 'string' || !Object.hasOwn(ERRORS, j.code) || typeof j.message !== 'string') return null;
    // toJSON() sends facts in place of the list: an object there is the facts.
    const details = Array.isArray(j.details) ? j.details.map(String) : [];
    const facts = j.details && typeof j.details === 'object' && !Array.isArray(j.details)
      ? Object.fromEntries(Object.entries(j.details as Record<string, unknown>).map(([k, v]) => [k, v === null ? null : String(v)]))
      : undefined;
    const err = new KefuError(j.code as KefuErrorCode, [], { details, ...(facts ? { facts } : {}) });
    err.message = j.message;
    return err;
  }
}

/** True when `e` is a KefuError, optionally with the given code. */
export function isKefuError(e: unknown, code?: KefuErrorCode): e is KefuError {
  return e instanceof KefuError && (code === undefined || e.code === code);
}
