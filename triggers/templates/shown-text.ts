// What a value someone else may have written (a name, a device) must not hold to be shown in an email: hidden characters, line breaks, links or addresses.

/** Controls, format characters (bidi overrides, zero-width), lone surrogates, private use, unassigned, line and paragraph separators. */
export const HIDDEN_OR_BREAK = /[\p{C}\p{Zl}\p{Zp}]/u

/**
 * A scheme, `www.`, an `@`, or a dot followed by two letters (`evil.example`, `ví-dụ.vn`; initials such as `J.R.` pass);
 * checked on the NFKC form.
 */
const LINK_OR_ADDRESS = /:\/\/|www\.|@|[\p{L}\p{N}-][.\u3002]\p{L}{2}/iu

/**
 * `text` as a filter judges it: its NFKC form (fullwidth look-alikes such as `＠` and `．` count as what they look like)
 * without anything invisible or combining (joiners, soft hyphens, variation selectors, combining marks), so that none of
 * it can split a link or an address apart.
 */
export function plainForm (text: string): string {
  return text.normalize('NFKC').replace(/[\p{Default_Ignorable_Code_Point}\p{M}]/gu, '')
}

/** Whether `text` reads as a link or an address (see {@link plainForm}). */
export function readsAsLinkOrAddress (text: string): boolean {
  return LINK_OR_ADDRESS.test(plainForm(text))
}
