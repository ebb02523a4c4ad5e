import { validate } from 'class-validator';
import { IsStrongEnoughPassword, passwordProblem } from './password-policy';

describe('password policy', () => {
  it.each(['12345678', 'password', '        ', 'qwertyuiop', 'Password1', 'password-1', 'aaaaaaaaaaaa', 'abcdefghij', '2024-01-01'])(
    'refuses %j as too easy to guess, saying why',
    (weak) => {
      expect(passwordProblem(weak)).toMatch(/^is too easy to guess \(it .+\): use a longer passphrase/);
    },
  );

  it('refuses a password built on the username or the product', () => {
    expect(passwordProblem('jsmith2024', ['jsmith'])).toMatch(/too easy to guess/);
    expect(passwordProblem('dlsadmin1')).toMatch(/too easy to guess/);
  });

  it('enforces the length bounds', () => {
    expect(passwordProblem('x7#Qa9')).toBe('must be at least 8 characters');
    expect(passwordProblem('k9#Lm2$pQ'.repeat(29))).toBe('must be at most 256 characters');
  });

  it.each(['correct horse battery staple', 'Tr0ub4dor&3', 'an-entirely-new-passphrase', 'vX9_qL2-mT7w', 'k9#Lm2$pQ'.repeat(28)])(
    'accepts %j',
    (good) => {
      expect(passwordProblem(good)).toBeNull();
    },
  );

  it('as a class-validator rule, names the field and counts a sibling username', async () => {
    class Dto {
      username = 'jsmith';
      @IsStrongEnoughPassword()
      password = 'jsmith2024';
    }
    const errors = await validate(Object.assign(new Dto(), {}));
    expect(errors.map((e) => Object.values(e.constraints ?? {}))).toEqual([[expect.stringMatching(/^password is too easy to guess/)]]);
    expect(await validate(Object.assign(new Dto(), { password: 'correct horse battery staple' }))).toEqual([]);
  });
});
