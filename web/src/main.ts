// The login pages' behaviour: one view at a time (hash routes), forms calling the contract's JSON routes, EN/VI.
import { ApiError, call, type Area, type PublicConfig, type SignInAnswer, type User } from './api.js'
import { LANGS, errorText, lang, setLang, t, waitText, type Lang } from './i18n.js'

const VIEWS = ['sign-in', 'new-password', 'code', 'forgot', 'reset', 'confirm', 'account'] as const
type View = (typeof VIEWS)[number]
type Challenge = Extract<SignInAnswer, { status: 'CHALLENGE' }>

/** A message made for the current language when shown (so switching language re-words it). */
type Message = () => { text: string, rules: string[] }

const state: {
  user?: User
  challenge?: Challenge
  resetUsername?: string
  /** The account sign-in found unconfirmed: the confirm view works on it. */
  confirmUsername?: string
  areas: Area[]
  current?: View
  /** Shown once on the named view's next render. */
  notice?: { view: View, key: string }
  /** The pool's managed login is on: signing out must end the pool's own session too. */
  hostedLogin: boolean
  /** Errors on display, per view. */
  errors: Map<View, Message>
} = { areas: [], errors: new Map(), hostedLogin: false }

const LANG_KEY = 'ims-lang'
/** Tells the pages' other tabs (same origin, same browser profile) that this one signed in or out. */
const tabs = typeof BroadcastChannel === 'function' ? new BroadcastChannel('ims-session') : undefined
type TabMessage = 'signed-in' | 'signed-out'
/** The sign-out notice, kept in this tab across the hosted logout's round trip (it reloads the pages). */
const SIGNED_OUT_NOTICE_KEY = 'ims-signed-out-notice'
/** The account a reset code was sent to, kept in this tab so that a reload of the reset step keeps it (and no new code is spent). */
const RESET_USERNAME_KEY = 'ims-reset-username'

function section (view: View): HTMLElement {
  return document.querySelector<HTMLElement>(`[data-view="${view}"]`)!
}

function part<T extends Element = HTMLElement> (root: ParentNode, selector: string): T {
  return root.querySelector<T>(selector)!
}

function input (form: HTMLFormElement, name: string): HTMLInputElement {
  return form.elements.namedItem(name) as HTMLInputElement
}

/** A refusal found before anything is sent. */
class CheckError extends Error {
  constructor (readonly key: string, readonly field?: HTMLInputElement) { super(key) }
}

function describe (error: ApiError): Message {
  return () => {
    if (error.code === 'NETWORK') return { text: t('error.network'), rules: [] }
    // A throttled answer says how long to wait (Retry-After) instead of "a moment".
    let text = error.code === 'TOO_MANY_REQUESTS' ? t('error.tooMany') : errorText(error.code, error.message)
    if (error.retryAfter !== undefined && (error.code === 'TOO_MANY_REQUESTS' || error.code === 'UPSTREAM_UNAVAILABLE')) {
      text = `${text} ${t('error.retryIn', { wait: waitText(error.retryAfter) })}`
    }
    return { text, rules: error.rules }
  }
}

function renderError (view: View): void {
  const root = section(view)
  const box = part(root, '[data-error]')
  const message = state.errors.get(view)
  box.replaceChildren()
  if (message === undefined) {
    box.hidden = true
    return
  }
  const { text, rules } = message()
  box.append(document.createTextNode(text))
  if (rules.length > 0) {
    const list = document.createElement('ul')
    for (const rule of rules) {
      const item = document.createElement('li')
      item.textContent = t(`rule.${rule}`)
      list.append(item)
    }
    box.append(list)
  }
  box.hidden = false
}

function setError (view: View, message: Message | undefined): void {
  if (message === undefined) state.errors.delete(view)
  else state.errors.set(view, message)
  renderError(view)
}

/** Marks a field as wrong and ties it to the view's error message. */
function markInvalid (view: View, field: HTMLInputElement): void {
  field.setAttribute('aria-invalid', 'true')
  field.setAttribute('aria-describedby', `${view}-error`)
}

function clearInvalid (form: HTMLFormElement): void {
  for (const element of Array.from(form.querySelectorAll('[aria-invalid]'))) {
    element.removeAttribute('aria-invalid')
    element.removeAttribute('aria-describedby')
  }
}

/** Every field filled in, emails well-formed; else a CheckError naming the first wrong field. */
function checkFilled (form: HTMLFormElement, names: string[]): void {
  for (const name of names) {
    const field = input(form, name)
    if (field.value.trim() === '') throw new CheckError('check.required', field)
    if (field.type === 'email' && field.validity.typeMismatch) throw new CheckError('check.email', field)
  }
}

function checkSame (form: HTMLFormElement, first: string, second: string): void {
  const repeat = input(form, second)
  if (input(form, first).value !== repeat.value) throw new CheckError('check.mismatch', repeat)
}

/**
 * The first field of `form` holding more than its maxlength, which the server refuses (VALIDATION_ERROR). Typing and
 * pasting stop at the limit; a script, an extension or an autofill may still set more.
 */
function overLong (form: HTMLFormElement): HTMLInputElement | undefined {
  return Array.from(form.querySelectorAll('input')).find((field) => field.maxLength >= 0 && field.value.length > field.maxLength)
}

/** Names the field that is too long, by its label, and its limit. */
function tooLong (field: HTMLInputElement): Message {
  const label = field.labels?.[0]?.dataset.i18n
  return () => ({ text: t('error.tooLong', { field: label === undefined ? field.name : t(label), max: field.maxLength }), rules: [] })
}

/**
 * Wires a form: client checks, a busy state, and server errors shown in place, on the field `focusOnError` names for
 * the error's code (the field the user should correct); a request refused as malformed names the field past its limit.
 */
function onSubmit (view: View, handler: (form: HTMLFormElement) => Promise<void>, focusOnError?: (code: string) => string): void {
  const form = part<HTMLFormElement>(section(view), 'form')
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    const button = part<HTMLButtonElement>(form, 'button[type="submit"]')
    if (button.disabled) return
    clearInvalid(form)
    // Judged before the handler runs: a refused sign-in clears its password.
    const long = overLong(form)
    button.disabled = true
    section(view).setAttribute('aria-busy', 'true')
    handler(form).then(() => { setError(view, undefined) }, (error: unknown) => {
      if (error instanceof CheckError) {
        setError(view, () => ({ text: t(error.key), rules: [] }))
        if (error.field !== undefined) {
          markInvalid(view, error.field)
          error.field.focus()
        }
        return
      }
      const apiError = error instanceof ApiError ? error : new ApiError('NETWORK', '', 0)
      const refusedField = apiError.code === 'VALIDATION_ERROR' ? long : undefined
      setError(view, refusedField === undefined ? describe(apiError) : tooLong(refusedField))
      const field = refusedField ?? (focusOnError === undefined ? undefined : input(form, focusOnError(apiError.code)))
      if (field !== undefined) {
        if (field === refusedField || apiError.code === 'INVALID_PASSWORD' || apiError.code === 'INVALID_CREDENTIALS' || apiError.code === 'INVALID_CODE') markInvalid(view, field)
        field.select()
        field.focus()
      }
    }).finally(() => {
      button.disabled = false
      section(view).removeAttribute('aria-busy')
      keepFocus(button)
    })
  })
}

/** Shows `view`, via the URL so Back works; `notice` is shown on it once. */
function go (view: View, notice?: string): void {
  state.notice = notice === undefined ? undefined : { view, key: notice }
  if (location.hash === `#/${view}`) render(view, true)
  else location.hash = `#/${view}`
}

/** Which view a URL may show now: each view needs what it works on. */
function allowed (requested: string): View {
  let view: View = (VIEWS as readonly string[]).includes(requested) ? requested as View : (state.user === undefined ? 'sign-in' : 'account')
  if ((view === 'new-password' || view === 'code') && state.challenge === undefined) view = 'sign-in'
  if (view === 'reset' && state.resetUsername === undefined) view = 'forgot'
  if (view === 'confirm' && state.confirmUsername === undefined) view = 'sign-in'
  // Last, so a step that ended in a sign-in (Back to it) shows the account, never a sign-in form over a live session.
  if (view === 'account' && state.user === undefined) view = 'sign-in'
  if (view === 'sign-in' && state.user !== undefined) view = 'account'
  return view
}

function route (moveFocus: boolean): void {
  const requested = location.hash.replace(/^#\/?/, '')
  const view = allowed(requested)
  if (requested !== view) history.replaceState(null, '', `#/${view}`)
  render(view, moveFocus)
}

function revealButtons (): NodeListOf<HTMLButtonElement> {
  return document.querySelectorAll<HTMLButtonElement>('[data-reveal]')
}

function revealed (button: HTMLButtonElement): HTMLInputElement {
  return document.getElementById(button.dataset.reveal!) as HTMLInputElement
}

/**
 * Shows (or masks again) the password field a "Show" button is for. The button reads "Show" or "Hide" and is named
 * for what it does ("Show password"): the name says the state, so it has no pressed state besides.
 */
function reveal (button: HTMLButtonElement, shown: boolean): void {
  revealed(button).type = shown ? 'text' : 'password'
  labelReveal(button)
}

function labelReveal (button: HTMLButtonElement): void {
  const shown = revealed(button).type === 'text'
  button.textContent = t(shown ? 'hide' : 'show')
  button.setAttribute('aria-label', t(shown ? 'reveal.hide' : 'reveal.show'))
}

function render (view: View, moveFocus: boolean): void {
  if (state.current !== undefined && state.current !== view) {
    setError(state.current, undefined)
    // A password shown on request is masked once its view is left: the next person at a shared screen types unseen.
    for (const button of Array.from(revealButtons())) reveal(button, false)
  }
  state.current = view
  for (const name of VIEWS) section(name).hidden = name !== view
  const root = section(view)
  const notice = root.querySelector<HTMLElement>('[data-notice]')
  if (notice !== null) {
    const key = state.notice?.view === view ? state.notice.key : undefined
    notice.textContent = key === undefined ? '' : t(key)
    notice.hidden = key === undefined
  }
  renderDynamic(view)
  document.title = `IMS · ${part(root, 'h1').textContent ?? ''}`
  if (!moveFocus) return
  // On the sign-in form the next thing to do is type; elsewhere the heading announces the new view.
  const empty = Array.from(root.querySelectorAll<HTMLInputElement>('input')).find((field) => field.value === '')
  if (view === 'sign-in' && empty !== undefined) empty.focus()
  else part(root, 'h1').focus()
}

/** The parts of a view made from data (the user, the challenge, the email a code went to). */
function renderDynamic (view: View): void {
  const root = section(view)
  if (view === 'account' && state.user !== undefined) renderAccount(state.user)
  if (view === 'code' && state.challenge !== undefined) {
    const challenge = state.challenge
    const choosing = challenge.options !== undefined && challenge.options.length > 0
    part(root, '[data-code-lead]').textContent = choosing
      ? t('code.leadChoose')
      : challenge.challenge === 'MFA_SETUP'
        ? t('code.leadSetup')
        : challenge.destination !== undefined ? t('code.lead', { destination: challenge.destination }) : t('code.leadApp')
    const secret = part(root, '[data-secret]')
    secret.textContent = challenge.secretCode ?? ''
    secret.hidden = challenge.secretCode === undefined
    part(root, '[data-choice]').hidden = !choosing
    part(root, '[data-code-field]').hidden = choosing
    const select = part<HTMLSelectElement>(root, 'select')
    // Each method in words (Cognito's name for one this page does not know), keeping the choice across a language switch.
    const chosen = select.value
    select.replaceChildren(...(challenge.options ?? []).map((option) => new Option(t(`mfa.${option}`) === `mfa.${option}` ? option : t(`mfa.${option}`), option)))
    if (challenge.options?.includes(chosen) === true) select.value = chosen
  }
  // The forms that set a password name its account to password managers.
  if (view === 'new-password') input(part(root, 'form'), 'username').value = input(part(section('sign-in'), 'form'), 'username').value.trim()
  if (view === 'reset') {
    part(root, '[data-reset-lead]').textContent = t('reset.lead', { email: state.resetUsername ?? '' })
    input(part(root, 'form'), 'username').value = state.resetUsername ?? ''
  }
  if (view === 'confirm') part(root, '[data-confirm-lead]').textContent = t('confirm.lead', { email: state.confirmUsername ?? '' })
  renderError(view)
}

/** A role in words in the current language; a role code these pages do not know, as it is. */
function roleName (role: string): string {
  const name = t(`role.${role}`)
  return name === `role.${role}` ? role : name
}

function renderAccount (user: User): void {
  const root = section('account')
  const name = user.email ?? user.username
  part(root, '[data-avatar]').textContent = name.slice(0, 1).toUpperCase()
  part(root, '[data-user-email]').textContent = name
  const role = part(root, '[data-user-role]')
  role.textContent = user.primaryRole === null ? t('account.noRole') : roleName(user.primaryRole)
  role.classList.toggle('none', user.primaryRole === null)
  part(root, '[data-user-username]').textContent = user.username
  part(root, '[data-user-groups]').textContent = user.groups.length > 0 ? user.groups.join(', ') : '—'
  const list = part(root, '[data-areas]')
  list.replaceChildren(...state.areas.map((area) => {
    const allowedHere = user.roles.some((r) => area.roles.includes(r))
    const item = document.createElement('li')
    item.dataset.area = area.path
    const label = document.createElement('div')
    label.className = 'area-name'
    const path = document.createElement('code')
    path.textContent = area.path
    const title = document.createElement('span')
    title.textContent = t(`area.${area.path}`) === `area.${area.path}` ? area.roles.map(roleName).join(', ') : t(`area.${area.path}`)
    label.append(path, title)
    const access = document.createElement('span')
    access.className = `access ${allowedHere ? 'yes' : 'no'}`
    access.textContent = allowedHere ? t('account.allowed') : t('account.denied')
    item.append(label, access)
    return item
  }))
}

function applyLanguage (next: Lang): void {
  setLang(next)
  document.documentElement.lang = next
  for (const element of Array.from(document.querySelectorAll<HTMLElement>('[data-i18n]'))) element.textContent = t(element.dataset.i18n!)
  for (const element of Array.from(document.querySelectorAll<HTMLElement>('[data-i18n-label]'))) element.setAttribute('aria-label', t(element.dataset.i18nLabel!))
  for (const button of Array.from(document.querySelectorAll<HTMLButtonElement>('[data-lang]'))) button.setAttribute('aria-pressed', String(button.dataset.lang === next))
  for (const button of Array.from(revealButtons())) labelReveal(button)
  if (state.current !== undefined) render(state.current, false)
}

function initialLanguage (): Lang {
  const saved = localStorage.getItem(LANG_KEY)
  if (saved !== null && (LANGS as readonly string[]).includes(saved)) return saved as Lang
  return navigator.language.toLowerCase().startsWith('vi') ? 'vi' : 'en'
}

/** A reset left half-way is this tab's no more (someone signs in, or it is done): the next person here is not shown whose it was. */
function forgetReset (): void {
  state.resetUsername = undefined
  sessionStorage.removeItem(RESET_USERNAME_KEY)
}

function afterSignIn (answer: SignInAnswer): void {
  if (answer.status === 'SIGNED_IN') {
    state.user = answer.user
    state.challenge = undefined
    forgetReset()
    tabs?.postMessage('signed-in' satisfies TabMessage)
    go('account')
    return
  }
  state.challenge = answer
  go(answer.challenge === 'NEW_PASSWORD_REQUIRED' ? 'new-password' : 'code')
}

/**
 * A challenge answer failed for good: expired or replayed (401), or too many attempts (429: the step has ended, as it
 * does after too many wrong answers, or the throttle holds it back): back to sign-in, with the reason shown there.
 */
function challengeLost (error: unknown): never {
  if (error instanceof ApiError && (error.code === 'UNAUTHENTICATED' || error.code === 'TOO_MANY_REQUESTS')) {
    state.challenge = undefined
    go('sign-in')
    setError('sign-in', error.code === 'UNAUTHENTICATED' ? describe(error) : stepEnded(error))
  }
  throw error
}

/** Too many attempts ended a sign-in step: say so, and how long to wait when that is more than a moment. */
function stepEnded (error: ApiError): Message {
  return () => {
    const wait = error.retryAfter !== undefined && error.retryAfter > 1 ? ` ${t('error.retryIn', { wait: waitText(error.retryAfter) })}` : ''
    return { text: `${t('error.stepEnded')}${wait}`, rules: [] }
  }
}

/** Sign-in failures that say nothing about the password: it is kept for the retry they ask for. */
const PASSING_FAILURES = new Set(['UPSTREAM_UNAVAILABLE', 'NETWORK', 'INTERNAL', 'BAD_GATEWAY', 'GATEWAY_TIMEOUT'])

/** A button disabled while it had the focus lost it to the page: give it back, so keyboard users stay where they were. */
function keepFocus (button: HTMLButtonElement): void {
  if (document.activeElement === document.body && !button.hidden && button.isConnected) button.focus()
}

/** Keeps `button` disabled until `work` has settled (a second click meanwhile sends nothing), then gives it back its focus. */
function whileBusy (button: HTMLButtonElement, work: Promise<void>): void {
  button.disabled = true
  void work.finally(() => {
    button.disabled = false
    keepFocus(button)
  })
}

function wireForms (): void {
  // "Skip to content" moves focus to the content, and leaves the view (and the address, which names it) as it is.
  part(document, '.skip-link').addEventListener('click', (event) => {
    event.preventDefault()
    part(document, '#main').focus()
  })

  onSubmit('sign-in', async (form) => {
    checkFilled(form, ['username', 'password'])
    const password = input(form, 'password')
    const username = input(form, 'username').value.trim()
    try {
      afterSignIn(await call<SignInAnswer>('POST', '/auth/sign-in', { username, password: password.value }))
      password.value = ''
    } catch (error) {
      // The account exists but was never confirmed: its code is asked for here, and the password kept for the sign-in after.
      if (error instanceof ApiError && error.code === 'USER_NOT_CONFIRMED') {
        state.confirmUsername = username
        go('confirm')
        return
      }
      // An administrator asked for a new password (Cognito's RESET_REQUIRED): the reset is offered for this account.
      if (error instanceof ApiError && error.code === 'PASSWORD_RESET_REQUIRED') {
        password.value = ''
        input(part<HTMLFormElement>(section('forgot'), 'form'), 'username').value = username
        go('forgot', 'forgot.resetRequired')
        return
      }
      // Kept for the retry a passing failure asks for; a refused password is not kept.
      if (!(error instanceof ApiError && PASSING_FAILURES.has(error.code))) password.value = ''
      throw error
    }
  }, () => 'password')

  onSubmit('new-password', async (form) => {
    checkFilled(form, ['newPassword', 'confirm'])
    checkSame(form, 'newPassword', 'confirm')
    const answer = await call<SignInAnswer>('POST', '/auth/challenge', { challenge: 'NEW_PASSWORD_REQUIRED', newPassword: input(form, 'newPassword').value }).catch(challengeLost)
    form.reset()
    afterSignIn(answer)
  }, () => 'newPassword')

  onSubmit('code', async (form) => {
    const challenge = state.challenge!
    const choosing = challenge.options !== undefined && challenge.options.length > 0
    const answer = choosing ? (form.elements.namedItem('choice') as HTMLSelectElement).value : input(form, 'answer').value.trim()
    if (!choosing) checkFilled(form, ['answer'])
    const next = await call<SignInAnswer>('POST', '/auth/challenge', { challenge: challenge.challenge, answer }).catch(challengeLost)
    form.reset()
    afterSignIn(next)
  }, () => 'answer')

  onSubmit('forgot', async (form) => {
    checkFilled(form, ['username'])
    const username = input(form, 'username').value.trim()
    await call('POST', '/auth/forgot-password', { username })
    state.resetUsername = username
    sessionStorage.setItem(RESET_USERNAME_KEY, username)
    go('reset')
  }, () => 'username')

  onSubmit('reset', async (form) => {
    checkFilled(form, ['code', 'newPassword', 'confirm'])
    checkSame(form, 'newPassword', 'confirm')
    const username = state.resetUsername!
    await call('POST', '/auth/verify-otp', { username, code: input(form, 'code').value.trim(), newPassword: input(form, 'newPassword').value })
    form.reset()
    forgetReset()
    // A reset ends every session of its account: the browser's too when it was that account's (signed in here or in
    // another tab), and then its other tabs are told; not when it was another account's.
    const ended = await call<User>('GET', '/auth/me').then(() => false, (error: unknown) => error instanceof ApiError && error.code === 'UNAUTHENTICATED')
    if (ended) tabs?.postMessage('signed-out' satisfies TabMessage)
    state.user = undefined
    input(part<HTMLFormElement>(section('sign-in'), 'form'), 'username').value = username
    go('sign-in', 'signIn.passwordChanged')
  }, (code) => code === 'INVALID_PASSWORD' ? 'newPassword' : 'code')

  onSubmit('confirm', async (form) => {
    checkFilled(form, ['code'])
    const username = state.confirmUsername!
    await call('POST', '/auth/confirm-sign-up', { username, code: input(form, 'code').value.trim() })
    form.reset()
    state.confirmUsername = undefined
    input(part<HTMLFormElement>(section('sign-in'), 'form'), 'username').value = username
    go('sign-in', 'signIn.confirmed')
  }, () => 'code')

  wireResend('reset', '/auth/forgot-password', () => state.resetUsername)
  wireResend('confirm', '/auth/resend-code', () => state.confirmUsername)

  for (const [selector, global] of [['[data-sign-out]', false], ['[data-sign-out-global]', true]] as const) {
    const button = part<HTMLButtonElement>(section('account'), selector)
    button.addEventListener('click', () => {
      whileBusy(button, signOutChecked(global).then((ended) => {
        state.user = undefined
        // A session that had already ended says so; the other tabs find out on their own (they share its cookie).
        if (!ended) tabs?.postMessage('signed-out' satisfies TabMessage)
        const notice = ended ? 'signIn.sessionEnded' : global ? 'signIn.signedOutEverywhere' : 'signIn.signedOut'
        if (!state.hostedLogin) {
          go('sign-in', notice)
          return
        }
        // The pool's hosted-login cookie outlives our session and would sign the next hosted login straight back in:
        // /auth/logout goes through the pool's /logout, which comes back to the pages.
        sessionStorage.setItem(SIGNED_OUT_NOTICE_KEY, notice)
        location.assign('/auth/logout')
      }, (error: unknown) => {
        setError('account', describe(error instanceof ApiError ? error : new ApiError('NETWORK', '', 0)))
      }))
    })
  }

  for (const button of Array.from(revealButtons())) {
    button.addEventListener('click', () => { reveal(button, revealed(button).type === 'password') })
  }

  for (const button of Array.from(document.querySelectorAll<HTMLButtonElement>('[data-lang]'))) {
    button.addEventListener('click', () => {
      const next = button.dataset.lang as Lang
      localStorage.setItem(LANG_KEY, next)
      applyLanguage(next)
    })
  }
}

/** The view's "Send a new code" button: asks `path` for a new code for the account the view works on, and says it is sent. */
function wireResend (view: 'reset' | 'confirm', path: string, username: () => string | undefined): void {
  const button = part<HTMLButtonElement>(section(view), '[data-resend]')
  button.addEventListener('click', () => {
    whileBusy(button, call('POST', path, { username: username() }).then(
      () => { setError(view, undefined); go(view, 'reset.resent') },
      (error: unknown) => { setError(view, describe(error instanceof ApiError ? error : new ApiError('NETWORK', '', 0))) }
    ))
  })
}

/** On the account view, asks whether the session still holds; when it has ended, goes back to sign-in and says so. */
async function recheckSession (): Promise<void> {
  if (state.current !== 'account' || state.user === undefined) return
  try {
    await call<User>('GET', '/auth/me')
  } catch (error) {
    if (!(error instanceof ApiError) || error.code !== 'UNAUTHENTICATED' || state.current !== 'account') return
    sessionEnded()
  }
}

/**
 * Signs out (everywhere, with `global`); answers true, having done nothing, when "everywhere" was asked of a session
 * that had already ended (an idle timeout this tab did not see): the sign-out would answer 204 all the same, and the
 * page would claim to have ended the sessions of a user it can no longer name.
 */
async function signOutChecked (global: boolean): Promise<boolean> {
  if (global) {
    const ended = await call<User>('GET', '/auth/me').then(() => false, (error: unknown) => {
      if (error instanceof ApiError && error.code === 'UNAUTHENTICATED') return true
      throw error
    })
    if (ended) return true
  }
  await call('POST', '/auth/sign-out', global ? { global: true } : {})
  return false
}

/** The session this tab knew has ended: the account view goes back to sign-in and says so; a step under way is left to finish. */
function sessionEnded (): void {
  state.user = undefined
  if (state.current === 'account') go('sign-in', 'signIn.sessionEnded')
}

/**
 * Another tab signed in or out: this one follows at once. Signed out there: the session this tab knew is gone.
 * Signed in there (or opened signed in, after a hosted login too): the browser's session (its cookie, shared by the
 * tabs) is that one now, which a tab on sign-in, or on the account of another user, shows; a tab in the middle of a
 * step of its own is left to finish it.
 */
async function followOtherTab (message: TabMessage): Promise<void> {
  if (message === 'signed-out') {
    if (state.user !== undefined) sessionEnded()
    return
  }
  const following = (): boolean => state.current === 'sign-in' || state.current === 'account'
  if (!following()) return
  const user = await call<User>('GET', '/auth/me').catch(() => undefined)
  if (user === undefined || !following()) return
  const sameUser = state.current === 'account' && state.user?.sub === user.sub
  state.user = user
  if (!sameUser) go('account')
}

async function start (): Promise<void> {
  applyLanguage(initialLanguage())
  wireForms()
  const [config, areas, user] = await Promise.all([
    call<PublicConfig>('GET', '/auth/config').catch(() => undefined),
    call<{ areas: Area[] }>('GET', '/areas.json').catch(() => ({ areas: [] })),
    call<User>('GET', '/auth/me').catch(() => undefined)
  ])
  state.areas = areas.areas
  state.user = user
  const hostedUi = config?.hostedUi ?? null
  state.hostedLogin = hostedUi !== null
  const signedOutNotice = sessionStorage.getItem(SIGNED_OUT_NOTICE_KEY)
  sessionStorage.removeItem(SIGNED_OUT_NOTICE_KEY)
  if (signedOutNotice !== null && user === undefined) state.notice = { view: 'sign-in', key: signedOutNotice }
  state.resetUsername = sessionStorage.getItem(RESET_USERNAME_KEY) ?? undefined
  if (hostedUi !== null) {
    const link = part<HTMLAnchorElement>(document, '[data-hosted-link]')
    const url = new URL(hostedUi.loginUrl, location.href)
    url.searchParams.set('returnTo', '/')
    link.href = url.toString()
    // Someone signs in through the pool: the page it comes back to must not bring the reset back (as afterSignIn).
    link.addEventListener('click', forgetReset)
    part(document, '[data-hosted]').hidden = false
  }
  part(document, '[data-local-hint]').hidden = config?.mode !== 'local'
  part(document, '#loading').hidden = true
  window.addEventListener('hashchange', () => { route(true) })
  // A tab the user comes back to checks that its session still holds: another tab, an administrator or a password
  // reset may have ended it meanwhile.
  document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'visible') void recheckSession() })
  window.addEventListener('focus', () => { void recheckSession() })
  tabs?.addEventListener('message', (event) => { void followOtherTab(event.data as TabMessage) })
  // Opened signed in (a hosted login comes back here): the browser's other tabs show it too.
  if (user !== undefined) tabs?.postMessage('signed-in' satisfies TabMessage)
  route(true)
  // Says the pages are up (and in which language): browser tests and monitors wait for it.
  document.body.dataset.ready = lang()
}

void start()
