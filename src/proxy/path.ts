// Normalises a request path under /api once, so the path the role rules judge is the path the upstream receives.
import { AppError } from '../errors.js'

/** A path ready to forward and the form the role rules compare. */
export interface ApiPath {
  /** What the upstream receives: dot segments resolved, repeated slashes merged, other escapes kept. */
  forward: string
  /**
   * `forward` percent-decoded, compatibility characters folded (NFKC: full-width `ａ` reads `a`), case-folded,
   * `;parameters` cut and surrounding spaces and trailing dots trimmed from each segment: the strictest reading of it.
   */
  judged: string
}

/** Encoded slashes and backslashes, backslashes, NUL: spelled differently by different servers, so refused. */
const AMBIGUOUS = /%2f|%5c|%00|\\/i
/**
 * An escape left once the path is decoded: it was encoded twice (`%2561`, `%25%36%31`), and a server that decodes again
 * reads another path (`a`) than the one judged; refused as ambiguous too.
 */
const ESCAPE = /%[0-9a-f]{2}/i
const AMBIGUOUS_PATH = 'The path contains an encoded slash, a backslash, a NUL or an escape encoded twice.'

/**
 * Folds case the way case-insensitive servers compare, so a path is judged as any of them reads it: upper case first,
 * as Java's equalsIgnoreCase and .NET's OrdinalIgnoreCase do (`ı` and `ſ` upper-case to I and S, so they judge as
 * `i` and `s`), then lower case; `İ`, which lower-cases to "i" and a combining dot, judges as `i` too.
 */
export function foldCase (text: string): string {
  return text.toUpperCase().toLowerCase().replaceAll('i\u0307', 'i')
}

/**
 * A segment as the most permissive servers read it: surrounding whitespace trimmed, and trailing dots and spaces dropped
 * as Windows and IIS drop them (`admin.` and `admin%20` read `admin`); a segment of dots alone stays as it is.
 */
function trimSegment (segment: string): string {
  const trimmed = segment.trim()
  return /^\.+$/.test(trimmed) ? trimmed : trimmed.replace(/[.\s]+$/, '')
}

/**
 * Normalises the raw path of a request (no query string) the way an upstream server would read it at its most
 * permissive: `.` and `..` segments (also percent-encoded, full-width or padded with spaces) are resolved or refused,
 * `//` is merged, escapes are decoded for judging. Throws VALIDATION_ERROR for ambiguous paths, NOT_FOUND when the
 * result leaves /api.
 */
export function normaliseApiPath (rawPath: string): ApiPath {
  if (AMBIGUOUS.test(rawPath)) throw new AppError('VALIDATION_ERROR', AMBIGUOUS_PATH)
  let forward: string
  let decoded: string
  try {
    // WHATWG URL parsing resolves ".", "..", "%2e" and ".%2E" segments exactly as the forwarding client will.
    forward = new URL(rawPath.replace(/\/{2,}/g, '/'), 'http://upstream.invalid').pathname
    decoded = decodeURIComponent(forward)
  } catch {
    throw new AppError('VALIDATION_ERROR', 'The path is not a valid URL path.')
  }
  if (ESCAPE.test(decoded)) throw new AppError('VALIDATION_ERROR', AMBIGUOUS_PATH)
  // Full-width characters fold to ASCII ones (NFKC) on servers that fold them: `＼` to a backslash. (A full-width `％`
  // stays allowed: file names such as `良品率98％2024.xlsx` carry it, and only a server that folds and then decodes
  // again would read an escape there.)
  const compatible = decoded.normalize('NFKC')
  if (compatible.includes('\\')) throw new AppError('VALIDATION_ERROR', AMBIGUOUS_PATH)
  // Some servers drop ";parameters" before resolving dots (Tomcat reads "/..;/" as "/../"): judge that reading.
  const segments = foldCase(compatible).split('/').map((segment) => trimSegment(segment.split(';')[0]!))
  if (segments.some((segment) => segment === '.' || segment === '..')) {
    throw new AppError('VALIDATION_ERROR', 'The path contains a dot segment.')
  }
  const judged = segments.join('/').replace(/\/{2,}/g, '/')
  if (judged !== '/api' && !judged.startsWith('/api/')) throw new AppError('NOT_FOUND')
  return { forward, judged }
}
