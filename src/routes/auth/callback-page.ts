// The page a person's browser sees when /auth/callback fails: a sentence and a way back, instead of the JSON error body.
import type { IncomingHttpHeaders } from 'node:http'
import Negotiator from 'negotiator'
import { requestedLanguage, type Language } from './language.js'

/**
 * Whether a request ranks HTML above JSON, as a browser's navigation does (negotiator: RFC 9110's Accept rules). No
 * Accept, a bare wildcard and `application/json` (an API client, fetch, curl) keep the JSON body: it is listed first.
 */
export function prefersHtml (headers: IncomingHttpHeaders): boolean {
  return new Negotiator({ headers }).mediaType(['application/json', 'text/html']) === 'text/html'
}

/** The page's words in one language. */
interface Wording { expired: Sentence, unavailable: Sentence, refused: Sentence, signInAgain: string, home: string, brand: string }
interface Sentence { title: string, sentence: string }

const WORDING: Record<Language, Wording> = {
  en: {
    expired: { title: 'Sign-in link expired', sentence: 'This sign-in link has expired or was already used.' },
    unavailable: { title: 'Sign-in unavailable', sentence: 'The sign-in service is unavailable right now. Try again shortly.' },
    refused: { title: 'Sign-in refused', sentence: 'This sign-in could not be completed.' },
    signInAgain: 'Sign in again',
    home: 'Go to the home page',
    brand: 'Identity'
  },
  vi: {
    expired: { title: 'Liên kết đăng nhập đã hết hạn', sentence: 'Liên kết đăng nhập này đã hết hạn hoặc đã được dùng.' },
    unavailable: { title: 'Chưa thể đăng nhập', sentence: 'Dịch vụ đăng nhập tạm thời không khả dụng. Hãy thử lại sau ít phút.' },
    refused: { title: 'Đăng nhập bị từ chối', sentence: 'Không thể hoàn tất lần đăng nhập này.' },
    signInAgain: 'Đăng nhập lại',
    home: 'Về trang chủ',
    brand: 'Định danh'
  }
}

/** The page's language: the browser's Accept-Language ranked against the pages' languages, else English. */
function languageOf (headers: IncomingHttpHeaders): Language {
  return requestedLanguage(headers) ?? 'en'
}

/** The title and sentence for a failed callback's status; nothing of the request, no internal reason. */
function sentenceFor (words: Wording, statusCode: number): Sentence {
  if (statusCode === 400) return words.expired
  if (statusCode >= 500) return words.unavailable
  return words.refused
}

/**
 * A self-contained HTML page for a failed callback with `statusCode`, in the browser's language: no script and no
 * inline style (the strict CSP holds), links to start the sign-in again and to the home page. `styled`: the login pages
 * are served here, so the page takes their stylesheet and header and looks like them.
 */
export function callbackErrorPage (statusCode: number, headers: IncomingHttpHeaders, styled: boolean): string {
  const language = languageOf(headers)
  const words = WORDING[language]
  const { title, sentence } = sentenceFor(words, statusCode)
  const assets = styled
    ? '\n  <link rel="icon" href="/favicon.svg" type="image/svg+xml">\n  <link rel="stylesheet" href="/styles.css">'
    : ''
  // The pages' stylesheet spaces the links apart; a bare page needs a separator.
  const separator = styled ? ' ' : ' · '
  const header = styled
    ? `
  <header class="topbar">
    <div class="brand">
      <img src="/favicon.svg" alt="" width="28" height="28">
      <span><strong>IMS</strong> <span>${words.brand}</span></span>
    </div>
  </header>`
    : ''
  return `<!doctype html>
<html lang="${language}">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="color-scheme" content="light dark">
  <title>IMS · ${title}</title>${assets}
</head>
<body>${header}
  <main>
    <section class="card">
      <h1>${title}</h1>
      <p class="lead">${sentence}</p>
      <p class="row-links"><a href="/auth/login">${words.signInAgain}</a>${separator}<a href="/">${words.home}</a></p>
    </section>
  </main>
</body>
</html>
`
}
