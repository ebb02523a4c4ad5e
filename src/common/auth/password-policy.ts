import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import * as common from '@zxcvbn-ts/language-common';
import { registerDecorator, ValidationArguments, ValidationOptions } from 'class-validator';

/** Length bounds of every password DLS stores (API and DLS_ADMIN_PASSWORD alike). */
export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 256;
/**
 * Lowest accepted zxcvbn score (0–4). 3 = "safely unguessable": ~10^8 guesses or more, which with argon2id and the
 * login throttle is out of reach online and costly offline.
 */
export const PASSWORD_MIN_SCORE = 3;
/** zxcvbn's cost grows with length; a prefix this long that scores well makes the whole password score well. */
const ESTIMATED_CHARS = 64;
/** Words of this product that make a password guessable for anyone who knows where it is used. */
const PRODUCT_WORDS = ['dls', 'diskless', 'admin', 'administrator', 'pxe', 'ipxe', 'iscsi'];

/** zxcvbn's warning keys, said in plain words. */
const WARNINGS: Record<string, string> = {
  straightRow: 'it is a row of keys',
  keyPattern: 'it is a short keyboard pattern',
  simpleRepeat: 'it repeats characters ("aaa")',
  extendedRepeat: 'it repeats a pattern ("abcabcabc")',
  sequences: 'it is a sequence ("abc", "6543")',
  recentYears: 'it contains a recent year',
  dates: 'it contains a date',
  topTen: 'it is one of the ten most used passwords',
  topHundred: 'it is one of the hundred most used passwords',
  common: 'it is a commonly used password',
  similarToCommon: 'it is a small variation of a commonly used password',
  wordByItself: 'it is a single word',
  namesByThemselves: 'it is a name',
  commonNames: 'it is a common name',
  userInputs: 'it contains the username or the product name',
  pwned: 'it appeared in a data breach',
};

let estimator: ZxcvbnFactory | undefined;
/** Built on first use: loading the common-password dictionaries takes ~150 ms. */
const zxcvbn = () => (estimator ??= new ZxcvbnFactory({ dictionary: { ...common.dictionary }, graphs: common.adjacencyGraphs }));

/**
 * Why `password` is not acceptable, as a phrase to put after the field name ("is too easy to guess: …"), or null
 * when it is: 8–256 characters and a zxcvbn score of at least 3 against the common-password list, keyboard
 * patterns, repeats, sequences and dates, and the given user inputs (the username) plus the product's own words.
 */
export function passwordProblem(password: string, userInputs: string[] = []): string | null {
  if (password.length < PASSWORD_MIN_LENGTH) return `must be at least ${PASSWORD_MIN_LENGTH} characters`;
  if (password.length > PASSWORD_MAX_LENGTH) return `must be at most ${PASSWORD_MAX_LENGTH} characters`;
  const r = zxcvbn().check(password.slice(0, ESTIMATED_CHARS), [...userInputs.filter(Boolean), ...PRODUCT_WORDS]);
  if (r.score >= PASSWORD_MIN_SCORE) return null;
  const why = r.feedback.warning ? WARNINGS[r.feedback.warning] : undefined;
  return `is too easy to guess${why ? ` (${why})` : ''}: use a longer passphrase of unrelated words, or a generated password`;
}

/**
 * class-validator rule: the password passes `passwordProblem` (strength only — pair it with `@Length` for the
 * bounds). A sibling `username` property, when the DTO has one, counts as a user input.
 */
export function IsStrongEnoughPassword(options?: ValidationOptions): PropertyDecorator {
  const inputsOf = (args: ValidationArguments) => {
    const username = (args.object as { username?: unknown }).username;
    return typeof username === 'string' ? [username] : [];
  };
  return (target: object, propertyName: string | symbol) => {
    registerDecorator({
      name: 'isStrongEnoughPassword',
      target: target.constructor,
      propertyName: propertyName as string,
      options,
      validator: {
        validate(value: unknown, args: ValidationArguments) {
          if (typeof value !== 'string' || value.length < PASSWORD_MIN_LENGTH || value.length > PASSWORD_MAX_LENGTH) return true;
          return passwordProblem(value, inputsOf(args)) === null;
        },
        defaultMessage(args: ValidationArguments) {
          return `${args.property} ${passwordProblem(String(args.value), inputsOf(args)) ?? 'is too easy to guess'}`;
        },
      },
    });
  };
}
