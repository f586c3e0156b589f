import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { errors as joseErrors, jwtVerify } from 'jose';
import { z } from 'zod';
import { KefuError } from '../errors.ts';
import { maskPersonalData } from '../text/mask-personal-data.ts';
import type { Logger } from '../log.ts';

/**
 * Customer ids the bank vouched for start with this, and no id a client sends may: a claimed id can then never name
 * a vouched-for customer's conversation or profile, whatever any version of the code checks.
 */
export const VOUCHED_PREFIX = 'bank:';

/** Who the bank says the customer is, and what its agents may see of them. */
export interface VouchedCustomer {
  /** The conversation's customer id: VOUCHED_PREFIX and the token's subject. */
  customerId: string;
  /** The bank's own id for the customer (the token's `sub`). */
  subject: string;
  /** As the bank shows it to staff (王○明), with anything that looks like personal data masked again here. */
  displayName: string | null;
  /** Facts for the agent (segment, products …), masked again in the same way. */
  data: Record<string, string>;
  /** When the bank vouched (the token's `iat`). */
  verifiedAt: string;
}

/** Checks an identity token from the bank's site; throws KEFU_IDENTITY_INVALID naming why it is refused. */
export type IdentityVerifier = (token: string) => Promise<VouchedCustomer>;

export interface IdentityOptions {
  /** Shared with the bank's site (HS256). Unset, and no public key: every token is refused. */
  secret?: string;
  /** A PEM file with the public half of the key the bank's site signs with (ES256, ES384, RS256, PS256 or EdDSA). */
  publicKeyFile?: string;
  /** The `aud` a token must name: a token the bank signed for another of its services is not one for kefu. */
  audience: string;
  /** The `iss` a token must name, when set. */
  issuer?: string;
  maxAgeMinutes: number;
}

// What the bank's site signs. `sub` becomes (prefixed) the conversation's customer id: an opaque id, never an ID
// card, phone, card or account number.
const claims = z.object({
  sub: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,128}$/, 'must be 1–128 letters, digits, _, . or -')
    .refine((v) => maskPersonalData(v) === v, 'must be an opaque id, not personal data'),
  name: z.string().trim().min(1).max(100).optional(),
  profile: z
    .record(z.string().min(1).max(40), z.string().max(200))
    .refine((p) => Object.keys(p).length <= 20, 'at most 20 entries')
    .optional(),
  iat: z.number(),
});

/** The algorithms a public key can check: the key decides, never the token's header. */
function algorithmsFor(key: KeyObject): string[] {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType === 'ec' && curve === 'prime256v1') return ['ES256'];
  if (key.asymmetricKeyType === 'ec' && curve === 'secp384r1') return ['ES384'];
  if (key.asymmetricKeyType === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048) return ['RS256', 'PS256'];
  if (key.asymmetricKeyType === 'ed25519') return ['EdDSA', 'Ed25519'];
  throw new Error(`a ${key.asymmetricKeyType ?? 'unknown'} key${curve ? ` on ${curve}` : ''} is not one kefu takes (EC P-256 or P-384, RSA of 2048 bits or more, Ed25519)`);
}

/** Reads the bank's public key; throws KEFU_CONFIG_INVALID naming the file and what is wrong with it. */
export function readIdentityPublicKey(file: string): { key: KeyObject; algorithms: string[] } {
  try {
    const pem = readFileSync(file, 'utf8');
    // createPublicKey would take a private key and derive its public half: kefu must never hold what signs tokens.
    if (/PRIVATE KEY/.test(pem)) throw new Error('holds a private key: give kefu only the public key (openssl pkey -pubout), and keep the private one on the bank\'s side');
    const key = createPublicKey(pem);
    return { key, algorithms: algorithmsFor(key) };
  } catch (err) {
    throw new KefuError('KEFU_CONFIG_INVALID', [`identity.publicKeyFile ${file}: ${(err as Error).message}`], { cause: err });
  }
}

/**
 * An identity verifier for tokens signed with the shared secret (HS256) or the bank's private key (checked with its
 * public half, kefu then holding nothing that can sign one): only that algorithm is taken (`alg: none` and any other
 * are refused, so a token cannot choose how it is checked). A token must carry `sub`, `aud`, `iat` and `exp` and be at
 * most `maxAgeMinutes` old. Refusals are logged (a run of them is someone trying), never with the token.
 */
export function createIdentityVerifier(options: IdentityOptions, log?: Logger): IdentityVerifier {
  if (options.secret !== undefined && options.publicKeyFile !== undefined) {
    throw new KefuError('KEFU_CONFIG_INVALID', ['identity: set secret (KEFU_IDENTITY_SECRET) or publicKeyFile (KEFU_IDENTITY_PUBLIC_KEY_FILE), not both']);
  }
  const publicKey = options.publicKeyFile === undefined ? null : readIdentityPublicKey(options.publicKeyFile);
  const key = publicKey?.key ?? (options.secret === undefined ? null : new TextEncoder().encode(options.secret));
  const algorithms = publicKey?.algorithms ?? ['HS256'];
  const keyName = publicKey ? 'identity.publicKeyFile' : 'identity.secret';
  const refuse = (reason: string): never => {
    log?.warn({ reason }, 'identity token refused');
    throw new KefuError('KEFU_IDENTITY_INVALID', [reason]);
  };
  return async (token) => {
    if (key === null) return refuse('this server takes no identity tokens (neither identity.secret nor identity.publicKeyFile is set)');
    let payload: unknown;
    try {
      ({ payload } = await jwtVerify(token, key, {
        algorithms,
        audience: options.audience,
        ...(options.issuer !== undefined ? { issuer: options.issuer } : {}),
        requiredClaims: ['sub', 'aud', 'iat', 'exp'],
        maxTokenAge: `${options.maxAgeMinutes}m`,
        // The bank's clock and this server's may differ a little.
        clockTolerance: 30,
      }));
    } catch (err) {
      return refuse(reasonOf(err, options.maxAgeMinutes, algorithms, keyName));
    }
    const p = claims.safeParse(payload);
    if (!p.success) return refuse(p.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
    const data: Record<string, string> = {};
    for (const [k, v] of Object.entries(p.data.profile ?? {})) data[maskPersonalData(k)] = maskPersonalData(v);
    return {
      customerId: `${VOUCHED_PREFIX}${p.data.sub}`, subject: p.data.sub, displayName: p.data.name === undefined ? null : maskPersonalData(p.data.name),
      data, verifiedAt: new Date(p.data.iat * 1000).toISOString(),
    };
  };
}

// Why, in words a bank's developer can act on; never the token itself.
function reasonOf(err: unknown, maxAgeMinutes: number, algorithms: string[], keyName: string): string {
  if (err instanceof joseErrors.JWTExpired && err.claim === 'iat') return `claim iat: issued more than ${maxAgeMinutes} minutes ago (identity.maxAgeMinutes)`;
  if (err instanceof joseErrors.JWTExpired) return 'it has expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `claim ${err.claim}: ${err.reason === 'missing' ? 'missing' : err.message}`;
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return `its signature does not match ${keyName}`;
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return `it must be signed with ${algorithms.join(' or ')}`;
  if (err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JWTInvalid) return 'it is not a well-formed JWT';
  return 'it could not be checked';
}
