import jwt from 'jsonwebtoken';
import { InvalidTokenError, JwtService } from './jwt.service';

const SECRET = 'a-test-secret-of-enough-length';

describe('JwtService verified-token cache', () => {
  it('answers a token seen before without checking it again, until it expires', () => {
    const service = new JwtService({ jwtSecret: SECRET });
    const token = service.sign({ id: 'alice', roles: ['admin'] }, 60);
    const verify = jest.spyOn(jwt, 'verify');
    const now = Date.now();
    expect(service.verify(token, now)).toEqual({ id: 'alice', roles: ['admin'] });
    expect(service.verify(token, now + 1000)).toEqual({ id: 'alice', roles: ['admin'] });
    expect(verify).toHaveBeenCalledTimes(1);
    expect(() => service.verify(token, now + 61_000)).toThrow(
      new InvalidTokenError('token expired'),
    );
    verify.mockRestore();
  });

  it('does not remember refused tokens', () => {
    const service = new JwtService({ jwtSecret: SECRET });
    const forged = new JwtService({ jwtSecret: 'another-secret-of-enough-length' }).sign({
      id: 'mallory',
      roles: ['admin'],
    });
    expect(() => service.verify(forged)).toThrow(new InvalidTokenError('token is invalid'));
    expect(() => service.verify(forged)).toThrow(new InvalidTokenError('token is invalid'));
  });

  it('hands out a user nobody can change for the next request', () => {
    const service = new JwtService({ jwtSecret: SECRET });
    const token = service.sign({ id: 'bob', roles: [] });
    const user = service.verify(token);
    expect(() => user.roles.push('admin')).toThrow(TypeError);
    expect(service.verify(token).roles).toEqual([]);
  });
});
