import { describe, expect, it } from 'vitest';
import { bindParameters, describePostgresUrl, PostgresUrlError, rewriteParameters, SqlParameterError } from './postgres';

// Pure logic of the PostgreSQL driver (no server): placeholder rewriting, binding, URL redaction.
// postgres.int-spec.ts runs the same rewriting against a real server.

describe('rewriteParameters', () => {
  it.each([
    ['positional in order', 'SELECT * FROM t WHERE a = ? AND b = ?', 'SELECT * FROM t WHERE a = $1 AND b = $2', 'positional', 2],
    ['named, a name used twice is one $n', 'UPDATE t SET a = @a WHERE id = @id OR a = @a', 'UPDATE t SET a = $1 WHERE id = $2 OR a = $1', 'named', 2],
    ['no placeholders', 'SELECT 1', 'SELECT 1', 'none', 0],
    ["'?' and '@x' inside a string literal", "SELECT '?', 'it''s @x?', ? FROM t", "SELECT '?', 'it''s @x?', $1 FROM t", 'positional', 1],
    ["E'' string with an escaped quote", "SELECT E'a\\'?', ?", "SELECT E'a\\'?', $1", 'positional', 1],
    ['quoted identifier with ? and a doubled quote', 'SELECT "we""ird?" FROM t WHERE x = ?', 'SELECT "we""ird?" FROM t WHERE x = $1', 'positional', 1],
    ['line and block comments', 'SELECT ? -- why? @no\n/* nested /* ? */ @no */ + @', 'SELECT $1 -- why? @no\n/* nested /* ? */ @no */ + @', 'positional', 1],
    ['dollar-quoted body', 'SELECT $body$ ? @x $body$, $$?$$, @y', 'SELECT $body$ ? @x $body$, $$?$$, $1', 'named', 1],
    ['a cast after a named parameter', 'SELECT @n::bigint', 'SELECT $1::bigint', 'named', 1],
    ['@@ is an operator, not a parameter', 'SELECT a @@ b, @c', 'SELECT a @@ b, $1', 'named', 1],
  ])('%s', (_label, sql, text, kind, count) => {
    const rewritten = rewriteParameters(sql);
    expect(rewritten.text).toBe(text);
    expect(rewritten.kind).toBe(kind);
    expect(rewritten.count).toBe(count);
  });

  it('keeps the names in $n order', () => {
    expect(rewriteParameters('SELECT @b, @a, @b').names).toEqual(['b', 'a']);
  });

  it.each([
    ['? then @name', 'SELECT ?, @a', /either \? or @name/],
    ['@name then ?', 'SELECT @a, ?', /either \? or @name/],
    ['$n written by hand', 'SELECT $1', /not \$n/],
    ['an unterminated string', "SELECT 'abc", /unterminated string literal/],
    ['an unterminated comment', 'SELECT /* abc', /unterminated block comment/],
  ])('refuses %s', (_label, sql, message) => {
    expect(() => rewriteParameters(sql)).toThrow(SqlParameterError);
    expect(() => rewriteParameters(sql)).toThrow(message);
  });
});

describe('bindParameters', () => {
  it('binds positional values in order and named values by name', () => {
    expect(bindParameters(rewriteParameters('SELECT ?, ?'), ['a', 2])).toEqual(['a', 2]);
    expect(bindParameters(rewriteParameters('SELECT @b, @a, @b'), { a: 1, b: null, extra: 'ignored' })).toEqual([null, 1]);
    expect(bindParameters(rewriteParameters('SELECT 1'), undefined)).toEqual([]);
  });

  it.each([
    ['too few positional values', 'SELECT ?, ?', ['a'], /2 \? parameters but 1 values/],
    ['too many positional values', 'SELECT ?', ['a', 'b'], /1 \? parameters but 2 values/],
    ['an object for ? parameters', 'SELECT ?', { a: 1 }, /pass an array of 1 values/],
    ['an array for @name parameters', 'SELECT @a', [1], /pass an object with @a/],
    ['a missing named value', 'SELECT @a, @b', { a: 1 }, /@b has no value/],
    ['values for a statement without parameters', 'SELECT 1', [1], /without parameters/],
  ])('refuses %s', (_label, sql, params, message) => {
    expect(() => bindParameters(rewriteParameters(sql), params)).toThrow(SqlParameterError);
    expect(() => bindParameters(rewriteParameters(sql), params)).toThrow(message);
  });
});

describe('describePostgresUrl', () => {
  it('drops the password from the user info and the query', () => {
    expect(describePostgresUrl('postgres://bench:s3cret@db.lab:5433/farm?sslmode=require&password=other')).toBe(
      'postgres://bench@db.lab:5433/farm?sslmode=require',
    );
    expect(describePostgresUrl('postgresql://db.lab/farm')).toBe('postgresql://db.lab/farm');
  });

  it('refuses a URL of another scheme or none, without repeating a password', () => {
    expect(() => describePostgresUrl('mysql://u:pw@h/db')).toThrow(PostgresUrlError);
    expect(() => describePostgresUrl('mysql://u:pw@h/db')).toThrow(/mysql:\/\/ is not a PostgreSQL URL/);
    const messageOf = (url: string) => {
      try {
        describePostgresUrl(url);
      } catch (err) {
        return (err as Error).message;
      }
      return 'accepted';
    };
    expect(messageOf('postgres://u:s3cret@[bad/db')).toMatch(/^not a URL: postgres:\/\/u:\*\*\*@\[bad\/db/);
    expect(messageOf('u:s3cret@h/db')).toMatch(/^u:\/\/ is not a PostgreSQL URL/);
    expect(messageOf('postgres://u:s3cret@[bad/db')).not.toContain('s3cret');
    expect(messageOf('u:s3cret@h/db')).not.toContain('s3cret');
  });
});
