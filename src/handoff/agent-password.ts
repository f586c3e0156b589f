import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

// Passwords are hashed with Node's scrypt (memory-hard, so guessing on GPUs is expensive) under a random salt per
// account. The parameters are written into each hash, so they can be raised later without breaking old accounts:
// a hash verifies with the parameters it was made with.
const PARAMS = { N: 2 ** 15, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;
const SALT_BYTES = 16;
// scrypt needs 128·N·r bytes; Node's default cap (32 MiB) is exactly N = 2^15, r = 8, so allow headroom.
const MAX_MEMORY = 128 * 1024 * 1024;

function derive(password: string, salt: Buffer, options: ScryptOptions, keyLength: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, keyLength, { ...options, maxmem: MAX_MEMORY }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** `scrypt$N$r$p$salt$hash` (base64url) for a new password. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, PARAMS, KEY_LENGTH);
  return ['scrypt', PARAMS.N, PARAMS.r, PARAMS.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** True when `password` matches `stored` (constant-time comparison); false for a malformed hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  if (![N, r, p].every((x) => Number.isInteger(x) && x > 0)) return false;
  const salt = Buffer.from(parts[4] ?? '', 'base64url');
  const expected = Buffer.from(parts[5] ?? '', 'base64url');
  if (salt.length === 0 || expected.length === 0) return false;
  const key = await derive(password, salt, { N, r, p }, expected.length);
  return timingSafeEqual(key, expected);
}

let decoy: Promise<string> | null = null;
/**
 * Spends the time of one real check on nothing, for a sign-in with an unknown username: otherwise the quick
 * answer would tell an attacker which usernames exist.
 */
export async function verifyNothing(password: string): Promise<false> {
  decoy ??= hashPassword(randomBytes(16).toString('hex'));
  await verifyPassword(password, await decoy);
  return false;
}

const COMMON = new Set([
  'password', 'password1', 'password123', 'passw0rd', 'qwerty', 'qwertyuiop', 'qwerty123', '123456', '12345678', '123456789',
  '1234567890', '0123456789', '1qaz2wsx', '1qaz2wsx3edc', 'abc123', 'abcd1234', 'iloveyou', 'admin', 'admin123', 'administrator',
  'welcome', 'welcome1', 'letmein', 'changeme', 'p@ssw0rd', 'p@ssword', 'aa123456', 'a123456789', 'zxcvbnm', 'asdfghjkl',
]);

/**
 * Why `password` is too weak for a console account, or null when it will do: at least 10 characters, at least 5
 * different ones, letters and something else unless it is a long passphrase (16+), not a well-known password,
 * and not the username or display name.
 */
export function passwordWeakness(password: string, account: { username: string; displayName?: string }): string | null {
  const pw = password.normalize('NFKC');
  const chars = [...pw];
  if (chars.length < 10) return 'use at least 10 characters';
  if (chars.length > 200) return 'use at most 200 characters';
  if (new Set(chars).size < 5) return 'use at least 5 different characters';
  const lower = pw.toLowerCase();
  if (COMMON.has(lower) || COMMON.has(lower.replace(/[^a-z0-9@]/g, ''))) return 'this is a well-known password';
  for (const name of [account.username, account.displayName ?? '']) {
    // Two Han characters are a whole given name (小美); two Latin letters are not a name at all.
    const long = [...name].length >= (/\p{Script=Han}/u.test(name) ? 2 : 3);
    if (long && lower.includes(name.toLowerCase())) return 'do not use your name in your password';
  }
  const classes = [/\p{L}/u, /\p{N}/u, /[^\p{L}\p{N}]/u].filter((re) => re.test(pw)).length;
  if (classes < 2 && chars.length < 16) return 'mix letters with digits or symbols, or use a passphrase of 16 or more characters';
  if (/^(.)\1+$/u.test(pw) || /^(0123456789|1234567890|abcdefghij)/.test(lower)) return 'avoid sequences and repeats';
  return null;
}
