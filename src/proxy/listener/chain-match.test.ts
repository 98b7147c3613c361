import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Errors } from '../config/raw.ts';
import { compileChainMatch, ipValue, matchChain, type ChainMatch, type ConnectionFacts } from './chain-match.ts';

function chain(name: string, m: Record<string, unknown>): { name: string; match: ChainMatch } {
  const errors = new Errors();
  const match = compileChainMatch(m, 'filter_chain_match', errors);
  assert.deepEqual(errors.list, []);
  return { name, match };
}

const facts = (f: Partial<ConnectionFacts>): ConnectionFacts => ({ port: 443, address: '10.0.0.1', sni: undefined, transport: 'raw_buffer', alpn: [], sourceAddress: '192.168.1.9', sourcePort: 40000, ...f });

test('server names: exact beats the longest wildcard, which beats a shorter one, which beats no server_names', () => {
  const chains = [
    chain('any', {}),
    chain('wild-short', { server_names: ['*.com'] }),
    chain('wild', { server_names: ['*.example.com'] }),
    chain('exact', { server_names: ['A.Example.com'] }),
  ];
  const pick = (sni: string | undefined): string | undefined => matchChain(chains, facts({ sni, transport: 'tls' }))?.name;
  assert.equal(pick('a.example.com'), 'exact');
  assert.equal(pick('b.example.com'), 'wild');
  assert.equal(pick('x.b.example.com'), 'wild');
  assert.equal(pick('example.com'), 'wild-short');
  assert.equal(pick('other.org'), 'any');
  assert.equal(pick(undefined), 'any');
});

test('no backtracking: a destination port match that fails later steps does not fall back to the port-less chains', () => {
  const chains = [chain('port-any-tls', { destination_port: 443, transport_protocol: 'tls' }), chain('portless', {})];
  assert.equal(matchChain(chains, facts({ transport: 'raw_buffer' })), undefined);
  assert.equal(matchChain(chains, facts({ transport: 'tls' }))?.name, 'port-any-tls');
  assert.equal(matchChain(chains, facts({ port: 80 }))?.name, 'portless');
});

test('destination IP: longest prefix wins, IPv4-mapped IPv6 counts as IPv4; transport and ALPN narrow in order', () => {
  const chains = [
    chain('wide', { prefix_ranges: [{ address_prefix: '10.0.0.0', prefix_len: { value: 8 } }] }),
    chain('narrow', { prefix_ranges: [{ address_prefix: '10.0.0.0', prefix_len: { value: 24 } }] }),
    chain('v6', { prefix_ranges: [{ address_prefix: '2001:db8::', prefix_len: { value: 32 } }] }),
    chain('rest', {}),
  ];
  assert.equal(matchChain(chains, facts({ address: '10.0.0.7' }))?.name, 'narrow');
  assert.equal(matchChain(chains, facts({ address: '::ffff:10.9.0.7' }))?.name, 'wide');
  assert.equal(matchChain(chains, facts({ address: '2001:db8:1::5' }))?.name, 'v6');
  assert.equal(matchChain(chains, facts({ address: '172.16.0.1' }))?.name, 'rest');
  const alpn = [chain('h2', { transport_protocol: 'tls', application_protocols: ['h2'] }), chain('tls', { transport_protocol: 'tls' }), chain('plain', { transport_protocol: 'raw_buffer' })];
  assert.equal(matchChain(alpn, facts({ transport: 'tls', alpn: ['h2', 'http/1.1'] }))?.name, 'h2');
  assert.equal(matchChain(alpn, facts({ transport: 'tls', alpn: ['http/1.1'] }))?.name, 'tls');
  assert.equal(matchChain(alpn, facts({}))?.name, 'plain');
});

test('source prefix and port are the last steps', () => {
  const chains = [chain('lan', { source_prefix_ranges: [{ address_prefix: '192.168.0.0', prefix_len: { value: 16 } }], source_ports: [40000] }), chain('all', {})];
  assert.equal(matchChain(chains, facts({}))?.name, 'lan');
  assert.equal(matchChain(chains, facts({ sourcePort: 1 })), undefined);
  assert.equal(matchChain(chains, facts({ sourceAddress: '8.8.8.8' }))?.name, 'all');
});

test('ipValue: IPv6 forms agree (compressed, full, embedded IPv4)', () => {
  assert.equal(ipValue('2001:db8::1')?.value, ipValue('2001:0db8:0000:0000:0000:0000:0000:0001')?.value);
  assert.equal(ipValue('::1')?.value, 1n);
  assert.equal(ipValue('::ffff:1.2.3.4')?.bits, 32);
  assert.equal(ipValue('nonsense'), undefined);
});

test('property: the chosen chain always satisfies every field it names', () => {
  const arbChain = fc.record({
    destination_port: fc.option(fc.constantFrom(80, 443), { nil: undefined }),
    server_names: fc.option(fc.subarray(['a.example.com', '*.example.com', 'b.test']), { nil: undefined }),
    transport_protocol: fc.option(fc.constantFrom('tls', 'raw_buffer'), { nil: undefined }),
  });
  fc.assert(
    fc.property(fc.array(arbChain, { minLength: 1, maxLength: 6 }), fc.constantFrom(80, 443), fc.option(fc.constantFrom('a.example.com', 'c.example.com', 'b.test'), { nil: undefined }), fc.boolean(), (raws, port, sni, isTls) => {
      const chains = raws.map((r, i) => chain(String(i), Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined))));
      const f = facts({ port, sni, transport: isTls ? 'tls' : 'raw_buffer' });
      const c = matchChain(chains, f);
      if (!c) return;
      const m = c.match;
      assert.ok(m.destinationPort === undefined || m.destinationPort === port);
      assert.ok(m.transportProtocol === undefined || m.transportProtocol === f.transport);
      assert.ok(m.serverNames.length === 0 || (sni !== undefined && m.serverNames.some((n) => n === sni || (n.startsWith('*.') && sni.endsWith(n.slice(1))))));
    }),
    { numRuns: 300 },
  );
});
