import { BRANCH_NAME, ownerAndRepo, repoUrlProblem } from './repo-url';

describe('repoUrlProblem', () => {
  it.each([
    'https://github.com/acme/widgets.git',
    'https://github.com/acme/widgets',
    'https://git.example.com:8443/group/sub/repo.git',
    'https://user@bitbucket.org/acme/widgets.git',
    'ssh://git@github.com/acme/widgets.git',
    'ssh://git@git.example.com:2222/acme/widgets.git',
    'git@github.com:acme/widgets.git',
    'deploy.bot@gitlab.example.com:group/widgets.git',
  ])('accepts %s with or without local repositories allowed', (url) => {
    expect(repoUrlProblem(url, false)).toBeNull();
    expect(repoUrlProblem(url, true)).toBeNull();
  });

  it.each(['/srv/git/widgets.git', '/tmp/repo', 'file:///srv/git/widgets.git', 'file:///tmp/r'])(
    'accepts the local repository %s only when ALLOW_LOCAL_REPOS=true',
    (url) => {
      expect(repoUrlProblem(url, true)).toBeNull();
      expect(repoUrlProblem(url, false)).toBe(
        'repoUrl: local paths and file:// need ALLOW_LOCAL_REPOS=true',
      );
    },
  );

  it.each([
    ['ftp', 'ftp://example.com/widgets.git'],
    ['the git protocol', 'git://github.com/acme/widgets.git'],
    ['a host without a path', 'https://github.com'],
    ['a host with an empty path', 'https://github.com/'],
    ['an ssh host without a path', 'ssh://git@github.com/'],
    ['a relative path', 'repos/widgets'],
    ['a dot-relative path', './widgets'],
    ['a parent-relative path', '../widgets'],
    ["git's ext:: transport", 'ext::ssh-proxy%20example.com'],
    ["git's fd:: transport", 'fd::3'],
    ['scp-like syntax with an absolute path', 'git@github.com:/etc/passwd'],
    ['scp-like syntax without a user', 'github.com:acme/widgets.git'],
    ['a bare word', 'widgets'],
    ['the empty string', ''],
  ])('refuses %s, even with local repositories allowed', (_label, url) => {
    const message = 'repoUrl must be an https or ssh git URL';
    expect(repoUrlProblem(url, true)).toBe(message);
    expect(repoUrlProblem(url, false)).toBe(message);
  });

  it('accepts a plain http:// URL only when ALLOW_LOCAL_REPOS=true', () => {
    const url = 'http://127.0.0.1:8080/acme/widgets.git';
    expect(repoUrlProblem(url, true)).toBeNull();
    expect(repoUrlProblem(url, false)).toBe('repoUrl: plain http:// needs ALLOW_LOCAL_REPOS=true');
    expect(repoUrlProblem('http://github.com', true)).toBe(
      'repoUrl must be an https or ssh git URL',
    );
  });

  it.each(['-uhttps://x/y', '--upload-pack=touch /tmp/pwned', '-'])(
    'refuses %s, which git would read as an option',
    (url) => {
      expect(repoUrlProblem(url, true)).toBe('repoUrl must not start with "-"');
      expect(repoUrlProblem(url, false)).toBe('repoUrl must not start with "-"');
    },
  );

  it.each([
    ['a space', 'https://github.com/acme/wid gets.git'],
    ['a tab', 'https://github.com/acme/widgets.git\t'],
    ['a newline', 'https://github.com/acme/widgets.git\n--upload-pack=x'],
    ['a leading space', ' https://github.com/acme/widgets.git'],
    ['a NUL byte', 'https://github.com/acme/widgets.git\0'],
    ['a space in a local path', '/tmp/my repo'],
  ])('refuses a URL with %s', (_label, url) => {
    expect(repoUrlProblem(url, true)).toBe('repoUrl must not contain whitespace');
  });
});

describe('BRANCH_NAME', () => {
  it.each(['main', 'master', 'develop', 'release/1.2', 'feature/JIRA-12_x', 'v1.0.0', 'a'])(
    'accepts %s',
    (name) => expect(BRANCH_NAME.test(name)).toBe(true),
  );

  it.each([
    ['a leading dash', '-main'],
    ['two dots', 'a..b'],
    ['a double slash', 'a//b'],
    ['@{', 'a@{1}'],
    ['.lock at the end', 'main.lock'],
    ['a leading slash', '/main'],
    ['a trailing slash', 'main/'],
    ['a space', 'my branch'],
    ['a tilde', 'main~1'],
    ['a caret', 'main^'],
    ['a colon', 'a:b'],
    ['a backslash', 'a\\b'],
    ['the empty string', ''],
    ['more than 200 characters', 'b'.repeat(201)],
  ])('refuses a name with %s', (_label, name) => {
    expect(BRANCH_NAME.test(name)).toBe(false);
  });
});

describe('ownerAndRepo', () => {
  it.each([
    ['https://github.com/acme/widgets.git', 'acme', 'widgets'],
    ['https://github.com/acme/widgets', 'acme', 'widgets'],
    ['https://ghe.example.com/acme/widgets.git/', 'acme', 'widgets'],
    ['http://127.0.0.1:9000/acme/widgets.git', 'acme', 'widgets'],
    ['ssh://git@github.com/acme/widgets.git', 'acme', 'widgets'],
    ['git@github.com:acme/widgets.git', 'acme', 'widgets'],
    ['https://github.com/acme/my.repo-1', 'acme', 'my.repo-1'],
  ])('reads %s as %s/%s', (url, owner, repo) => {
    expect(ownerAndRepo(url)).toEqual({ owner, repo });
  });

  it.each(['/srv/git/widgets.git', 'file:///srv/acme/widgets.git', 'https://github.com/widgets'])(
    'finds no owner and repository in %s',
    (url) => expect(ownerAndRepo(url)).toBeNull(),
  );
});
