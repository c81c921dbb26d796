// Custom Email Sender: Cognito-shaped events with codes encrypted as Cognito does, sent to a real local SES and read back.
import { randomBytes, randomUUID } from 'node:crypto'
import t from 'tap'
import {
  AlgorithmSuiteIdentifier,
  buildClient,
  CommitmentPolicy,
  getClient,
  KmsKeyringNode,
  RawAesKeyringNode,
  RawAesWrappingSuiteIdentifier
} from '@aws-crypto/client-node'
import { AdminDeleteUserAttributesCommand, AdminGetUserCommand, AdminUpdateUserAttributesCommand } from '@aws-sdk/client-cognito-identity-provider'
import { KMS } from '@aws-sdk/client-kms'
import { loadEmailSenderConfig, type TriggerEnv } from '../../triggers/config.js'
import {
  CodeContextError,
  createCustomEmailSenderDeps,
  handle,
  NoEmailAddressError,
  UnknownTriggerSourceError,
  unescapeHtml,
  UserLookupError,
  type CustomEmailSenderEvent
} from '../../triggers/custom-email-sender.js'
import { LOCAL_CREDENTIALS } from '../../triggers/lib/aws.js'
import { CodeDecryptError } from '../../triggers/lib/decrypt.js'
import { jsonLogger } from '../../triggers/lib/log.js'
import { startLocalKms } from '../../src/local/kms.js'
import { codeFromEmail, readMailbox, startMailbox, type MailboxEmail } from '../../src/local/mailbox.js'
import { startEmulator } from '../helpers/emulator.js'
import { takeoverEvent } from '../helpers/takeover-event.js'

const POOL = 'eu-west-1_ImsTest01'
const KEY = randomBytes(32)
const KEY_NAMESPACE = 'ims-test'
const KEY_NAME = 'custom-email-sender'

// Cognito encrypts with the non-committing signed suite 0x0378; only FORBID_ENCRYPT_ALLOW_DECRYPT may produce it.
const cognitoSide = buildClient(CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT)
const cognitoKeyring = new RawAesKeyringNode({
  keyName: KEY_NAME,
  keyNamespace: KEY_NAMESPACE,
  unencryptedMasterKey: new Uint8Array(KEY),
  wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING
})

/** Encrypts `code` the way Cognito does (suite, encryption context), base64 like `request.code`. */
async function encryptLikeCognito (code: string, context: Record<string, string> = { 'userpool-id': POOL }): Promise<string> {
  const { result } = await cognitoSide.encrypt(cognitoKeyring, code, {
    encryptionContext: context,
    suiteId: AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384
  })
  return result.toString('base64')
}

function event (triggerSource: string, code: string | null, attributes: Record<string, string>): CustomEmailSenderEvent {
  const sub = randomUUID()
  return {
    version: '1',
    triggerSource,
    region: 'eu-west-1',
    userPoolId: POOL,
    userName: sub,
    callerContext: { awsSdkVersion: 'aws-sdk-unknown-unknown', clientId: '1example23456789' },
    request: {
      type: 'customEmailSenderRequestV1',
      code,
      userAttributes: { sub, email_verified: 'true', 'cognito:user_status': 'CONFIRMED', ...attributes },
      clientMetadata: {}
    },
    response: {}
  }
}

const mailbox = await startMailbox({ port: 0 })
t.teardown(mailbox.close)
// The pool account takeover notifications name: the trigger reads the user's address and language from it.
const cognito = await startEmulator()
t.teardown(cognito.stop)

function env (extra: TriggerEnv = {}): TriggerEnv {
  return {
    EMAIL_FROM: 'IMS <no-reply@ims.test>',
    SES_REGION: 'local',
    SES_ENDPOINT: mailbox.url,
    CES_RAW_AES_KEY_HEX: KEY.toString('hex'),
    CES_RAW_KEY_NAMESPACE: KEY_NAMESPACE,
    CES_RAW_KEY_NAME: KEY_NAME,
    ...extra
  }
}

/** Runs `fn` with the trigger's logger captured and stdout/stderr teed into the same list. */
async function withCapturedLogs<T> (fn: (log: ReturnType<typeof jsonLogger>) => Promise<T>): Promise<{ result?: T, error?: unknown, output: string }> {
  const lines: string[] = []
  const out = process.stdout.write.bind(process.stdout)
  const err = process.stderr.write.bind(process.stderr)
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => { lines.push(String(chunk)); return out(chunk, ...rest) }) as typeof process.stdout.write
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => { lines.push(String(chunk)); return err(chunk, ...rest) }) as typeof process.stderr.write
  try {
    return { result: await fn(jsonLogger((line) => lines.push(line))), output: lines.join('\n') }
  } catch (error) {
    return { error, output: lines.join('\n') }
  } finally {
    process.stdout.write = out
    process.stderr.write = err
  }
}

async function emailsTo (address: string): Promise<MailboxEmail[]> {
  return (await readMailbox(mailbox.url)).filter((e) => e.destination.to.includes(address))
}

const unique = (name: string): string => `${name}.${randomBytes(4).toString('hex')}@example.com`

t.test('the test encrypts with the suite Cognito uses (0x0378, non-committing, signed)', async (t) => {
  const blob = Buffer.from(await encryptLikeCognito('123456'), 'base64')
  t.equal(blob[0], 1, 'message format version 1')
  t.equal(blob.readUInt16BE(2), 0x0378, 'ALG_AES256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384')
})

const SUBJECTS: Record<string, string> = {
  SignUp: 'Confirm your IMS account',
  ResendCode: 'Your IMS confirmation code',
  ForgotPassword: 'Reset your IMS password',
  UpdateUserAttribute: 'Confirm your new IMS email address',
  VerifyUserAttribute: 'Verify your IMS email address',
  Authentication: 'Your IMS sign-in code'
}

for (const [kind, subject] of Object.entries(SUBJECTS)) {
  t.test(`CustomEmailSender_${kind}: decrypts the code and emails it in English`, async (t) => {
    const deps = createCustomEmailSenderDeps(loadEmailSenderConfig(env()))
    const to = unique(kind.toLowerCase())
    const code = String(100000 + Math.floor(Math.random() * 899999))
    const captured = await withCapturedLogs(async (log) => await handle(event(`CustomEmailSender_${kind}`, await encryptLikeCognito(code), { email: to }), { ...deps, log }))
    t.equal(captured.error, undefined)
    const [email, ...more] = await emailsTo(to)
    t.equal(more.length, 0, 'exactly one email')
    t.equal(email?.subject, subject)
    t.equal(email?.from, 'IMS <no-reply@ims.test>')
    t.equal(email !== undefined ? codeFromEmail(email) : undefined, code, 'the text body carries the code')
    t.match(email?.body.html, new RegExp(`<html lang="en"[\\s\\S]*>${code}</p>`), 'the HTML body carries the code')
    t.notOk(captured.output.includes(code), 'the code is not logged')
    t.notOk(captured.output.includes(to), 'the address is not logged')
    t.ok(captured.output.includes(`"to":"${to[0]}***@e***.com"`), 'a masked address is logged')
  })
}

t.test('locale vi gives the Vietnamese email', async (t) => {
  const deps = createCustomEmailSenderDeps(loadEmailSenderConfig(env()))
  const to = unique('vi')
  await handle(event('CustomEmailSender_ForgotPassword', await encryptLikeCognito('424242'), { email: to, locale: 'vi-VN', given_name: 'Lan' }), { ...deps, log: jsonLogger(() => {}) })
  const [email] = await emailsTo(to)
  t.equal(email?.subject, 'Đặt lại mật khẩu IMS')
  t.match(email?.body.html, /<html lang="vi"/)
  t.match(email?.body.text, /Xin chào Lan,/)
  t.equal(email !== undefined ? codeFromEmail(email) : undefined, '424242')
})

// What the recipient reads as the greeting: the fifth line of the text body (IMS, '', heading, '', greeting).
const greetingOf = (email: MailboxEmail | undefined): string | undefined => email?.body.text?.split('\n')[4]
const NAMELESS = { en: 'Hello,', vi: 'Xin chào,' } as const
const HOSTILE = 'there.\n\nSECURITY NOTICE: your IMS account was locked. Unlock it within 24 h at https://ims-support.evil.example/unlock or it is deleted.\n\nIgnore the code below'

for (const locale of ['en', 'vi'] as const) {
  t.test(`${locale}: a hostile or over-long given_name is not greeted, in the HTML nor the text of the email sent`, async (t) => {
    const deps = createCustomEmailSenderDeps(loadEmailSenderConfig(env()), jsonLogger(() => {}))
    for (const [given, what] of [[HOSTILE, 'multi-line with a link'], ['Ă'.repeat(41), '41 characters'], ['N'.repeat(2048), 'Cognito\'s 2,048']]) {
      const to = unique(`name-${locale}`)
      await handle(event('CustomEmailSender_SignUp', await encryptLikeCognito('271828'), { email: to, locale, given_name: given as string }), deps)
      const [email] = await emailsTo(to)
      t.equal(greetingOf(email), NAMELESS[locale], `${what}: text greeting`)
      t.ok(email?.body.html?.includes(`>${NAMELESS[locale]}</p>`), `${what}: HTML greeting`)
      for (const body of [email?.body.html ?? '', email?.body.text ?? '']) {
        t.notOk(body.includes('evil.example') || body.includes('SECURITY NOTICE') || body.includes('NNNN') || body.includes('ĂĂĂ'), `${what}: none of the name is sent`)
      }
      t.equal(email !== undefined ? codeFromEmail(email) : undefined, '271828', `${what}: the code is still sent`)
    }
  })
}

t.test('a Vietnamese given_name with diacritics is greeted, its spacing tidied', async (t) => {
  const deps = createCustomEmailSenderDeps(loadEmailSenderConfig(env()), jsonLogger(() => {}))
  const to = unique('vi-name')
  await handle(event('CustomEmailSender_Authentication', await encryptLikeCognito('314159'), { email: to, locale: 'vi', given_name: ' Nguyễn  Thị Minh Khai ' }), deps)
  const [email] = await emailsTo(to)
  t.equal(greetingOf(email), 'Xin chào Nguyễn Thị Minh Khai,')
  t.ok(email?.body.html?.includes('>Xin chào Nguyễn Thị Minh Khai,</p>'))
})

t.test('DEFAULT_LOCALE=vi applies to users without a locale attribute; an English locale still wins', async (t) => {
  const deps = createCustomEmailSenderDeps(loadEmailSenderConfig(env({ DEFAULT_LOCALE: 'vi' })), jsonLogger(() => {}))
  const a = unique('nolocale')
  const b = unique('english')
  await handle(event('CustomEmailSender_SignUp', await encryptLikeCognito('111222'), { email: a }), deps)
  await handle(event('CustomEmailSender_SignUp', await encryptLikeCognito('333444'), { email: b, locale: 'en' }), deps)
  t.equal((await emailsTo(a))[0]?.subject, 'Xác nhận tài khoản IMS của bạn')
  t.equal((await emailsTo(b))[0]?.subject, 'Confirm your IMS account')
})

t.test('AdminCreateUser: the HTML-escaped temporary password is un-escaped; nothing leaks into logs', async (t) => {
  const deps = createCustomEmailSenderDeps(loadEmailSenderConfig(env()))
  const to = unique('invite')
  const password = 'Tq9&<x>"\'Z'
  const escapedByCognito = 'Tq9&amp;&lt;x&gt;&quot;&#39;Z'
  const ev = event('CustomEmailSender_AdminCreateUser', await encryptLikeCognito(escapedByCognito), { email: to, given_name: '<b>Minh</b>' })
  ev.userName = 'minh.nguyen'
  const captured = await withCapturedLogs(async (log) => await handle(ev, { ...deps, log }))
  t.equal(captured.error, undefined)
  const [email] = await emailsTo(to)
  t.equal(email?.subject, 'Your IMS account is ready')
  t.equal(email !== undefined ? codeFromEmail(email) : undefined, password, 'the text body has the real password')
  t.ok(email?.body.html?.includes('>Tq9&amp;&lt;x&gt;&quot;&#39;Z</p>'), 'the HTML escapes it exactly once')
  t.match(email?.body.text, /Username: minh\.nguyen/)
  t.ok(email?.body.html?.includes('Hello &lt;b&gt;Minh&lt;/b&gt;,'), 'user-provided values are escaped in HTML')
  for (const secret of [password, escapedByCognito, to, 'Tq9']) t.notOk(captured.output.includes(secret), `log has no ${secret === to ? 'address' : 'password'}`)
})

t.test('AdminCreateUser in an email-username pool shows the email as the sign-in name', async (t) => {
  const deps = createCustomEmailSenderDeps(loadEmailSenderConfig(env()), jsonLogger(() => {}))
  const to = unique('uuid')
  await handle(event('CustomEmailSender_AdminCreateUser', await encryptLikeCognito('Abc123!x'), { email: to }), deps)
  t.match((await emailsTo(to))[0]?.body.text, new RegExp(`Username: ${to.replace(/\./g, '\\.')}`))
})

t.test('unescapeHtml handles named, decimal and hex entities and leaves the rest', async (t) => {
  t.equal(unescapeHtml('a&amp;b&lt;c&gt;d&quot;e&#39;f&#x27;g&apos;h&#38;'), 'a&b<c>d"e\'f\'g\'h&')
  t.equal(unescapeHtml('&amp;amp; &unknown; & plain'), '&amp; &unknown; & plain')
  // A password holding what looks like an entity named after an inherited member keeps it as written.
  t.equal(unescapeHtml('Pa&constructor;ss&toString;1&hasOwnProperty;'), 'Pa&constructor;ss&toString;1&hasOwnProperty;')
})

t.test('a code encrypted for another pool is refused and no email leaves', async (t) => {
  const deps = createCustomEmailSenderDeps(loadEmailSenderConfig(env({ TRIGGERS_LOCAL_MODE: 'true' })))
  const to = unique('otherpool')
  const captured = await withCapturedLogs(async (log) => await handle(
    event('CustomEmailSender_ForgotPassword', await encryptLikeCognito('765432', { 'userpool-id': 'eu-west-1_Another' }), { email: to }), { ...deps, log }))
  t.type(captured.error, CodeContextError)
  t.same(await emailsTo(to), [])
  t.notOk(captured.output.includes('765432'))
  t.match(captured.output, /"msg":"email not sent".*"reason":"CodeContextError"/)
})

t.test('a code without userpool-id: refused by default, accepted only in local mode', async (t) => {
  const strict = createCustomEmailSenderDeps(loadEmailSenderConfig(env()), jsonLogger(() => {}))
  const local = createCustomEmailSenderDeps(loadEmailSenderConfig(env({ TRIGGERS_LOCAL_MODE: 'true' })), jsonLogger(() => {}))
  const a = unique('strict')
  const b = unique('local')
  await t.rejects(handle(event('CustomEmailSender_SignUp', await encryptLikeCognito('555111', {}), { email: a }), strict), CodeContextError)
  t.same(await emailsTo(a), [])
  await handle(event('CustomEmailSender_SignUp', await encryptLikeCognito('555222', {}), { email: b }), local)
  t.equal(codeFromEmail((await emailsTo(b))[0] as MailboxEmail), '555222')
})

t.test('a code encrypted under another key is refused', async (t) => {
  const deps = createCustomEmailSenderDeps(loadEmailSenderConfig(env({ CES_RAW_AES_KEY_HEX: randomBytes(32).toString('hex') })), jsonLogger(() => {}))
  const to = unique('otherkey')
  await t.rejects(handle(event('CustomEmailSender_SignUp', await encryptLikeCognito('909090'), { email: to }), deps))
  t.same(await emailsTo(to), [])
})

t.test('production refuses the raw AES key and local mode', async (t) => {
  t.throws(() => loadEmailSenderConfig(env({ NODE_ENV: 'production' })), /CES_RAW_AES_KEY_HEX .*refused when NODE_ENV=production/)
  t.throws(() => loadEmailSenderConfig({ ...env({ NODE_ENV: 'production', KMS_KEY_ARN: 'arn:aws:kms:eu-west-1:123456789012:key/abc' }), CES_RAW_AES_KEY_HEX: undefined, SES_ENDPOINT: undefined, TRIGGERS_LOCAL_MODE: 'true' }),
    /TRIGGERS_LOCAL_MODE=true is refused when NODE_ENV=production/)
})

/** A confirmed user of the emulator's pool with these extra attributes; its address and its pool username. */
async function poolUser (attributes: Record<string, string> = {}): Promise<{ email: string, username: string }> {
  const email = await cognito.user([])
  const entries = Object.entries(attributes)
  if (entries.length > 0) {
    await cognito.client.send(new AdminUpdateUserAttributesCommand({
      UserPoolId: cognito.userPoolId, Username: email, UserAttributes: entries.map(([Name, Value]) => ({ Name, Value }))
    }))
  }
  const user = await cognito.client.send(new AdminGetUserCommand({ UserPoolId: cognito.userPoolId, Username: email }))
  return { email, username: user.Username as string }
}

/** Deps on the emulator's pool whose KMS is a closed port: any decryption attempt would fail the send. */
function depsWithoutKms (log = jsonLogger(() => {})): ReturnType<typeof createCustomEmailSenderDeps> {
  return createCustomEmailSenderDeps(loadEmailSenderConfig({
    ...env({ KMS_KEY_ARN: 'arn:aws:kms:local:000000000000:key/never-used', KMS_ENDPOINT: 'http://127.0.0.1:1', COGNITO_ENDPOINT: cognito.endpoint }),
    CES_RAW_AES_KEY_HEX: undefined
  }), log)
}

t.test('AccountTakeOverNotification as Cognito sends it: the address, language and name come from the pool; null details are left out', async (t) => {
  const user = await poolUser({ locale: 'vi', given_name: 'Lan' })
  const captured = await withCapturedLogs(async (log) => await handle(takeoverEvent(cognito, user.username), depsWithoutKms(log)))
  t.equal(captured.error, undefined, 'sent')
  const [email, ...more] = await emailsTo(user.email)
  t.equal(more.length, 0, 'exactly one email')
  t.equal(email?.subject, 'Phát hiện đăng nhập bất thường vào tài khoản IMS', 'in the user\'s language')
  t.equal(greetingOf(email), 'Xin chào Lan,', 'greeting the user\'s given name')
  t.match(email?.body.text, /^Thời gian: Friday, March 19, 2021 02:25 PM UTC$/m)
  t.match(email?.body.text, /^Địa chỉ IP: 203\.0\.113\.7$/m)
  t.match(email?.body.text, /^Hành động đã thực hiện: Đã chặn đăng nhập$/m)
  t.notMatch(email?.body.text, /^(Vị trí|Thiết bị):/m, 'no Location nor Device line for null CITY, COUNTRY, DEVICE_NAME')
  t.notOk(email?.body.html?.includes('>Vị trí</td>') === true || email?.body.html?.includes('>Thiết bị</td>') === true, 'nor rows in the HTML')
  t.match(email?.body.html, /href="https:\/\/ims\.auth\.eu-west-1\.amazoncognito\.com\/invalid\?token=b"/)
  t.equal(codeFromEmail(email as MailboxEmail), undefined)
  t.notOk(captured.output.includes(user.email), 'the address is not logged')
  t.match(captured.output, new RegExp(`"msg":"email sent".*"to":"${user.email[0] as string}\\*\\*\\*@i\\*\\*\\*\\.test"`), 'a masked address is logged')
})

t.test('AccountTakeOverNotification: an English user with every detail; a link that is not https is dropped', async (t) => {
  const user = await poolUser()
  await handle(takeoverEvent(cognito, user.username, {
    CITY: 'Hà Nội', COUNTRY: 'VN', DEVICE_NAME: '(Opera 74, Linux)', ONE_CLICK_LINK_INVALID: 'javascript:alert(1)'
  }), depsWithoutKms())
  const [email] = await emailsTo(user.email)
  t.equal(email?.subject, 'Unusual sign-in to your IMS account')
  t.equal(greetingOf(email), 'Hello,')
  t.match(email?.body.text, /^IP address: 203\.0\.113\.7$/m)
  t.match(email?.body.text, /^Location: Hà Nội, VN$/m)
  t.match(email?.body.text, /^Device: \(Opera 74, Linux\)$/m)
  t.match(email?.body.text, /^Action taken: Sign-in blocked$/m)
  t.match(email?.body.html, /href="https:\/\/ims\.auth\.eu-west-1\.amazoncognito\.com\/valid\?token=a"/)
  t.notMatch(email?.body.html, /javascript:/, 'a non-https link is dropped')
})

t.test('AccountTakeOverNotification for a user the pool does not know fails loudly, naming no AWS exception', async (t) => {
  const captured = await withCapturedLogs(async (log) => await handle(takeoverEvent(cognito, `gone-${randomUUID()}`), depsWithoutKms(log)))
  t.type(captured.error, UserLookupError)
  t.match(captured.error, { message: 'Cognito did not give the user\'s attributes (COGNITO_REFUSED, HTTP 400).', cause: undefined })
  t.match(captured.output, /"msg":"email not sent".*"triggerSource":"CustomEmailSender_AccountTakeOverNotification".*"reason":"COGNITO_REFUSED","status":400/)
  t.notMatch(`${captured.output} ${String(captured.error)} ${(captured.error as Error).stack ?? ''}`, /[A-Z][A-Za-z]+Exception/)
})

t.test('AccountTakeOverNotification for a user without an email address fails loudly and sends nothing', async (t) => {
  const user = await poolUser()
  await cognito.client.send(new AdminDeleteUserAttributesCommand({ UserPoolId: cognito.userPoolId, Username: user.username, UserAttributeNames: ['email'] }))
  const before = (await readMailbox(mailbox.url)).length
  await t.rejects(handle(takeoverEvent(cognito, user.username), depsWithoutKms()), NoEmailAddressError)
  t.equal((await readMailbox(mailbox.url)).length, before)
})

t.test('an unknown trigger source is refused loudly and sends nothing', async (t) => {
  const deps = createCustomEmailSenderDeps(loadEmailSenderConfig(env()), jsonLogger(() => {}))
  const to = unique('unknown')
  await t.rejects(handle(event('CustomEmailSender_Whatever', await encryptLikeCognito('1'), { email: to }), deps), UnknownTriggerSourceError)
  await t.rejects(handle(event('CustomMessage_SignUp', await encryptLikeCognito('1'), { email: to }), deps), UnknownTriggerSourceError)
  t.same(await emailsTo(to), [])
})

t.test('a user without an email attribute is refused', async (t) => {
  const deps = createCustomEmailSenderDeps(loadEmailSenderConfig(env()), jsonLogger(() => {}))
  await t.rejects(handle(event('CustomEmailSender_SignUp', await encryptLikeCognito('1'), {}), deps), /no email attribute/)
})

// SES takes addresses in 7-bit ASCII only (no SMTPUTF8): a Unicode domain in Punycode, a Unicode sender name as an
// RFC 2047 encoded-word; anything else SES refuses, and no email leaves.
const ASCII = /^[\x20-\x7e]*$/
/** The sender as a mail client shows it: an encoded-word display name decoded (the space between two encoded-words dropped, RFC 2047). */
const shownSender = (from: string): string => from.replace(/\?=\s+=\?/g, '?==?').replace(/=\?UTF-8\?B\?([A-Za-z0-9+/=]*)\?=/gi, (_, b64: string) => Buffer.from(b64, 'base64').toString('utf8'))

t.test('a Vietnamese sender name and a recipient on a Unicode domain reach SES in the ASCII it requires', async (t) => {
  const deps = createCustomEmailSenderDeps(loadEmailSenderConfig(env({ EMAIL_FROM: 'Hệ thống IMS <no-reply@nhà-máy.vn>' })), jsonLogger(() => {}))
  const local = `lan.${randomBytes(4).toString('hex')}`
  await handle(event('CustomEmailSender_ForgotPassword', await encryptLikeCognito('868686'), { email: `${local}@thử-nghiệm.vn`, locale: 'vi' }), deps)
  const sent = await emailsTo(`${local}@xn--th-nghim-l70dko.vn`)
  t.equal(sent.length, 1, 'one email, to the domain in Punycode')
  const email = sent[0]
  t.match(email?.from, ASCII, 'the sender is 7-bit ASCII')
  t.equal(shownSender(email?.from ?? ''), 'Hệ thống IMS <no-reply@xn--nh-my-sqaj.vn>', 'and reads as the name the operator set')
  t.equal(email !== undefined ? codeFromEmail(email) : undefined, '868686')
})

/** RFC 5322 `display-name <addr-spec>` or a bare address: a display name of atoms (an encoded-word is one) and quoted strings only, no bare specials. */
const ATOM = String.raw`[A-Za-z0-9!#$%&'*+\-/=?^_${'`'}{|}~]+`
const QUOTED = String.raw`"(?:[^"\\\r\n]|\\.)*"`
const WORD = `(?:${ATOM}|${QUOTED})`
const MAILBOX = new RegExp(String.raw`^(?:${WORD}(?: ${WORD})* <[^\s<>@]+@[^\s<>@]+>|[^\s<>@]+@[^\s<>@]+)$`)

t.test('a Vietnamese sender name holding a comma or parentheses reaches SES as one well-formed sender, shown as set', async (t) => {
  for (const name of ['Công ty TNHH ABC (Việt Nam)', 'IMS, Phòng Nhân sự']) {
    const deps = createCustomEmailSenderDeps(loadEmailSenderConfig(env({ EMAIL_FROM: `"${name}" <no-reply@ims.test>` })), jsonLogger(() => {}))
    const to = unique('sender')
    await handle(event('CustomEmailSender_ForgotPassword', await encryptLikeCognito('575757'), { email: to, locale: 'vi' }), deps)
    const from = (await emailsTo(to))[0]?.from ?? ''
    t.match(from, MAILBOX, `${name}: one mailbox, no comma or parenthesis outside an encoded-word or quotes (SES reads those as address syntax)`)
    t.equal(shownSender(from), `${name} <no-reply@ims.test>`, `${name}: shown as the operator set it`)
  }
})

t.test('an unreachable SES surfaces as EmailSendError, whose message quotes no address', async (t) => {
  const deps = createCustomEmailSenderDeps(loadEmailSenderConfig(env({ SES_ENDPOINT: 'http://127.0.0.1:1' })))
  const to = unique('sesdown')
  const code = await encryptLikeCognito('1')
  const captured = await withCapturedLogs(async (log) => await handle(event('CustomEmailSender_SignUp', code, { email: to }), { ...deps, log }))
  t.match(captured.error, { name: 'EmailSendError', message: 'SES did not send the email (SES_UNREACHABLE).', cause: undefined })
  t.notOk(String((captured.error as Error).message).includes(to))
  t.match(captured.output, /"msg":"email not sent".*"reason":"SES_UNREACHABLE"/)
})

t.test('a KMS that refuses the code: CodeDecryptError, with no KMS exception name in the error nor the log', async (t) => {
  // cognito-local's way: a KMS keyring on the local KMS; the trigger asks another local KMS, which refuses the data key.
  const issuer = await startLocalKms()
  t.teardown(issuer.close)
  const other = await startLocalKms()
  t.teardown(other.close)
  const keyring = new KmsKeyringNode({ generatorKeyId: issuer.keyArn, clientProvider: getClient(KMS, { endpoint: issuer.endpoint, region: 'local', credentials: LOCAL_CREDENTIALS }) })
  const { result } = await buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT).encrypt(keyring, '246810', { encryptionContext: { 'userpool-id': POOL } })
  const deps = createCustomEmailSenderDeps(loadEmailSenderConfig({ ...env({ KMS_KEY_ARN: issuer.keyArn, KMS_ENDPOINT: other.endpoint }), CES_RAW_AES_KEY_HEX: undefined }))
  const to = unique('kmsrefuses')
  const captured = await withCapturedLogs(async (log) => await handle(event('CustomEmailSender_ForgotPassword', result.toString('base64'), { email: to }), { ...deps, log }))
  t.type(captured.error, CodeDecryptError)
  t.equal((captured.error as Error).cause, undefined)
  t.notMatch(`${String(captured.error)} ${(captured.error as Error).stack ?? ''}`, /[A-Z][A-Za-z]+Exception|arn:aws/, 'what the Lambda runtime would report')
  t.match(captured.output, /"msg":"email not sent".*"reason":"CodeDecryptError"/)
  t.notMatch(captured.output, /[A-Z][A-Za-z]+Exception/)
  t.same(await emailsTo(to), [])
})
