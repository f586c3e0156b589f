import { describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, UnsecuredJWT } from 'jose';
import { createIdentityVerifier } from '../../src/conversation/customer-identity.ts';
import { IDENTITY_SECRET, identityToken } from '../http/test-app.ts';

const verify = createIdentityVerifier({ secret: IDENTITY_SECRET, audience: 'kefu', maxAgeMinutes: 60 });
const refusal = async (token: string, v = verify): Promise<{ code: string; message: string; status: number }> => {
  try {
    await v(token);
  } catch (e) {
    return e as { code: string; message: string; status: number };
  }
  throw new Error('accepted');
};

describe('identity tokens from the bank\'s site', () => {
  it('takes the subject as the customer id, with the name and the profile for agents, masking personal data left in it', async () => {
    const token = await identityToken('cust-0042', { name: '王○明', profile: { segment: '財富管理', mobile: '0912345678', card: '4111 1111 1111 1111' } });
    const who = await verify(token);
    // Prefixed: no id a client sends may start so, so a claimed id never names a vouched-for customer.
    expect(who).toMatchObject({ customerId: 'bank:cust-0042', subject: 'cust-0042', displayName: '王○明', data: { segment: '財富管理' } });
    expect(JSON.stringify(who.data)).not.toMatch(/0912345678|4111 1111 1111 1111/);
    expect(await verify(await identityToken('cust-7'))).toEqual({ customerId: 'bank:cust-7', subject: 'cust-7', displayName: null, data: {}, verifiedAt: expect.any(String) });
    // A name the bank forgot to mask, masked here where it looks like personal data.
    expect((await verify(await identityToken('cust-8', { name: 'A123456789' }))).displayName).not.toContain('A123456789');
  });

  it('refuses, saying why, a token that is expired, too long-lived, signed with another key or another algorithm, or unsigned', async () => {
    const now = Math.floor(Date.now() / 1000);
    expect(await refusal(await identityToken('c', {}, { issuedAt: now - 7200, expiresIn: now - 3600 }))).toMatchObject({ code: 'KEFU_IDENTITY_INVALID', status: 401, message: expect.stringContaining('expired') });
    // Issued two hours ago and still valid for one: past the longest life allowed (60 minutes).
    expect((await refusal(await identityToken('c', {}, { issuedAt: now - 7200, expiresIn: now + 3600 }))).message).toMatch(/iat/);
    expect((await refusal(await identityToken('c', {}, { secret: 'someone-else-entirely-0123456789-abcd' }))).message).toContain('signature');
    const hs512 = await new SignJWT({ aud: 'kefu' }).setProtectedHeader({ alg: 'HS512' }).setSubject('c').setIssuedAt().setExpirationTime('5m').sign(new TextEncoder().encode(IDENTITY_SECRET));
    expect((await refusal(hs512)).message).toContain('HS256');
    const unsigned = new UnsecuredJWT({}).setSubject('c').setIssuedAt().setExpirationTime('5m').encode();
    expect((await refusal(unsigned)).code).toBe('KEFU_IDENTITY_INVALID');
    expect((await refusal('not.a.jwt')).message).toContain('well-formed');
    // Signed by the bank for another of its services, or for no service in particular.
    expect((await refusal(await identityToken('c', { aud: 'mobile-banking' }))).message).toMatch(/aud/);
    const noAud = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('c').setIssuedAt().setExpirationTime('5m').sign(new TextEncoder().encode(IDENTITY_SECRET));
    expect((await refusal(noAud)).message).toMatch(/aud/);
    const withIssuer = createIdentityVerifier({ secret: IDENTITY_SECRET, audience: 'kefu', issuer: 'https://bank.example', maxAgeMinutes: 60 });
    expect((await refusal(await identityToken('c'), withIssuer)).message).toMatch(/iss/);
    expect(await withIssuer(await identityToken('c', { iss: 'https://bank.example' }))).toMatchObject({ subject: 'c' });
    expect((await refusal('')).code).toBe('KEFU_IDENTITY_INVALID');
  });

  it('refuses a token without a subject, without an expiry, or whose subject is personal data', async () => {
    const key = new TextEncoder().encode(IDENTITY_SECRET);
    const noSub = await new SignJWT({ aud: 'kefu' }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime('5m').sign(key);
    expect((await refusal(noSub)).message).toMatch(/sub/);
    const noExp = await new SignJWT({ aud: 'kefu' }).setProtectedHeader({ alg: 'HS256' }).setSubject('c').setIssuedAt().sign(key);
    expect((await refusal(noExp)).message).toMatch(/exp/);
    expect((await refusal(await identityToken('A123456789'))).message).toMatch(/sub: must be an opaque id/);
    expect((await refusal(await identityToken('bank:x'))).message).toMatch(/sub: must be 1–128 letters/);
    expect((await refusal(await identityToken('c', { profile: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, 'v'])) }))).message).toMatch(/profile/);
  });

  it("checks tokens the bank's site signs with its private key against the public half, and refuses one that picks another algorithm", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kefu-identity-'));
    try {
      const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const pem = ec.publicKey.export({ type: 'spki', format: 'pem' }).toString();
      writeFileSync(join(dir, 'bank.pem'), pem);
      const byKey = createIdentityVerifier({ publicKeyFile: join(dir, 'bank.pem'), audience: 'kefu', maxAgeMinutes: 15 });
      const signed = await new SignJWT({ aud: 'kefu', name: '王○明' }).setProtectedHeader({ alg: 'ES256' }).setSubject('cust-9').setIssuedAt().setExpirationTime('5m').sign(ec.privateKey);
      expect(await byKey(signed)).toMatchObject({ customerId: 'bank:cust-9', displayName: '王○明' });
      // The public key used as an HMAC secret (the classic confusion): the key decides the algorithm, not the token.
      const confused = await new SignJWT({ aud: 'kefu' }).setProtectedHeader({ alg: 'HS256' }).setSubject('cust-9').setIssuedAt().setExpirationTime('5m').sign(new TextEncoder().encode(pem));
      expect((await refusal(confused, byKey)).message).toContain('ES256');
      const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const forged = await new SignJWT({ aud: 'kefu' }).setProtectedHeader({ alg: 'ES256' }).setSubject('cust-9').setIssuedAt().setExpirationTime('5m').sign(other.privateKey);
      expect((await refusal(forged, byKey)).message).toContain('identity.publicKeyFile');
      // RSA: RS256 (or PS256).
      const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
      writeFileSync(join(dir, 'rsa.pem'), rsa.publicKey.export({ type: 'spki', format: 'pem' }));
      const byRsa = createIdentityVerifier({ publicKeyFile: join(dir, 'rsa.pem'), audience: 'kefu', maxAgeMinutes: 15 });
      const rs = await new SignJWT({ aud: 'kefu' }).setProtectedHeader({ alg: 'RS256' }).setSubject('c').setIssuedAt().setExpirationTime('5m').sign(rsa.privateKey);
      expect(await byRsa(rs)).toMatchObject({ subject: 'c' });
      // A key file that is missing, not a key, or too weak is named at start, as is asking for both kinds of key.
      const start = (options: Parameters<typeof createIdentityVerifier>[0]): unknown => {
        try {
          createIdentityVerifier(options);
        } catch (e) {
          return e;
        }
        return 'started';
      };
      writeFileSync(join(dir, 'junk.pem'), 'not a key');
      // The private key by mistake: refused, though its public half could be derived from it.
      writeFileSync(join(dir, 'private.pem'), ec.privateKey.export({ type: 'pkcs8', format: 'pem' }));
      expect(start({ publicKeyFile: join(dir, 'private.pem'), audience: 'kefu', maxAgeMinutes: 15 })).toMatchObject({ code: 'KEFU_CONFIG_INVALID', message: expect.stringMatching(/private\.pem: holds a private key/) });
      const weak = generateKeyPairSync('rsa', { modulusLength: 1024 });
      writeFileSync(join(dir, 'weak.pem'), weak.publicKey.export({ type: 'spki', format: 'pem' }));
      for (const file of ['missing.pem', 'junk.pem', 'weak.pem']) {
        expect(start({ publicKeyFile: join(dir, file), audience: 'kefu', maxAgeMinutes: 15 })).toMatchObject({ code: 'KEFU_CONFIG_INVALID', message: expect.stringContaining(file) });
      }
      expect(start({ secret: IDENTITY_SECRET, publicKeyFile: join(dir, 'bank.pem'), audience: 'kefu', maxAgeMinutes: 15 })).toMatchObject({ code: 'KEFU_CONFIG_INVALID' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses every token when no identity secret is set', async () => {
    const r = await refusal(await identityToken('cust-1'), createIdentityVerifier({ audience: 'kefu', maxAgeMinutes: 60 }));
    expect(r).toMatchObject({ code: 'KEFU_IDENTITY_INVALID', message: expect.stringContaining('identity.secret') });
  });
});
