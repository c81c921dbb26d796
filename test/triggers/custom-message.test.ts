// Custom Message: the IMS templates with Cognito's placeholders kept, within Cognito's message limits, by locale.
import t from 'tap'
import { loadCommonConfig } from '../../triggers/config.js'
import { COGNITO_LIMITS, createCustomMessageDeps, fitSubject, handle, type CustomMessageEvent } from '../../triggers/custom-message.js'
import { jsonLogger } from '../../triggers/lib/log.js'

const deps = createCustomMessageDeps(loadCommonConfig({}), jsonLogger(() => {}))

function event (triggerSource: string, attributes: Record<string, string> = {}): CustomMessageEvent {
  return {
    version: '1',
    triggerSource,
    region: 'eu-west-1',
    userPoolId: 'eu-west-1_ImsTest01',
    userName: 'minh.nguyen',
    callerContext: { awsSdkVersion: 'aws-sdk-unknown-unknown', clientId: '1example23456789' },
    request: {
      userAttributes: { sub: 'b6c1d0e2-0000-4000-8000-000000000001', email: 'minh@example.com', ...attributes },
      codeParameter: '{####}',
      usernameParameter: triggerSource === 'CustomMessage_AdminCreateUser' ? '{username}' : null,
      linkParameter: '{##Click Here##}'
    },
    response: { smsMessage: null, emailMessage: null, emailSubject: null }
  }
}

const count = (haystack: string, needle: string): number => haystack.split(needle).length - 1

const SOURCES = ['SignUp', 'AdminCreateUser', 'ResendCode', 'ForgotPassword', 'UpdateUserAttribute', 'VerifyUserAttribute', 'Authentication']

for (const source of SOURCES) {
  t.test(`CustomMessage_${source}: one {####}, within Cognito's limits, English by default`, async (t) => {
    const out = await handle(event(`CustomMessage_${source}`), deps)
    const { emailMessage, emailSubject, smsMessage } = out.response
    t.equal(count(emailMessage ?? '', '{####}'), 1, 'the code placeholder appears exactly once')
    t.ok((emailMessage ?? '').length <= COGNITO_LIMITS.emailMessage)
    t.ok((emailSubject ?? '').length > 0 && (emailSubject ?? '').length <= COGNITO_LIMITS.emailSubject)
    t.match(emailMessage, /<html lang="en"/)
    t.match(smsMessage, /\{####\}/)
    t.ok((smsMessage ?? '').length <= COGNITO_LIMITS.smsMessage)
    if (source === 'AdminCreateUser') {
      t.equal(count(emailMessage ?? '', '{username}'), 1, 'the username placeholder appears exactly once')
      t.match(smsMessage, /\{username\}/)
    }
  })
}

t.test('locale vi gives Vietnamese copy', async (t) => {
  const out = await handle(event('CustomMessage_ForgotPassword', { locale: 'vi' }), deps)
  t.equal(out.response.emailSubject, 'Đặt lại mật khẩu IMS')
  t.match(out.response.emailMessage, /<html lang="vi"/)
  t.match(out.response.smsMessage, /^IMS: mã của bạn là \{####\}$/)
})

t.test('user-provided values are escaped, and a huge name still fits the 20,000-character limit', async (t) => {
  const hostile = '<img src=x onerror=alert(1)>' + 'Ă'.repeat(2000)
  const out = await handle(event('CustomMessage_SignUp', { given_name: hostile }), deps)
  t.notMatch(out.response.emailMessage, /<img/)
  t.match(out.response.emailMessage, /&lt;img src=x onerror=alert\(1\)&gt;/)
  t.ok((out.response.emailMessage ?? '').length <= COGNITO_LIMITS.emailMessage)
})

t.test('a name that would overflow the full layout falls back to the compact one; beyond that it throws', async (t) => {
  const big = await handle(event('CustomMessage_SignUp', { given_name: 'N'.repeat(18_500) }), deps)
  t.ok((big.response.emailMessage ?? '').length <= COGNITO_LIMITS.emailMessage)
  t.notMatch(big.response.emailMessage, /<!DOCTYPE html>/, 'compact layout')
  t.match(big.response.emailMessage, /\{####\}/)
  await t.rejects(handle(event('CustomMessage_SignUp', { given_name: 'N'.repeat(25_000) }), deps), /longer than Cognito's 20000 characters/)
})

t.test('fitSubject keeps subjects to 140 characters', async (t) => {
  t.equal(fitSubject('short'), 'short')
  const cut = fitSubject('ệ'.repeat(200))
  t.equal(Array.from(cut).length, 140)
  t.ok(cut.endsWith('…'))
})

t.test('unknown sources are refused loudly', async (t) => {
  await t.rejects(handle(event('CustomMessage_Unknown'), deps), /does not handle triggerSource "CustomMessage_Unknown"/)
  await t.rejects(handle(event('CustomEmailSender_SignUp'), deps), /does not handle/)
})
