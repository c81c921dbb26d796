// Request bodies: JSON in UTF-8 only, decoded strictly (a byte that is not UTF-8 is refused, never turned into U+FFFD).
import fp from 'fastify-plugin'
import { parse as parseContentType } from 'content-type'
import { AppError } from '../errors.js'

const UTF8 = new TextDecoder('utf-8', { fatal: true })

/** The charset a Content-Type names (its `charset` parameter, quoted or not), lower case; undefined when it names none. */
function charsetOf (contentType: string): string | undefined {
  return parseContentType(contentType).parameters.charset?.toLowerCase()
}

/**
 * Replaces Fastify's JSON parser, which decodes any body as UTF-8 and replaces bytes that are not with U+FFFD: a
 * password sent in ISO-8859-1 would reach Cognito as another password, and the request would succeed. A charset other
 * than UTF-8 is 415 UNSUPPORTED_MEDIA_TYPE; bytes that are not UTF-8 are 400 VALIDATION_ERROR. Parsing is Fastify's own
 * (secure-json-parse, `__proto__` and `constructor` keys refused).
 */
export default fp(async (app) => {
  // JSON only: any other content type is 415.
  app.removeContentTypeParser('text/plain')
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const charset = charsetOf(request.headers['content-type'] ?? '')
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
      done(new AppError('UNSUPPORTED_MEDIA_TYPE', 'Send the request body as application/json in UTF-8.'), undefined)
      return
    }
    let text: string
    try {
      text = UTF8.decode(body as Buffer)
    } catch {
      done(new AppError('VALIDATION_ERROR', 'The request body is not valid UTF-8.'), undefined)
      return
    }
    parseJson(request, text, done)
  })
}, { name: 'json-body' })
