// The page a person's browser sees when /auth/callback fails: a sentence and a way back, instead of the JSON error body.
import type { IncomingHttpHeaders } from 'node:http'
import Negotiator from 'negotiator'

/**
 * Whether a request ranks HTML above JSON, as a browser's navigation does (negotiator: RFC 9110's Accept rules). No
 * Accept, a bare wildcard and `application/json` (an API client, fetch, curl) keep the JSON body: it is listed first.
 */
export function prefersHtml (headers: IncomingHttpHeaders): boolean {
  return new Negotiator({ headers }).mediaType(['application/json', 'text/html']) === 'text/html'
}

/** The title and sentence for a failed callback's status; nothing of the request, no internal reason. */
function wording (statusCode: number): { title: string, sentence: string } {
  if (statusCode === 400) return { title: 'Sign-in link expired', sentence: 'This sign-in link has expired or was already used.' }
  if (statusCode >= 500) return { title: 'Sign-in unavailable', sentence: 'The sign-in service is unavailable right now. Try again shortly.' }
  return { title: 'Sign-in refused', sentence: 'This sign-in could not be completed.' }
}

/**
 * A self-contained HTML page for a failed callback with `statusCode`: no script, no style (the strict CSP holds),
 * links to start the sign-in again and to the home page.
 */
export function callbackErrorPage (statusCode: number): string {
  const { title, sentence } = wording(statusCode)
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="color-scheme" content="light dark">
  <title>IMS · ${title}</title>
</head>
<body>
  <main>
    <h1>${title}</h1>
    <p>${sentence}</p>
    <p><a href="/auth/login">Sign in again</a> · <a href="/">Go to the home page</a></p>
  </main>
</body>
</html>
`
}
