/**
 * The token cache keys entries by a token's tail; a hit must still be the
 * whole token: a token that only shares the tail of a cached one is a miss.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TokenCache } from '../../src/auth/token-cache.js';
import type { VerifiedToken } from '../../src/auth/types.js';

const tail = 'S'.repeat(64);
const verified = (token: string, subject: string): VerifiedToken => ({ token, subject, claims: { sub: subject }, expiresAtMs: Date.now() + 60_000 });

describe('token cache', () => {
  test('a token sharing only the tail of a cached token is not a hit, and displaces it', () => {
    const cache = new TokenCache(10, 60_000);
    const alice = verified(`header.alice.${tail}`, 'alice');
    cache.set(alice);
    assert.equal(cache.get(`header.alice.${tail}`), alice);
    assert.equal(cache.get(`header.mallory.${tail}`), undefined, 'same tail, different token');
    const mallory = verified(`header.mallory.${tail}`, 'mallory');
    cache.set(mallory);
    assert.equal(cache.get(`header.mallory.${tail}`), mallory);
    assert.equal(cache.get(`header.alice.${tail}`), undefined);
    assert.equal(cache.size, 1);
  });

  test('least recently used goes first; an expired token is not cached', () => {
    const cache = new TokenCache(2, 60_000);
    const [a, b, c] = ['a', 'b', 'c'].map((s) => verified(`${s}.${s.repeat(40)}`, s)) as [VerifiedToken, VerifiedToken, VerifiedToken];
    cache.set(a);
    cache.set(b);
    cache.get(a.token);
    cache.set(c);
    assert.equal(cache.get(b.token), undefined, 'b was the least recently used');
    assert.equal(cache.get(a.token), a);
    assert.equal(cache.get(c.token), c);
    const expired = { ...a, expiresAtMs: Date.now() - 1 };
    cache.set(expired);
    assert.equal(cache.get(a.token), a, 'an already expired token is not cached');
  });
});
