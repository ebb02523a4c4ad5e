import { passwordProblem } from '@common/auth/password-policy';
import { generatePassword } from './password';

describe('generatePassword', () => {
  it('makes passwords that meet the password policy (the first admin’s is one)', () => {
    for (let i = 0; i < 50; i++) expect(passwordProblem(generatePassword(), ['admin'])).toBeNull();
  });
});
