// The pages' words in English and Vietnamese, and how server errors are shown in each.

export type Lang = 'en' | 'vi'
export const LANGS: readonly Lang[] = ['en', 'vi']

const en = {
  skip: 'Skip to content',
  brand: 'Identity',
  language: 'Language',
  loading: 'Loading…',
  show: 'Show',
  hide: 'Hide',
  'reveal.show': 'Show password',
  'reveal.hide': 'Hide password',
  or: 'or',
  back: 'Back to sign in',
  'field.email': 'Email',
  'field.password': 'Password',
  'field.newPassword': 'New password',
  'field.confirm': 'Repeat the new password',
  'field.code': 'Code',
  'field.method': 'Verification method',
  'signIn.title': 'Sign in',
  'signIn.lead': 'Use your IMS account to reach planning, the shop floor and administration.',
  'signIn.submit': 'Sign in',
  'signIn.forgot': 'Forgot your password?',
  'signIn.hosted': 'Sign in with Cognito',
  'signIn.signedOut': 'You are signed out.',
  'signIn.signedOutEverywhere': 'You are signed out on every device.',
  'signIn.passwordChanged': 'Your password has been changed. Sign in with your new password.',
  'signIn.sessionEnded': 'Your session has ended. Sign in again.',
  'signIn.confirmed': 'Your account is confirmed. Sign in to continue.',
  'newPassword.title': 'Choose a new password',
  'newPassword.lead': 'Your temporary password worked. Choose your own password to finish signing in.',
  'newPassword.submit': 'Save and sign in',
  'code.title': 'Enter your code',
  'code.lead': 'Enter the code we sent to {destination}.',
  'code.leadApp': 'Enter the code shown in your authenticator app.',
  'code.leadSetup': 'Add this key to your authenticator app, then enter the code it shows.',
  'code.leadChoose': 'Choose how you want to confirm it is you.',
  'code.submit': 'Continue',
  'mfa.SOFTWARE_TOKEN_MFA': 'Authenticator app',
  'mfa.SMS_MFA': 'Text message (SMS)',
  'mfa.EMAIL_OTP': 'Email',
  'forgot.title': 'Reset your password',
  'forgot.lead': 'Enter the email of your account. We will send you a code to set a new password.',
  'forgot.submit': 'Send the code',
  'forgot.resetRequired': 'Your password must be reset before you can sign in. Send yourself a code to choose a new one.',
  'reset.title': 'Enter the code',
  'reset.lead': 'If an account exists for {email}, a code is on its way. Enter it with your new password.',
  'reset.submit': 'Set the new password',
  'reset.resend': 'Send a new code',
  'reset.resent': 'A new code is on its way.',
  'confirm.title': 'Confirm your account',
  'confirm.lead': 'This account is not confirmed yet. Enter the code we sent to {email}, or ask for a new one.',
  'confirm.submit': 'Confirm the account',
  'account.title': 'You are signed in',
  'account.role': 'Role',
  'account.noRole': 'No IMS role',
  'role.ADMIN': 'Administrator',
  'role.MANAGER': 'Manager',
  'role.LINE_LEADER': 'Line leader',
  'account.username': 'Username',
  'account.groups': 'Cognito groups',
  'account.areas': 'IMS areas',
  'account.allowed': 'Allowed',
  'account.denied': 'Not allowed',
  'account.signOut': 'Sign out',
  'account.signOutEverywhere': 'Sign out everywhere',
  'area./api/admin': 'Administration',
  'area./api/planning': 'Production planning',
  'area./api/shop-floor': 'Shop floor',
  'local.badge': 'Local mode',
  'local.hint': 'Demo accounts: admin@ims.local, manager@ims.local, leader@ims.local.',
  'check.required': 'Fill in every field.',
  'check.email': 'Enter a valid email address.',
  'check.mismatch': 'The two new passwords are not the same.',
  'error.network': 'The server could not be reached. Check your connection and try again.',
  'error.tooLong': '{field} is too long. Use at most {max} characters.',
  'error.tooMany': 'Too many attempts.',
  'error.stepEnded': 'Too many attempts: that sign-in step has ended. Sign in again.',
  'error.retryIn': 'Try again in {wait}.',
  'wait.second': '1 second',
  'wait.seconds': '{n} seconds',
  'wait.minute': '1 minute',
  'wait.minutes': '{n} minutes',
  'rule.MINIMUM_LENGTH': 'Long enough (at least the minimum length)',
  'rule.REQUIRE_UPPERCASE': 'An uppercase letter (A–Z)',
  'rule.REQUIRE_LOWERCASE': 'A lowercase letter (a–z)',
  'rule.REQUIRE_NUMBERS': 'A number (0–9)',
  'rule.REQUIRE_SYMBOLS': 'A symbol such as ! @ # $ %',
  'rule.PASSWORD_HISTORY': 'Not one of your recent passwords',
  'rule.POOL_POLICY': 'Not a password the account policy refuses'
}

type Key = keyof typeof en

const vi: Record<Key, string> = {
  skip: 'Chuyển đến nội dung',
  brand: 'Định danh',
  language: 'Ngôn ngữ',
  loading: 'Đang tải…',
  show: 'Hiện',
  hide: 'Ẩn',
  'reveal.show': 'Hiện mật khẩu',
  'reveal.hide': 'Ẩn mật khẩu',
  or: 'hoặc',
  back: 'Quay lại đăng nhập',
  'field.email': 'Email',
  'field.password': 'Mật khẩu',
  'field.newPassword': 'Mật khẩu mới',
  'field.confirm': 'Nhập lại mật khẩu mới',
  'field.code': 'Mã',
  'field.method': 'Phương thức xác minh',
  'signIn.title': 'Đăng nhập',
  'signIn.lead': 'Dùng tài khoản IMS để vào kế hoạch sản xuất, xưởng và quản trị.',
  'signIn.submit': 'Đăng nhập',
  'signIn.forgot': 'Quên mật khẩu?',
  'signIn.hosted': 'Đăng nhập bằng Cognito',
  'signIn.signedOut': 'Bạn đã đăng xuất.',
  'signIn.signedOutEverywhere': 'Bạn đã đăng xuất trên mọi thiết bị.',
  'signIn.passwordChanged': 'Mật khẩu đã được đổi. Hãy đăng nhập bằng mật khẩu mới.',
  'signIn.sessionEnded': 'Phiên đăng nhập đã kết thúc. Hãy đăng nhập lại.',
  'signIn.confirmed': 'Tài khoản đã được xác nhận. Hãy đăng nhập để tiếp tục.',
  'newPassword.title': 'Chọn mật khẩu mới',
  'newPassword.lead': 'Mật khẩu tạm thời hợp lệ. Hãy chọn mật khẩu của riêng bạn để hoàn tất đăng nhập.',
  'newPassword.submit': 'Lưu và đăng nhập',
  'code.title': 'Nhập mã',
  'code.lead': 'Nhập mã chúng tôi đã gửi đến {destination}.',
  'code.leadApp': 'Nhập mã hiển thị trong ứng dụng xác thực.',
  'code.leadSetup': 'Thêm khóa này vào ứng dụng xác thực, rồi nhập mã mà ứng dụng hiển thị.',
  'code.leadChoose': 'Chọn cách xác minh danh tính của bạn.',
  'code.submit': 'Tiếp tục',
  'mfa.SOFTWARE_TOKEN_MFA': 'Ứng dụng xác thực',
  'mfa.SMS_MFA': 'Tin nhắn SMS',
  'mfa.EMAIL_OTP': 'Email',
  'forgot.title': 'Đặt lại mật khẩu',
  'forgot.lead': 'Nhập email của tài khoản. Chúng tôi sẽ gửi mã để bạn đặt mật khẩu mới.',
  'forgot.submit': 'Gửi mã',
  'forgot.resetRequired': 'Bạn cần đặt lại mật khẩu trước khi đăng nhập. Hãy gửi mã cho mình để chọn mật khẩu mới.',
  'reset.title': 'Nhập mã',
  'reset.lead': 'Nếu có tài khoản với email {email}, mã đang được gửi đến. Hãy nhập mã cùng mật khẩu mới.',
  'reset.submit': 'Đặt mật khẩu mới',
  'reset.resend': 'Gửi mã mới',
  'reset.resent': 'Mã mới đang được gửi đến.',
  'confirm.title': 'Xác nhận tài khoản',
  'confirm.lead': 'Tài khoản này chưa được xác nhận. Hãy nhập mã chúng tôi đã gửi đến {email}, hoặc yêu cầu mã mới.',
  'confirm.submit': 'Xác nhận tài khoản',
  'account.title': 'Bạn đã đăng nhập',
  'account.role': 'Vai trò',
  'account.noRole': 'Không có vai trò IMS',
  'role.ADMIN': 'Quản trị viên',
  'role.MANAGER': 'Quản lý',
  'role.LINE_LEADER': 'Tổ trưởng chuyền',
  'account.username': 'Tên đăng nhập',
  'account.groups': 'Nhóm Cognito',
  'account.areas': 'Khu vực IMS',
  'account.allowed': 'Được phép',
  'account.denied': 'Không được phép',
  'account.signOut': 'Đăng xuất',
  'account.signOutEverywhere': 'Đăng xuất khỏi mọi thiết bị',
  'area./api/admin': 'Quản trị',
  'area./api/planning': 'Kế hoạch sản xuất',
  'area./api/shop-floor': 'Xưởng sản xuất',
  'local.badge': 'Chế độ cục bộ',
  'local.hint': 'Tài khoản mẫu: admin@ims.local, manager@ims.local, leader@ims.local.',
  'check.required': 'Vui lòng điền đủ mọi ô.',
  'check.email': 'Hãy nhập một địa chỉ email hợp lệ.',
  'check.mismatch': 'Hai mật khẩu mới không giống nhau.',
  'error.network': 'Không kết nối được máy chủ. Hãy kiểm tra mạng và thử lại.',
  'error.tooLong': '{field} quá dài. Hãy dùng tối đa {max} ký tự.',
  'error.tooMany': 'Quá nhiều lần thử.',
  'error.stepEnded': 'Quá nhiều lần thử: bước đăng nhập đó đã kết thúc. Hãy đăng nhập lại.',
  'error.retryIn': 'Hãy thử lại sau {wait}.',
  'wait.second': '1 giây',
  'wait.seconds': '{n} giây',
  'wait.minute': '1 phút',
  'wait.minutes': '{n} phút',
  'rule.MINIMUM_LENGTH': 'Đủ độ dài tối thiểu',
  'rule.REQUIRE_UPPERCASE': 'Một chữ in hoa (A–Z)',
  'rule.REQUIRE_LOWERCASE': 'Một chữ thường (a–z)',
  'rule.REQUIRE_NUMBERS': 'Một chữ số (0–9)',
  'rule.REQUIRE_SYMBOLS': 'Một ký hiệu như ! @ # $ %',
  'rule.PASSWORD_HISTORY': 'Không trùng mật khẩu bạn dùng gần đây',
  'rule.POOL_POLICY': 'Không phải mật khẩu bị chính sách tài khoản từ chối'
}

/**
 * English sentences for the contract's error codes whose server message is not written for people: a refused request
 * body is worded by its schema ("body/password must NOT have more than 256 characters"). Others show the server's own.
 */
const enErrors: Record<string, string> = {
  VALIDATION_ERROR: 'Check what you typed: a field is too long or malformed.'
}

/** Vietnamese sentences for the contract's error codes. */
const viErrors: Record<string, string> = {
  VALIDATION_ERROR: 'Hãy kiểm tra những gì bạn đã nhập: có ô quá dài hoặc sai định dạng.',
  INVALID_CREDENTIALS: 'Tên đăng nhập hoặc mật khẩu không đúng.',
  UNAUTHENTICATED: 'Phiên đăng nhập đã hết hạn. Hãy đăng nhập lại.',
  FORBIDDEN: 'Vai trò của bạn không cho phép thao tác này.',
  CSRF_REQUIRED: 'Yêu cầu bị từ chối vì lý do bảo mật. Hãy tải lại trang.',
  USER_NOT_CONFIRMED: 'Tài khoản này chưa được xác nhận.',
  PASSWORD_RESET_REQUIRED: 'Tài khoản này cần đặt lại mật khẩu.',
  INVALID_CODE: 'Mã không đúng hoặc đã hết hạn.',
  INVALID_PASSWORD: 'Mật khẩu mới chưa đáp ứng các quy tắc mật khẩu.',
  UPSTREAM_UNAVAILABLE: 'Dịch vụ đăng nhập tạm thời không khả dụng. Hãy thử lại sau ít phút.',
  PAYLOAD_TOO_LARGE: 'Nội dung gửi đi quá dài.',
  UNSUPPORTED_MEDIA_TYPE: 'Trình duyệt đã gửi yêu cầu ở dạng máy chủ không nhận. Hãy tải lại trang.',
  NOT_FOUND: 'Không tìm thấy.',
  CONFLICT: 'Thao tác xung đột với một thay đổi khác. Hãy thử lại.',
  USERNAME_EXISTS: 'Tên đăng nhập này đã được dùng.',
  BAD_GATEWAY: 'Hệ thống phía sau trả lời không hợp lệ. Hãy thử lại sau ít phút.',
  GATEWAY_TIMEOUT: 'Hệ thống phía sau không trả lời kịp. Hãy thử lại sau ít phút.',
  INTERNAL: 'Đã xảy ra lỗi phía máy chủ.'
}

/** What a reader sees for an error that came without a sentence (a gateway's own page) or, in Vietnamese, with a code this page does not know: never the server's English. */
const UNKNOWN_ERROR: Record<Lang, string> = {
  en: 'The request did not succeed. Try again.',
  vi: 'Yêu cầu không thành công. Hãy thử lại.'
}

const dictionaries: Record<Lang, Record<Key, string>> = { en, vi }

let current: Lang = 'en'

/** The language in use. */
export function lang (): Lang { return current }

/** Switches the language of every later `t()` call. */
export function setLang (next: Lang): void { current = next }

/** The sentence `key` in the current language, with `{name}` placeholders filled from `values`. */
export function t (key: string, values: Record<string, string | number> = {}): string {
  const text = (dictionaries[current] as Record<string, string>)[key] ?? (en as Record<string, string>)[key] ?? key
  return text.replace(/\{(\w+)\}/g, (_, name: string) => String(values[name] ?? ''))
}

/** A wait of `seconds` in words: seconds up to a minute and a half, then whole minutes (rounded up). */
export function waitText (seconds: number): string {
  if (seconds < 90) return seconds === 1 ? t('wait.second') : t('wait.seconds', { n: seconds })
  const minutes = Math.ceil(seconds / 60)
  return minutes === 1 ? t('wait.minute') : t('wait.minutes', { n: minutes })
}

/** `table`'s own entry for `key` (a code from an answer, whatever it says: never a member every object inherits). */
function own (table: Record<string, string>, key: string): string | undefined {
  return Object.prototype.hasOwnProperty.call(table, key) ? table[key] : undefined
}

/**
 * What a user reads for a server error: in English the server's message (the pages' own sentence for a code whose
 * message is not for people), a translation of its code otherwise.
 */
export function errorText (code: string, serverMessage: string): string {
  if (current === 'en') return own(enErrors, code) ?? (serverMessage !== '' ? serverMessage : UNKNOWN_ERROR.en)
  return own(viErrors, code) ?? UNKNOWN_ERROR.vi
}
