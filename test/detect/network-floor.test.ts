// block_client's floor, on pgwarden's side (the SQL function pgwarden.response_network_too_wide
// refuses the same; test/detect/responses-review.test.ts drives both on real servers).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { networkTooWide } from '../../src/detect/responses.ts';

describe('networkTooWide', () => {
  it('refuses networks that block nearly everyone', () => {
    for (const network of ['0.0.0.0/0', '10.0.0.0/7', '::/0', '::/1', '2001::/15', '::ffff:0:0/96', '::/96', '::/64', '::/16']) {
      assert.notEqual(networkTooWide(network), null, network);
    }
  });
  it('accepts the networks the config can ask for (IPv4 /8 .. /32, IPv6 /16 .. /128 outside ::/96)', () => {
    for (const network of ['10.0.0.0/8', '203.0.113.7', '203.0.113.0/24', '2001:db8::/16', '2001:db8::1', '::1', '::ffff:10.0.0.0/104', '::ffff:203.0.113.7/128']) {
      assert.equal(networkTooWide(network), null, network);
    }
  });
});
