// Vietnamese copy of the IMS emails.
import type { EmailParams, LocaleCopy, MessageContent } from './types.js'
import { takeoverContent } from './takeover.js'

const greeting = (p: EmailParams): string => (p.givenName !== undefined ? `Xin chào ${p.givenName},` : 'Xin chào,')

const ACTIONS: Record<string, string> = {
  BLOCK: 'Đã chặn đăng nhập',
  NO_ACTION: 'Đã cho phép đăng nhập',
  MFA: 'Đã yêu cầu xác minh bổ sung',
  MFA_IF_CONFIGURED: 'Đã yêu cầu xác minh bổ sung',
  MFA_REQUIRED: 'Đã yêu cầu xác minh bổ sung'
}

function codeMail (p: EmailParams, subject: string, heading: string, paragraph: string, label: string, note: string): MessageContent {
  return { subject, preheader: subject, heading, greeting: greeting(p), paragraphs: [paragraph], code: { label, value: p.code ?? '' }, note }
}

/** Vietnamese copy. */
export const vi: LocaleCopy = {
  locale: 'vi',
  footer: ['IMS · Quản lý sản xuất', 'Đây là email tự động, vui lòng không trả lời.'],
  messages: {
    SignUp: (p) => codeMail(p, 'Xác nhận tài khoản IMS của bạn', 'Chào mừng bạn đến với IMS',
      'Hãy dùng mã dưới đây để xác nhận tài khoản của bạn.', 'Mã xác nhận',
      'Mã có hiệu lực trong 24 giờ. Nếu bạn không đăng ký IMS, hãy bỏ qua email này.'),
    ResendCode: (p) => codeMail(p, 'Mã xác nhận IMS của bạn', 'Mã xác nhận của bạn',
      'Đây là mã mới mà bạn đã yêu cầu.', 'Mã xác nhận',
      'Mã có hiệu lực trong 24 giờ. Nếu bạn không yêu cầu mã này, hãy bỏ qua email này.'),
    ForgotPassword: (p) => codeMail(p, 'Đặt lại mật khẩu IMS', 'Đặt lại mật khẩu',
      'Chúng tôi đã nhận được yêu cầu đặt lại mật khẩu cho tài khoản IMS của bạn. Hãy nhập mã này để chọn mật khẩu mới.',
      'Mã đặt lại mật khẩu',
      'Mã có hiệu lực trong 1 giờ. Nếu bạn không yêu cầu đặt lại mật khẩu, hãy bỏ qua email này; mật khẩu của bạn vẫn giữ nguyên.'),
    UpdateUserAttribute: (p) => codeMail(p, 'Xác nhận địa chỉ email mới cho IMS', 'Xác nhận địa chỉ email mới',
      'Hãy nhập mã này trong IMS để xác nhận địa chỉ email mới của tài khoản.', 'Mã xác minh',
      'Nếu bạn không thay đổi địa chỉ email, hãy liên hệ quản trị viên IMS.'),
    VerifyUserAttribute: (p) => codeMail(p, 'Xác minh địa chỉ email IMS', 'Xác minh địa chỉ email',
      'Hãy nhập mã này trong IMS để xác minh địa chỉ email của bạn.', 'Mã xác minh',
      'Nếu bạn không yêu cầu việc này, hãy bỏ qua email này.'),
    AdminCreateUser: (p) => ({
      subject: 'Tài khoản IMS của bạn đã sẵn sàng',
      preheader: 'Quản trị viên đã tạo tài khoản IMS cho bạn.',
      heading: 'Tài khoản IMS của bạn đã sẵn sàng',
      greeting: greeting(p),
      paragraphs: ['Quản trị viên đã tạo tài khoản IMS cho bạn. Hãy đăng nhập bằng tên đăng nhập và mật khẩu tạm thời dưới đây; sau đó bạn sẽ đặt mật khẩu mới.'],
      fields: [['Tên đăng nhập', p.username ?? '']],
      code: { label: 'Mật khẩu tạm thời', value: p.code ?? '' },
      note: 'Mật khẩu tạm thời hết hạn sau 7 ngày. Đừng chia sẻ mật khẩu này với bất kỳ ai.'
    }),
    Authentication: (p) => codeMail(p, 'Mã đăng nhập IMS của bạn', 'Mã đăng nhập của bạn',
      'Hãy nhập mã này để hoàn tất đăng nhập vào IMS.', 'Mã đăng nhập',
      'Nếu bạn không đăng nhập, hãy đổi mật khẩu ngay: có thể ai đó đã biết mật khẩu của bạn.'),
    AccountTakeOverNotification: (p) => {
      const { fields, actions } = takeoverContent(p.takeover ?? {}, {
        time: 'Thời gian',
        ipAddress: 'Địa chỉ IP',
        location: 'Vị trí',
        device: 'Thiết bị',
        action: 'Hành động đã thực hiện',
        actions: ACTIONS,
        linkValid: 'Đúng là tôi',
        linkInvalid: 'Không phải tôi'
      })
      return {
        subject: 'Phát hiện đăng nhập bất thường vào tài khoản IMS',
        preheader: 'Chúng tôi phát hiện một lần đăng nhập bất thường vào tài khoản IMS của bạn.',
        heading: 'Chúng tôi phát hiện một lần đăng nhập bất thường',
        greeting: greeting(p),
        paragraphs: ['Có người đã đăng nhập hoặc cố đăng nhập vào tài khoản IMS của bạn theo cách bất thường.'],
        fields,
        actions,
        note: 'Nếu đó không phải là bạn, hãy đổi mật khẩu ngay và báo cho quản trị viên IMS.'
      }
    }
  }
}
