// safeReturnTo on its own (only same-origin paths come out, judged after dot segments are resolved and once encoded), and when a login began.
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { LoginTransactions, safeReturnTo } from '../../src/session/login-transaction.js'
import { Sealer } from '../../src/session/sealing.js'
import { subkey } from '../../src/session/keys.js'
import { MemoryStore } from '../../src/store/shared-store.js'

t.test('bar 31: absolute, protocol-relative and backslash URLs and other schemes become /', async (t) => {
  for (const value of ['https://evil.example/x', '//evil.example/x', '/\\evil.example/x', 'javascript:alert(1)', 'evil.example', '/\t/evil.example', 42, undefined]) {
    t.equal(safeReturnTo(value), '/', JSON.stringify(value))
  }
})

t.test('dot segments that resolve to //host become /, not a protocol-relative URL', async (t) => {
  for (const value of ['/.//evil.example', '/%2e%2e//evil.example', '/a/..//evil.example', '/.%2E/./..//evil.example/x?y#z']) {
    t.equal(safeReturnTo(value), '/', value)
  }
})

t.test('same-origin paths come back resolved and percent-encoded; the hosted-login routes do not', async (t) => {
  t.equal(safeReturnTo('/shop-floor/line-3?week=3#today'), '/shop-floor/line-3?week=3#today')
  t.equal(safeReturnTo('/plans/../shop-floor'), '/shop-floor')
  t.equal(safeReturnTo('/%2F%2Fevil.example'), '/%2F%2Fevil.example', 'an encoded slash stays one path segment')
  t.equal(safeReturnTo('/kế-hoạch'), '/k%E1%BA%BF-ho%E1%BA%A1ch')
  t.equal(safeReturnTo('/auth/callback?code=x'), '/')
  t.equal(safeReturnTo('/auth/%6cogout'), '/', 'the logout, percent-encoded, is still the logout')
  t.equal(safeReturnTo('/auth/%E0'), '/', 'a path that does not decode')
})

t.test('the length is judged once encoded: 2048 characters at most', async (t) => {
  t.equal(safeReturnTo(`/${'x'.repeat(2047)}`).length, 2048, 'ASCII up to the limit is kept')
  t.equal(safeReturnTo(`/${'x'.repeat(2048)}`), '/')
  t.equal(safeReturnTo(`/${'é'.repeat(341)}`).length, 2047, '341 typed characters, 2047 encoded: kept')
  t.equal(safeReturnTo(`/${'é'.repeat(342)}`), '/', '342 typed characters, 2053 encoded: too long')
})

t.test('a login began when it was started, whatever lifetime the instance that opens it has; one sealed by an earlier build, from its expiry', async (t) => {
  const key = randomBytes(32).toString('hex')
  const store = new MemoryStore()
  const transaction = { state: 's', nonce: 'n', codeVerifier: 'v' }
  const before = Date.now()
  const cookie = await new LoginTransactions(store, key, 300).start(transaction, '/')
  const after = Date.now()
  for (const seconds of [60, 300, 3600]) {
    const startedAt = new LoginTransactions(store, key, seconds).open(cookie)?.startedAt ?? 0
    t.ok(startedAt >= before && startedAt <= after, `opened where it lives ${seconds} s`)
  }
  // What a build before startedAt was sealed wrote: no startedAt, an expiry its own lifetime (600 s) after the start.
  const expiresAt = Date.now() + 600_000
  const earlier = new Sealer(subkey(key, 'hosted-login transaction cookie')).seal(JSON.stringify({ ...transaction, id: 'x', returnTo: '/', purpose: 'hosted-login', expiresAt }))
  t.equal(new LoginTransactions(store, key, 600).open(earlier)?.startedAt, expiresAt - 600_000)
})
