import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { readBody } from '../../src/graphql/http.js';
import { track } from '../helpers/deferred.js';

/** A node:http request with no socket behind it, fed by the test. */
function request(): IncomingMessage {
  return new IncomingMessage(new Socket());
}

describe('readBody (the front door reading a node:http body)', () => {
  it('resolves the whole body once it has arrived', async () => {
    const req = request();
    const body = track(readBody(req));
    req.push('{"query":');
    req.push('"{ a }"}');
    await Promise.resolve();
    expect(body.settled).toBe(false);
    req.complete = true;
    req.push(null);
    await expect(body.promise).resolves.toBe('{"query":"{ a }"}');
  });

  it('rejects when the client goes away before its body is complete, so the request is not left hanging', async () => {
    const req = request();
    const body = readBody(req);
    req.push('{"query"');
    req.destroy();
    await expect(body).rejects.toThrow('the client closed the request before its body arrived');
  });
});
