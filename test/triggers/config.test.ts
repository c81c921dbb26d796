// Trigger configuration: validated from an env object, with sentences that name the variable; local-only settings refused in production.
import t from 'tap'
import {
  loadCommonConfig,
  loadEmailSenderConfig,
  loadTriggerConfig,
  TriggerConfigError,
  type TriggerEnv
} from '../../triggers/config.js'

const ARN = 'arn:aws:kms:eu-west-1:123456789012:key/0b1c2d3e-0000-4000-8000-000000000001'
const AWS_ENV: TriggerEnv = { KMS_KEY_ARN: ARN, EMAIL_FROM: 'IMS <no-reply@ims.example.com>', SES_REGION: 'eu-west-1' }

t.test('a complete AWS configuration: KMS keyring on the ARN (its KMS client is in the ARN’s region)', async (t) => {
  const config = loadEmailSenderConfig({ ...AWS_ENV, SES_CONFIGURATION_SET: 'ims-transactional' })
  t.same(config.decryption, { kind: 'kms', keyArn: ARN, endpoint: undefined })
  t.equal(config.sesConfigurationSet, 'ims-transactional')
  t.equal(config.localMode, false)
  t.equal(config.defaultLocale, 'en')
})

t.test('each missing or malformed variable stops the cold start with a sentence naming it', async (t) => {
  const cases: Array<[TriggerEnv, RegExp]> = [
    [{ ...AWS_ENV, EMAIL_FROM: undefined }, /^EMAIL_FROM is not set; it must hold/],
    [{ ...AWS_ENV, EMAIL_FROM: 'not-an-address' }, /^EMAIL_FROM must be an email address/],
    // SES refuses every email from these: the start, not the first sign-up, should say so.
    [{ ...AWS_ENV, EMAIL_FROM: 'IMS <no-reply@ims.example.com' }, /^EMAIL_FROM must be an email address/],
    [{ ...AWS_ENV, EMAIL_FROM: 'no-reply@ims.example.com>' }, /^EMAIL_FROM must be an email address/],
    [{ ...AWS_ENV, EMAIL_FROM: 'IMS no-reply@ims.example.com' }, /^EMAIL_FROM must be an email address/],
    // An unclosed parenthesis or quote: read as SES's address is (nodemailer's parser), the address is lost in it.
    [{ ...AWS_ENV, EMAIL_FROM: 'IMS (Support <no-reply@ims.example.com>' }, /^EMAIL_FROM must be an email address/],
    [{ ...AWS_ENV, EMAIL_FROM: '"IMS <no-reply@ims.example.com>' }, /^EMAIL_FROM must be an email address/],
    [{ ...AWS_ENV, SES_REGION: '  ' }, /^SES_REGION is not set/],
    [{ ...AWS_ENV, KMS_KEY_ARN: undefined }, /^KMS_KEY_ARN is not set/],
    [{ ...AWS_ENV, KMS_KEY_ARN: 'arn:aws:kms:eu-west-1:123456789012:alias/ims' }, /^KMS_KEY_ARN must be a key ARN .*\(not an alias\)/],
    [{ ...AWS_ENV, SES_ENDPOINT: 'ftp://x' }, /^SES_ENDPOINT must be an http\(s\) URL/],
    [{ ...AWS_ENV, DEFAULT_LOCALE: 'fr' }, /^DEFAULT_LOCALE must be "en" or "vi"/],
    [{ ...AWS_ENV, TRIGGERS_LOCAL_MODE: 'yes' }, /^TRIGGERS_LOCAL_MODE must be "true" or "false"/],
    [{ ...AWS_ENV, CES_RAW_AES_KEY_HEX: 'abc' }, /^CES_RAW_AES_KEY_HEX must be 64 hexadecimal characters/]
  ]
  for (const [env, message] of cases) {
    t.throws(() => loadEmailSenderConfig(env), { name: 'TriggerConfigError', message }, String(message))
  }
})

t.test('a sender name with quotes, parentheses or Vietnamese letters starts', async (t) => {
  for (const from of ['"Công ty TNHH ABC (Việt Nam)" <no-reply@ims.example.com>', '"IMS (Support)" <no-reply@ims.example.com>', '"Doe, John" <no-reply@ims.example.com>', 'Hệ thống IMS <no-reply@nhà-máy.vn>', 'no-reply@ims.example.com']) {
    t.equal(loadEmailSenderConfig({ ...AWS_ENV, EMAIL_FROM: from }).emailFrom, from, from)
  }
})

t.test('a sender name whose parentheses or colon, unquoted, the sender reads as address syntax stops the cold start, naming what recipients would read', async (t) => {
  // Nodemailer's parser, which reads EMAIL_FROM for SES, drops a comment '(…)' and takes 'Name:' as a group's.
  for (const [from, read] of [['IMS (Support) <no-reply@ims.example.com>', 'IMS'], ['Công ty TNHH ABC (Việt Nam) <no-reply@ims.example.com>', 'Công ty TNHH ABC'], ['IMS: Support <no-reply@ims.example.com>', 'Support']]) {
    t.throws(() => loadEmailSenderConfig({ ...AWS_ENV, EMAIL_FROM: from }), { name: 'TriggerConfigError', message: `EMAIL_FROM's sender name would reach recipients as "${read}": put the whole name in double quotes: "IMS (Support)" <no-reply@example.com>.` }, from)
  }
})

t.test('local-only settings are refused when NODE_ENV=production and inside AWS Lambda', async (t) => {
  const rawKey = 'a'.repeat(64)
  for (const name of ['CES_RAW_AES_KEY_HEX', 'KMS_ENDPOINT', 'SES_ENDPOINT', 'COGNITO_ENDPOINT']) {
    const value = name === 'CES_RAW_AES_KEY_HEX' ? rawKey : 'http://127.0.0.1:4566'
    t.throws(() => loadEmailSenderConfig({ ...AWS_ENV, [name]: value, NODE_ENV: 'production' }),
      new TriggerConfigError(`${name} is for local mode and tests only; it is refused when NODE_ENV=production.`))
    t.throws(() => loadEmailSenderConfig({ ...AWS_ENV, [name]: value, AWS_LAMBDA_FUNCTION_NAME: 'ims-ces' }),
      new TriggerConfigError(`${name} is for local mode and tests only; it is refused inside AWS Lambda.`))
  }
  t.throws(() => loadCommonConfig({ TRIGGERS_LOCAL_MODE: 'true', NODE_ENV: 'production' }), /refused when NODE_ENV=production/)
  t.throws(() => loadCommonConfig({ TRIGGERS_LOCAL_MODE: 'true', AWS_LAMBDA_FUNCTION_NAME: 'ims-ces' }), /refused inside AWS Lambda/)
})

t.test('the raw AES key replaces KMS outside production, with a default namespace and name', async (t) => {
  const config = loadEmailSenderConfig({ EMAIL_FROM: 'a@b.c', SES_REGION: 'local', CES_RAW_AES_KEY_HEX: 'ab'.repeat(32) })
  t.equal(config.decryption.kind, 'raw-aes')
  t.match(config.decryption, { keyNamespace: 'ims-local', keyName: 'custom-email-sender' })
})

t.test('loadTriggerConfig validates every trigger from one env object', async (t) => {
  const all = loadTriggerConfig({ ...AWS_ENV, ROLE_GROUPS: '{"MANAGER": ["planners"]}', DEFAULT_GROUP: 'LINE_LEADER', DEFAULT_LOCALE: 'vi' })
  t.same(all.preToken.roleGroups.MANAGER, ['planners'])
  t.equal(all.postConfirmation.defaultGroup, 'LINE_LEADER')
  t.equal(all.customMessage.defaultLocale, 'vi')
  t.throws(() => loadTriggerConfig({ ROLE_GROUPS: '{}' }), /EMAIL_FROM is not set/)
})
