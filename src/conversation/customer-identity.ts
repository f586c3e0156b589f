import { errors as joseErrors, jwtVerify } from 'jose';
import { z } from 'zod';
import { KefuError } from '../errors.ts';
import { maskPersonalData } from '../text/mask-personal-data.ts';

/** Who the bank says the customer is, and what its agents may see of them. */
export interface VouchedCustomer {
  customerId: string;
  /** As the bank shows it to staff, masked by the bank (王○明). */
  displayName: string | null;
  /** Facts for the agent (segment, products …), with anything that looks like personal data masked again here. */
  data: Record<string, string>;
}

/** Checks an identity token from the bank's site; throws KEFU_IDENTITY_INVALID naming why it is refused. */
export type IdentityVerifier = (token: string) => Promise<VouchedCustomer>;

// What the bank's site signs. `sub` becomes the conversation's customer id, so it obeys the same rule as one a
// client sends: an opaque id, never an ID card, phone, card or account number.
const claims = z.object({
  sub: z.string().trim().min(1).max(200).refine((v) => maskPersonalData(v) === v, 'must be an opaque id, not personal data'),
  name: z.string().trim().min(1).max(100).optional(),
  profile: z
    .record(z.string().min(1).max(40), z.string().max(200))
    .refine((p) => Object.keys(p).length <= 20, 'at most 20 entries')
    .optional(),
});

/**
 * An identity verifier for tokens signed with `secret` (a JWT, HS256 only: `alg: none` and public-key algorithms are
 * refused, so a token cannot choose how it is checked), which must carry `sub`, `iat` and `exp` and live at most
 * `maxAgeMinutes`. Without a secret every token is refused: the server was not set up to trust the bank's site.
 */
export function createIdentityVerifier(secret: string | undefined, maxAgeMinutes: number): IdentityVerifier {
  const key = secret === undefined ? null : new TextEncoder().encode(secret);
  return async (token) => {
    if (key === null) throw new KefuError('KEFU_IDENTITY_INVALID', ['this server takes no identity tokens (identity.secret is not set)']);
    let payload: unknown;
    try {
      ({ payload } = await jwtVerify(token, key, {
        algorithms: ['HS256'],
        requiredClaims: ['sub', 'iat', 'exp'],
        maxTokenAge: `${maxAgeMinutes}m`,
        // The bank's clock and this server's may differ a little.
        clockTolerance: 30,
      }));
    } catch (err) {
      throw new KefuError('KEFU_IDENTITY_INVALID', [reasonOf(err, maxAgeMinutes)]);
    }
    const p = claims.safeParse(payload);
    if (!p.success) throw new KefuError('KEFU_IDENTITY_INVALID', [p.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')]);
    const data: Record<string, string> = {};
    for (const [k, v] of Object.entries(p.data.profile ?? {})) data[k] = maskPersonalData(v);
    return { customerId: p.data.sub, displayName: p.data.name ?? null, data };
  };
}

// Why, in words a bank's developer can act on; never the token itself.
function reasonOf(err: unknown, maxAgeMinutes: number): string {
  if (err instanceof joseErrors.JWTExpired && err.claim === 'iat') return `claim iat: issued more than ${maxAgeMinutes} minutes ago (identity.maxAgeMinutes)`;
  if (err instanceof joseErrors.JWTExpired) return 'it has expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `claim ${err.claim}: ${err.reason === 'missing' ? 'missing' : err.message}`;
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'its signature does not match identity.secret';
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'it must be signed with HS256';
  if (err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JWTInvalid) return 'it is not a well-formed JWT';
  return 'it could not be checked';
}
