// Checks a new password against the user pool's password policy before Cognito sees it, naming each unmet rule.
import type { PasswordPolicyType } from '@aws-sdk/client-cognito-identity-provider'
import { AppError } from '../errors.js'

/**
 * The rule names an INVALID_PASSWORD answer may carry in `rules`:
 * - `MINIMUM_LENGTH`: fewer characters (Unicode code points) than the pool's minimum length;
 * - `REQUIRE_UPPERCASE` / `REQUIRE_LOWERCASE`: no Basic Latin upper- / lowercase letter (A-Z / a-z);
 * - `REQUIRE_NUMBERS`: no digit 0-9;
 * - `REQUIRE_SYMBOLS`: none of Cognito's special characters ^ $ * . [ ] { } ( ) ? " ! @ # % & / \ , > < ' : ; | _ ~ ` = + -
 *   (a space counts too, except at either end);
 * - `PASSWORD_HISTORY`: Cognito refused one of the user's recent passwords (the pool's password history);
 * - `POOL_POLICY`: every rule above was met, yet Cognito refused the password for a reason it does not name.
 */
export const PASSWORD_RULES = ['MINIMUM_LENGTH', 'REQUIRE_UPPERCASE', 'REQUIRE_LOWERCASE', 'REQUIRE_NUMBERS', 'REQUIRE_SYMBOLS', 'PASSWORD_HISTORY', 'POOL_POLICY'] as const
export type PasswordRule = (typeof PASSWORD_RULES)[number]

const SYMBOLS = /[\^$*.[\]{}()?"!@#%&/\\,><':;|_~`=+-]/

/** The rules of `policy` that `password` does not meet, in the order of {@link PASSWORD_RULES}. */
export function unmetRules (policy: PasswordPolicyType, password: string): PasswordRule[] {
  const unmet: PasswordRule[] = []
  if ([...password].length < (policy.MinimumLength ?? 0)) unmet.push('MINIMUM_LENGTH')
  if (policy.RequireUppercase === true && !/[A-Z]/.test(password)) unmet.push('REQUIRE_UPPERCASE')
  if (policy.RequireLowercase === true && !/[a-z]/.test(password)) unmet.push('REQUIRE_LOWERCASE')
  if (policy.RequireNumbers === true && !/[0-9]/.test(password)) unmet.push('REQUIRE_NUMBERS')
  if (policy.RequireSymbols === true && !SYMBOLS.test(password) && !/ /.test(password.replace(/^ +| +$/g, ''))) unmet.push('REQUIRE_SYMBOLS')
  return unmet
}

/** The contract's 400 INVALID_PASSWORD naming `rules`. */
export function invalidPassword (rules: readonly PasswordRule[]): AppError {
  return new AppError('INVALID_PASSWORD', undefined, { rules: [...rules] })
}
